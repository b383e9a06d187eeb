// Types for the parts of the `xen-api` package (ESM, untyped) that Lifeboat uses. Kept narrow on purpose:
// everything else goes through the typed wrapper in xapi-client.ts.
declare module 'xen-api' {
  import type { EventEmitter } from 'node:events'
  import type { Agent as HttpsAgent } from 'node:https'
  import type { Dispatcher } from 'undici'

  export interface XapiOptions {
    url: string
    auth: { user: string; password: string }
    allowUnauthorized?: boolean
    watchEvents?: boolean | string[]
    /** Milliseconds, per method (a function of the method and its arguments, or a map with '*'). */
    callTimeout?: number | ((method: string, args: unknown[]) => number) | Record<string, number>
    httpInactivityTimeout?: number
    readOnly?: boolean
    transport?: 'auto' | 'json-rpc' | 'xml-rpc'
  }

  export class Xapi extends EventEmitter {
    constructor(options: XapiOptions)
    readonly status: 'connected' | 'connecting' | 'disconnected'
    readonly sessionId: string | undefined
    connect(): Promise<void>
    disconnect(): Promise<void>
    call(method: string, ...args: unknown[]): Promise<unknown>
    /** Internal hooks Lifeboat overrides to pin the TLS certificate (see pinned-tls.ts). */
    protected _undiciDispatcher: Dispatcher
    protected _httpAgent: HttpsAgent | undefined
    protected _setUrl(url: unknown): void
  }
}
