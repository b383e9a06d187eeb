import type { ParseArgsConfig } from 'node:util'
import type { Engine } from '../engine'
import type { CliIo } from './cli-io'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

export interface CommandContext {
  readonly io: CliIo
  readonly values: Readonly<Record<string, string | boolean | string[] | boolean[] | undefined>>
  readonly positionals: readonly string[]
  readonly signal: AbortSignal
  /** Opens the engine on $LIFEBOAT_HOME (or --home) on first use. */
  engine(): Promise<Engine>
}

export interface Command {
  /** Words that select it, e.g. ['host', 'add']. */
  readonly path: readonly string[]
  readonly usage: string
  readonly summary: string
  readonly options: OptionSpec
  readonly positionals?: { readonly min: number; readonly max: number }
  run(ctx: CommandContext): Promise<number>
}

export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name]
  return typeof v === 'string' ? v : undefined
}

export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true
}
