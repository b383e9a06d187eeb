import { channels, isChannelName, type ChannelName } from './contract'
import { ApiError, type Envelope } from './contract-errors'
import type { CallContext, HandlerMap } from './handler-types'
import { fromZod, toApiError } from '../errors/to-api-error'

/**
 * The one entry point all three doors use: unknown channel → UNKNOWN_CHANNEL, input not matching the schema →
 * INVALID_INPUT (nothing runs), output parsed through the schema (undeclared fields are dropped), any failure →
 * `{ ok: false, error }` with a stable code. Never throws.
 */
export async function dispatch(handlers: HandlerMap, channel: string, rawInput: unknown, ctx: CallContext): Promise<Envelope<unknown>> {
  if (!isChannelName(channel)) {
    return { ok: false, error: new ApiError('UNKNOWN_CHANNEL', `Lifeboat has no API channel "${channel.slice(0, 100)}".`).toJSON() }
  }
  const spec = channels[channel]
  const input = spec.input.safeParse(rawInput ?? {})
  if (!input.success) return { ok: false, error: fromZod(input.error).toJSON() }
  try {
    const handler = handlers[channel] as (input: unknown, ctx: CallContext) => Promise<unknown>
    const value = await handler(input.data, ctx)
    const output = spec.output.safeParse(value)
    if (!output.success) {
      console.error(`Lifeboat: channel ${channel} produced an answer that does not match its contract:`, output.error.issues[0])
      return { ok: false, error: new ApiError('INTERNAL', 'Lifeboat produced an answer it could not check. This is a bug; please report it.').toJSON() }
    }
    return { ok: true, value: output.data }
  } catch (err) {
    return { ok: false, error: toApiError(err).toJSON() }
  }
}

export type { ChannelName }
