import type { ChannelName, Channels, InputOf, OutputOf } from '../api/contract'
import { ApiError } from '../api/contract-errors'
import { dispatch } from '../api/dispatch'
import type { HandlerMap } from '../api/handler-types'

/** The CLI calls the handlers through the same dispatch as the other doors (same validation, same errors). */
export async function call<K extends ChannelName>(
  handlers: HandlerMap,
  channel: K,
  input: InputOf<Channels[K]>,
  signal: AbortSignal,
): Promise<OutputOf<Channels[K]>> {
  const result = await dispatch(handlers, channel, input, { signal })
  if (!result.ok) throw ApiError.from(result.error)
  return result.value as OutputOf<Channels[K]>
}
