import type { Channel, InputOf, OutputOf, PayloadOf, TopicName, Topics } from '../../engine/api/contract'
import { BRIDGE_PATH, BRIDGE_PROTOCOL, CLOSE_LINK_USED, CLOSE_UNAUTHORIZED, ServerMessageSchema } from '../../engine/api/contract-bridge'
import { ApiError } from '../../engine/api/contract-errors'
import type { ApiClient, ConnectionStatus } from './api-client'

interface Pending {
  readonly frame: string
  sent: boolean
  resolve(value: unknown): void
  reject(error: ApiError): void
}

/**
 * The ApiClient over the local WebSocket bridge. Reconnects with backoff when the bridge restarts. Calls made
 * while disconnected wait and go out once connected; calls already sent when the socket dropped fail with
 * CONNECTION_LOST (their outcome is unknown, so they are not silently repeated).
 *
 * The first credential is the one-time link token; the bridge answers it with a session secret for this tab,
 * which is used for every reconnect and handed to `onSession` so that a reload of the tab can use it too.
 */
export class BridgeClient implements ApiClient {
  private socket: WebSocket | undefined
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>()
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>()
  private attempts = 0
  status: ConnectionStatus = 'connecting'

  constructor(
    private readonly wsUrl: string,
    private credential: string,
    private readonly onSession: (session: string) => void = () => undefined,
  ) {
    this.connect()
  }

  static fromLocation(location: Location, credential: string, onSession?: (session: string) => void): BridgeClient {
    const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${BRIDGE_PATH}`
    return new BridgeClient(wsUrl, credential, onSession)
  }

  invoke<C extends Channel>(channel: C, input: InputOf<C>): Promise<OutputOf<C>> {
    const id = this.nextId++
    return new Promise<OutputOf<C>>((resolve, reject) => {
      const entry: Pending = { frame: JSON.stringify({ type: 'invoke', id, channel: channel.name, input }), sent: false, resolve, reject }
      this.pending.set(id, entry)
      if (this.isOpen()) this.transmit(entry)
    })
  }

  subscribe<T extends TopicName>(topic: T, listener: (payload: PayloadOf<Topics[T]>) => void): () => void {
    let set = this.listeners.get(topic)
    if (!set) {
      set = new Set()
      this.listeners.set(topic, set)
      if (this.isOpen()) this.socket?.send(JSON.stringify({ type: 'subscribe', topic }))
    }
    const wrapped = listener as (payload: unknown) => void
    set.add(wrapped)
    return () => {
      set.delete(wrapped)
    }
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener)
    return () => this.statusListeners.delete(listener)
  }

  private isOpen(): boolean {
    return this.status === 'open' && this.socket?.readyState === WebSocket.OPEN
  }

  private transmit(entry: Pending): void {
    entry.sent = true
    this.socket?.send(entry.frame)
  }

  private setStatus(status: ConnectionStatus): void {
    this.status = status
    for (const l of this.statusListeners) l(status)
  }

  private connect(): void {
    const socket = new WebSocket(this.wsUrl, BRIDGE_PROTOCOL)
    this.socket = socket
    socket.addEventListener('open', () => socket.send(JSON.stringify({ type: 'hello', token: this.credential })))
    socket.addEventListener('message', (event: MessageEvent<unknown>) => this.onMessage(event.data))
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return
      for (const [id, p] of this.pending) {
        if (!p.sent) continue
        this.pending.delete(id)
        p.reject(new ApiError('CONNECTION_LOST', 'The connection to Lifeboat was lost while this request ran.'))
      }
      if (event.code === CLOSE_UNAUTHORIZED || event.code === CLOSE_LINK_USED) {
        this.setStatus('unauthorized')
        for (const [, p] of this.pending) p.reject(new ApiError('UNAUTHORIZED', 'Lifeboat refused this page’s access token.'))
        this.pending.clear()
        return
      }
      this.setStatus('reconnecting')
      const delay = Math.min(5000, 250 * 2 ** this.attempts++)
      setTimeout(() => this.connect(), delay)
    })
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return
    let parsed
    try {
      parsed = ServerMessageSchema.safeParse(JSON.parse(data))
    } catch {
      return
    }
    if (!parsed.success) return
    const msg = parsed.data
    switch (msg.type) {
      case 'welcome':
        if (msg.session !== undefined) {
          this.credential = msg.session
          this.onSession(msg.session)
        }
        this.attempts = 0
        this.setStatus('open')
        for (const topic of this.listeners.keys()) this.socket?.send(JSON.stringify({ type: 'subscribe', topic }))
        for (const p of this.pending.values()) if (!p.sent) this.transmit(p)
        return
      case 'result': {
        const p = this.pending.get(msg.id)
        if (!p) return
        this.pending.delete(msg.id)
        if (msg.ok) p.resolve(msg.value)
        else p.reject(ApiError.from(msg.error))
        return
      }
      case 'event':
        for (const l of this.listeners.get(msg.topic) ?? []) l(msg.payload)
        return
      case 'error':
        console.warn('Lifeboat bridge:', msg.error.message)
    }
  }
}
