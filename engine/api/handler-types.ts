import type { ChannelName, Channels, OutputOf, ParsedInputOf } from './contract'

/** Per-call context every door supplies. */
export interface CallContext {
  /** Fires when the caller goes away (socket closed, window gone) or gives up. */
  readonly signal: AbortSignal
}

export type Handler<K extends ChannelName> = (input: ParsedInputOf<Channels[K]>, ctx: CallContext) => Promise<OutputOf<Channels[K]>>

export type HandlerMap = { readonly [K in ChannelName]: Handler<K> }
