import type { Channel, InputOf, OutputOf, PayloadOf, TopicName, Topics } from '../../engine/api/contract'
import { ApiError, type Envelope } from '../../engine/api/contract-errors'
import type { ApiClient, ConnectionStatus } from './api-client'

/** What electron/preload exposes on window.lifeboat (contextBridge). */
export interface PreloadBridge {
  invoke(channel: string, input: unknown): Promise<Envelope<unknown>>
  subscribe(topic: string, listener: (payload: unknown) => void): () => void
}

/** The ApiClient inside the Electron window, over the preload's allowlisted IPC. */
export class IpcClient implements ApiClient {
  readonly status: ConnectionStatus = 'open'

  constructor(private readonly bridge: PreloadBridge) {}

  async invoke<C extends Channel>(channel: C, input: InputOf<C>): Promise<OutputOf<C>> {
    const envelope = await this.bridge.invoke(channel.name, input)
    if (!envelope.ok) throw ApiError.from(envelope.error)
    return envelope.value as OutputOf<C>
  }

  subscribe<T extends TopicName>(topic: T, listener: (payload: PayloadOf<Topics[T]>) => void): () => void {
    return this.bridge.subscribe(topic, listener as (payload: unknown) => void)
  }

  onStatus(): () => void {
    return () => undefined
  }
}
