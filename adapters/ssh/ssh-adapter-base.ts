import { AdapterError, type AdapterOptions } from '../host-adapter'
import { SshConnection } from './ssh-connection'

/**
 * Holds the one reusable SSH connection of an SSH-based adapter (Linux, Hyper-V): opened on first use, reopened
 * after it dropped, closed on dispose. Concurrent callers share a single connect attempt.
 */
export class SshConnectionHolder {
  private connection: SshConnection | undefined
  private connecting: Promise<SshConnection> | undefined

  constructor(private readonly options: AdapterOptions) {}

  async get(signal: AbortSignal): Promise<SshConnection> {
    if (this.connection?.isOpen) return this.connection
    this.connection = undefined
    this.connecting ??= SshConnection.connect(
      {
        host: this.options.endpoint.address,
        port: this.options.endpoint.port,
        username: this.options.endpoint.user,
        secret: this.options.secret,
        ...(this.options.pinnedFingerprint !== undefined ? { pinnedFingerprint: this.options.pinnedFingerprint } : {}),
        ...(this.options.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.options.connectTimeoutMs } : {}),
      },
      signal,
    ).finally(() => {
      this.connecting = undefined
    })
    const conn = await this.connecting
    this.connection = conn
    return conn
  }

  current(): SshConnection | undefined {
    return this.connection?.isOpen ? this.connection : undefined
  }

  async close(): Promise<void> {
    const conn = this.connection
    this.connection = undefined
    await conn?.close()
  }
}

export function requireOpen(conn: SshConnection | undefined): SshConnection {
  if (!conn?.isOpen) throw new AdapterError('CONNECTION_LOST', 'The SSH connection is not open.')
  return conn
}
