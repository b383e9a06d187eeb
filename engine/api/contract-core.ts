import type { z } from 'zod'

/**
 * A channel is declared once, as an object both sides import (the renderer, the three doors and the handlers):
 * its wire name, the zod schema its input must satisfy and the schema its output is parsed through. Parsing the
 * output strips anything not declared, so an internal field (a secret, a file handle) can never leak by accident.
 */
export interface Channel<N extends string = string, I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  readonly name: N
  readonly input: I
  readonly output: O
  /** Plain-words summary, shown in `lifeboat help` and the API docs. */
  readonly summary: string
}

export function defineChannel<N extends string, I extends z.ZodType, O extends z.ZodType>(
  name: N,
  input: I,
  output: O,
  summary: string,
): Channel<N, I, O> {
  return { name, input, output, summary }
}

export interface Topic<N extends string = string, P extends z.ZodType = z.ZodType> {
  readonly name: N
  readonly payload: P
}

export function defineTopic<N extends string, P extends z.ZodType>(name: N, payload: P): Topic<N, P> {
  return { name, payload }
}

/** What a caller passes (defaults not yet applied). */
export type InputOf<C extends Channel> = z.input<C['input']>
/** What a handler receives after parsing. */
export type ParsedInputOf<C extends Channel> = z.output<C['input']>
/** What a handler returns and a caller receives. */
export type OutputOf<C extends Channel> = z.output<C['output']>
export type PayloadOf<T extends Topic> = z.output<T['payload']>
