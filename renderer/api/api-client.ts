import { createContext, useContext } from 'react'
import type { Channel, InputOf, OutputOf, PayloadOf, TopicName, Topics } from '../../engine/api/contract'

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'unauthorized'

/**
 * How the renderer talks to the engine. The same interface is implemented over Electron IPC (preload) and
 * over the local WebSocket bridge (browser mode); features get it from context and never touch `window`.
 * invoke() rejects with ApiError (stable code, params, message).
 */
export interface ApiClient {
  invoke<C extends Channel>(channel: C, input: InputOf<C>): Promise<OutputOf<C>>
  subscribe<T extends TopicName>(topic: T, listener: (payload: PayloadOf<Topics[T]>) => void): () => void
  onStatus(listener: (status: ConnectionStatus) => void): () => void
  readonly status: ConnectionStatus
}

export const ApiContext = createContext<ApiClient | null>(null)

export function useApi(): ApiClient {
  const api = useContext(ApiContext)
  if (!api) throw new Error('ApiContext is missing: render inside <ApiContext.Provider>.')
  return api
}
