import { Socket } from 'node:net'
import type { Channel, Client, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2'
import {
  AdapterError,
  sameFingerprint,
  throwIfAborted,
  type HostSecret,
} from '../host-adapter'
import { sshKeyFingerprint } from './fingerprint'
import type { ShellFragment } from './shell-quote'

export interface SshConnectOptions {
  readonly host: string
  readonly port: number
  readonly username: string
  readonly secret: HostSecret
  /** The fingerprint the admin confirmed; without it the connection stops before authentication. */
  readonly pinnedFingerprint?: string
  readonly connectTimeoutMs?: number
  /** How many exec channels may be open at once (OpenSSH's MaxSessions defaults to 10). */
  readonly maxChannels?: number
}

export interface ExecOptions {
  readonly signal?: AbortSignal
  /** Written to the command's stdin, then stdin is closed. */
  readonly stdin?: string | Buffer
  /** Output beyond this many bytes (stdout + stderr) fails the command instead of filling memory. */
  readonly maxOutputBytes?: number
  readonly timeoutMs?: number
}

export interface ExecResult {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024

export interface ExecStreamResult {
  readonly code: number | null
  readonly signal: string | null
  readonly stderr: string
}

export interface ExecStream {
  readonly stdout: AsyncIterable<Buffer>
  /** Settles when the command has exited (rejects if the stream failed or was cancelled). */
  readonly done: Promise<ExecStreamResult>
}

/** A command spoken to through its stdin/stdout (see SshConnection.execDuplex). */
export interface DuplexExec {
  readonly channel: ClientChannel
  /** Settles (never rejects) when the channel has closed, with the exit status when the server sent one. */
  readonly exited: Promise<ExecStreamResult>
  /** Kills the remote command and closes the channel. */
  kill(): void
  /** What the command printed on stderr so far (bounded). */
  stderr(): string
}

/** An exec channel with its exit status captured from the moment it opened. */
export interface OpenedChannel {
  readonly channel: ClientChannel
  exit: { done: boolean; code: number | null; signal: string | null }
  onExit(listener: () => void): void
}

/**
 * What a second transport to the same host needs to be exactly as trustworthy as this connection: the host key
 * this connection verified against the pinned fingerprint, and the key login. Only key logins without a
 * passphrase qualify (see openssh-stream.ts).
 */
export interface PinnedKeyLogin {
  readonly host: string
  readonly port: number
  readonly username: string
  readonly privateKey: string
  /** The raw host key blob the server presented and that matched the pinned fingerprint. */
  readonly hostKey: Buffer
  readonly hostKeyType: string
  readonly pinnedFingerprint: string
  /** The cipher this connection negotiated (the second transport prefers the same). */
  readonly cipher: string | undefined
}

/**
 * One verified, authenticated SSH connection, shared by every command for a host. Host-key pinning happens in
 * the handshake, before any credential is sent.
 */
export class SshConnection implements AsyncDisposable {
  private closed = false
  private active = 0
  private readonly waiters: (() => void)[] = []
  private readonly openChannels = new Set<ClientChannel>()
  private readonly sftpSessions = new Map<number, Promise<SFTPWrapper>>()
  private readonly unixListeners = new Map<string, (channel: Channel) => void>()
  private unixHandlerInstalled = false
  /** Set once the connection has closed: whether close() ended it or it was lost, and the last error seen. */
  private ending: { lost: boolean; reason: string } | undefined
  private lastError: string | undefined
  private readonly closeListeners = new Set<(event: { lost: boolean; reason: string }) => void>()

  private constructor(
    private readonly client: Client,
    readonly fingerprint: string,
    readonly keyType: string,
    private readonly maxChannels: number,
    readonly label: string,
    /** Set for key logins without a passphrase; see PinnedKeyLogin. */
    readonly keyLogin?: PinnedKeyLogin,
  ) {
    batchPacketWrites(client)
    client.on('error', (err: Error) => {
      this.lastError = err.message.slice(0, 300)
    })
    client.on('close', () => {
      // close() sets `closed` before it ends the client: anything else is a lost connection (network, sshd, host).
      this.ending = { lost: !this.closed, reason: this.lastError ?? 'the host closed it' }
      this.closed = true
      for (const ch of this.openChannels) ch.destroy()
      for (const l of [...this.closeListeners]) l(this.ending)
      this.closeListeners.clear()
    })
  }

  /**
   * Calls `listener` once when the connection has closed: `lost` is false when close() ended it, true when it was
   * lost (a network drop, sshd restarted, keepalives unanswered), with the error ssh2 reported. Called at once
   * (asynchronously) for a connection that has closed already. Returns a function that removes the listener.
   */
  onClose(listener: (event: { lost: boolean; reason: string }) => void): () => void {
    const ending = this.ending
    if (ending !== undefined) {
      queueMicrotask(() => listener(ending))
      return () => undefined
    }
    this.closeListeners.add(listener)
    return () => {
      this.closeListeners.delete(listener)
    }
  }

  get isOpen(): boolean {
    return !this.closed
  }

  static async connect(options: SshConnectOptions, signal?: AbortSignal): Promise<SshConnection> {
    throwIfAborted(signal, 'Connecting')
    const label = `${options.username}@${options.host}:${options.port}`
    // ssh2 is loaded with the first connection, not with every CLI command that never opens one.
    const { Client } = await import('ssh2')
    const client = new Client()
    let presented: { fingerprint: string; keyType: string } | undefined
    let presentedBlob: Buffer | undefined
    let keyVerdict: 'ok' | 'unknown' | 'mismatch' | undefined
    let cipher: string | undefined

    const config: ConnectConfig = {
      host: options.host,
      port: options.port,
      username: options.username,
      readyTimeout: options.connectTimeoutMs ?? 15_000,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        presented = sshKeyFingerprint(key)
        presentedBlob = Buffer.from(key)
        if (options.pinnedFingerprint === undefined) keyVerdict = 'unknown'
        else keyVerdict = sameFingerprint(options.pinnedFingerprint, presented.fingerprint) ? 'ok' : 'mismatch'
        return keyVerdict === 'ok'
      },
    }
    if (options.secret.type === 'password') config.password = options.secret.password
    else {
      config.privateKey = options.secret.privateKey
      if (options.secret.passphrase !== undefined) config.passphrase = options.secret.passphrase
    }

    return await new Promise<SshConnection>((resolve, reject) => {
      let settled = false
      const finish = (err: AdapterError | undefined, conn?: SshConnection) => {
        if (settled) return
        settled = true
        signal?.removeEventListener('abort', onAbort)
        if (err) {
          client.removeAllListeners('ready')
          client.end()
          reject(err)
        } else if (conn) resolve(conn)
      }
      const onAbort = () => finish(new AdapterError('CANCELLED', `Connecting to ${label} was cancelled.`))
      signal?.addEventListener('abort', onAbort, { once: true })

      client.once('handshake', (negotiated: { cs?: { cipher?: string } }) => {
        cipher = negotiated.cs?.cipher
      })
      client.once('ready', () => {
        const fp = presented ?? { fingerprint: '', keyType: 'unknown' }
        const secret = options.secret
        const keyLogin: PinnedKeyLogin | undefined =
          secret.type === 'key' && secret.passphrase === undefined && keyVerdict === 'ok' && presentedBlob !== undefined && options.pinnedFingerprint !== undefined
            ? { host: options.host, port: options.port, username: options.username, privateKey: secret.privateKey, hostKey: presentedBlob, hostKeyType: fp.keyType, pinnedFingerprint: options.pinnedFingerprint, cipher }
            : undefined
        finish(undefined, new SshConnection(client, fp.fingerprint, fp.keyType, options.maxChannels ?? 8, label, keyLogin))
      })
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        finish(mapConnectError(err, label, options, presented, keyVerdict))
      })
      client.once('close', () => {
        finish(
          mapConnectError(new Error('Connection closed during the handshake'), label, options, presented, keyVerdict),
        )
      })
      try {
        client.connect(config)
      } catch (err) {
        // ssh2 throws synchronously for an unreadable private key.
        const message = err instanceof Error ? err.message : String(err)
        finish(
          new AdapterError('KEY_INVALID', `The SSH private key could not be used: ${message}`, {}, { cause: err }),
        )
      }
    })
  }

  /** Runs a command built with `sh`; resolves with its exit code and captured output (bounded). */
  async exec(command: ShellFragment, options: ExecOptions = {}): Promise<ExecResult> {
    const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT
    const opened = await this.openExec(command, options.signal)
    const channel = opened.channel
    return await new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = []
      const err: Buffer[] = []
      let size = 0
      let failure: AdapterError | undefined
      let timer: NodeJS.Timeout | undefined
      let graceTimer: NodeJS.Timeout | undefined
      let streamClosed = false
      let settled = false
      const settle = (action: () => void) => {
        if (settled) return
        settled = true
        options.signal?.removeEventListener('abort', onAbort)
        if (timer) clearTimeout(timer)
        if (graceTimer) clearTimeout(graceTimer)
        action()
      }
      // A failed or cancelled command settles at once: the remote side may take a while to close the channel
      // (OpenSSH waits for the process), and the caller must not wait for that.
      const fail = (e: AdapterError) => {
        failure ??= e
        try {
          channel.signal('KILL')
        } catch {
          // older servers do not support signals; closing the channel below is the fallback
        }
        channel.close()
        settle(() => reject(e))
      }
      const onAbort = () => fail(new AdapterError('CANCELLED', `A command on ${this.label} was cancelled.`))
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const timeoutMs = options.timeoutMs
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => fail(new AdapterError('CONNECTION_TIMEOUT', `A command on ${this.label} did not finish in ${Math.round(timeoutMs / 1000)} s.`)),
          timeoutMs,
        )
      }
      const collect = (target: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length
        if (size > max) {
          fail(new AdapterError('BAD_RESPONSE', `A command on ${this.label} printed more than ${max} bytes; stopped reading.`))
          return
        }
        target.push(chunk)
      }
      const finish = () => {
        if (failure) return
        const exit = opened.exit
        if (!exit.done && !this.isOpen)
          settle(() => reject(new AdapterError('CONNECTION_LOST', `The connection to ${this.label} was lost while a command ran.`)))
        else settle(() => resolve({ code: exit.code, signal: exit.signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }))
      }
      channel.on('data', collect(out))
      channel.stderr.on('data', collect(err))
      opened.onExit(() => {
        if (streamClosed) finish()
      })
      channel.on('close', () => {
        this.release(channel)
        streamClosed = true
        // The server may send EOF before exit-status (OpenSSH reaps the process after its output closes), so the
        // stream can close first; the exit status still follows before the channel is closed for good.
        if (opened.exit.done) finish()
        else graceTimer = setTimeout(finish, 5000)
      })
      if (options.stdin !== undefined) channel.end(options.stdin)
      else channel.end()
    })
  }

  /**
   * Runs a command whose stdout is a byte stream (a disk, a device): consumed with backpressure, so a slow
   * consumer slows the remote reader instead of filling memory. `done` settles when the command has exited.
   */
  execStream(command: ShellFragment, options: { signal?: AbortSignal; stdin?: string | Buffer } = {}): ExecStream {
    let settle!: { resolve: (r: ExecStreamResult) => void; reject: (e: unknown) => void }
    const done = new Promise<ExecStreamResult>((resolve, reject) => {
      settle = { resolve, reject }
    })
    done.catch(() => undefined)
    return { stdout: this.streamOutput(command, options, settle), done }
  }

  private async *streamOutput(
    command: ShellFragment,
    options: { signal?: AbortSignal; stdin?: string | Buffer },
    settle: { resolve: (r: ExecStreamResult) => void; reject: (e: unknown) => void },
  ): AsyncGenerator<Buffer> {
    const opened = await this.openExec(command, options.signal)
    const channel = opened.channel
    let stderr = ''
    channel.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString('utf8')
    })
    const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()))
    const kill = () => {
      try {
        channel.signal('KILL')
      } catch {
        // not supported by every server; destroying the channel is enough
      }
      channel.destroy()
    }
    options.signal?.addEventListener('abort', kill, { once: true })
    let completed = false
    try {
      if (options.stdin !== undefined) channel.end(options.stdin)
      else channel.end()
      for await (const chunk of channel as AsyncIterable<Buffer>) yield chunk
      throwIfAborted(options.signal, 'Reading from the host')
      await closed
      if (!opened.exit.done) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 5000)
          opened.onExit(() => {
            clearTimeout(t)
            resolve()
          })
        })
      }
      if (!opened.exit.done && !this.isOpen) throw new AdapterError('CONNECTION_LOST', `The connection to ${this.label} was lost while reading.`)
      completed = true
      settle.resolve({ code: opened.exit.code, signal: opened.exit.signal, stderr })
    } catch (err) {
      const e = options.signal?.aborted
        ? new AdapterError('CANCELLED', `Reading from ${this.label} was cancelled.`)
        : !this.isOpen
          ? new AdapterError('CONNECTION_LOST', `The connection to ${this.label} was lost while reading.`, {}, { cause: err })
          : err
      settle.reject(e)
      throw e
    } finally {
      options.signal?.removeEventListener('abort', kill)
      // A consumer that stopped early (break, error) must not leave the remote reader running.
      if (!completed) kill()
      this.release(channel)
    }
  }

  /**
   * Runs a command as a two-way byte pipe (its stdin and stdout), for protocols spoken with a remote helper: the
   * pipelined range reader, the disk writer, `socat` to a unix socket. The channel slot is released when it closes.
   */
  async execDuplex(command: ShellFragment, signal?: AbortSignal): Promise<DuplexExec> {
    const opened = await this.openExec(command, signal)
    const channel = opened.channel
    let stderr = ''
    channel.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString('utf8')
    })
    const exited = new Promise<ExecStreamResult>((resolve) => {
      const finish = () => resolve({ code: opened.exit.code, signal: opened.exit.signal, stderr })
      channel.once('close', () => {
        this.release(channel)
        if (opened.exit.done) finish()
        else {
          const t = setTimeout(finish, 2000)
          opened.onExit(() => {
            clearTimeout(t)
            finish()
          })
        }
      })
    })
    const kill = () => {
      try {
        channel.signal('KILL')
      } catch {
        // not every server supports signals; destroying the channel is enough
      }
      channel.destroy()
    }
    signal?.addEventListener('abort', kill, { once: true })
    void exited.then(() => signal?.removeEventListener('abort', kill))
    return { channel, exited, kill, stderr: () => stderr }
  }

  /**
   * A byte stream to a unix socket on the host (OpenSSH streamlocal forwarding, as the login user). Used to reach
   * an NBD export that QEMU serves on a socket; sshd must allow it (AllowStreamLocalForwarding, on by default).
   */
  async openUnixSocket(socketPath: string, signal?: AbortSignal): Promise<ClientChannel> {
    throwIfAborted(signal, 'Opening a socket on the host')
    if (this.closed) throw new AdapterError('CONNECTION_LOST', `The connection to ${this.label} is closed.`)
    return await new Promise<ClientChannel>((resolve, reject) => {
      this.client.openssh_forwardOutStreamLocal(socketPath, (err, channel) => {
        if (err) reject(new AdapterError('PERMISSION_DENIED', `${this.label} did not open ${socketPath} for Lifeboat: ${err.message}`, { path: socketPath }, { cause: err }))
        else resolve(channel)
      })
    })
  }

  /**
   * The reverse: sshd listens on a unix socket on the host (as the login user; OpenSSH streamlocal forwarding, which
   * it must allow) and every connection to it arrives here as a channel. The socket file stays on the host after
   * `close()` (sshd does not unlink it): the caller removes it. Used to serve a disk to QEMU on the host.
   */
  async listenUnixSocket(socketPath: string, onConnection: (channel: Channel) => void, signal?: AbortSignal): Promise<{ close(): Promise<void> }> {
    throwIfAborted(signal, 'Listening on a socket on the host')
    if (this.closed) throw new AdapterError('CONNECTION_LOST', `The connection to ${this.label} is closed.`)
    if (!this.unixHandlerInstalled) {
      this.unixHandlerInstalled = true
      this.client.on('unix connection', (info, accept, reject) => {
        const handler = this.unixListeners.get(info.socketPath)
        if (handler === undefined) reject()
        else handler(accept())
      })
    }
    this.unixListeners.set(socketPath, onConnection)
    try {
      await new Promise<void>((resolve, reject) => {
        this.client.openssh_forwardInStreamLocal(socketPath, (err) => {
          if (err) reject(new AdapterError('PERMISSION_DENIED', `${this.label} did not listen on ${socketPath} for Lifeboat (sshd needs AllowStreamLocalForwarding): ${err.message}`, { path: socketPath }, { cause: err }))
          else resolve()
        })
      })
    } catch (err) {
      this.unixListeners.delete(socketPath)
      throw err
    }
    return {
      close: async () => {
        if (!this.unixListeners.delete(socketPath) || this.closed) return
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 5000)
          this.client.openssh_unforwardInStreamLocal(socketPath, () => {
            clearTimeout(t)
            resolve()
          })
        })
      },
    }
  }

  /** The connection's SFTP session (opened once, shared). */
  async sftp(lane = 0): Promise<SFTPWrapper> {
    if (this.closed) throw new AdapterError('CONNECTION_LOST', `The connection to ${this.label} is closed.`)
    let session = this.sftpSessions.get(lane)
    if (session === undefined) {
      const opening = new Promise<SFTPWrapper>((resolve, reject) => {
        this.client.sftp((err, sftp) => {
          if (err) {
            if (this.sftpSessions.get(lane) === opening) this.sftpSessions.delete(lane)
            reject(new AdapterError('NOT_SUPPORTED', `${this.label} offers no SFTP: ${err.message}`, {}, { cause: err }))
          } else {
            sftp.on('close', () => {
              if (this.sftpSessions.get(lane) === opening) this.sftpSessions.delete(lane)
            })
            resolve(sftp)
          }
        })
      })
      session = opening
      this.sftpSessions.set(lane, session)
    }
    return await session
  }

  /** Like exec, but a non-zero exit becomes a COMMAND_FAILED error carrying the start of stderr. */
  async run(command: ShellFragment, options: ExecOptions = {}): Promise<string> {
    const result = await this.exec(command, options)
    if (result.code !== 0) {
      const detail = (result.stderr.trim() || result.stdout.trim()).slice(0, 500)
      throw new AdapterError(
        'COMMAND_FAILED',
        `A command on ${this.label} failed (exit ${result.code ?? result.signal ?? '?'}): ${detail || 'no output'}`,
        { exitCode: result.code, stderr: detail },
      )
    }
    return result.stdout
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000)
      this.client.once('close', () => {
        clearTimeout(t)
        resolve()
      })
      this.client.end()
    })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * Opens an exec channel, waiting for a free slot so we never exceed the server's session limit. The exit
   * status is recorded from the very first moment: for a quick command it can arrive in the same packet batch
   * as the channel confirmation, before the caller had a chance to listen.
   */
  protected async openExec(command: ShellFragment, signal?: AbortSignal): Promise<OpenedChannel> {
    await this.acquire(signal)
    try {
      throwIfAborted(signal, 'The command')
      if (this.closed) throw new AdapterError('CONNECTION_LOST', `The connection to ${this.label} is closed.`)
      const opened = await new Promise<OpenedChannel>((resolve, reject) => {
        this.client.exec(command.text, (err, ch) => {
          if (err) {
            reject(new AdapterError('CONNECTION_LOST', `Could not start a command on ${this.label}: ${err.message}`, {}, { cause: err }))
            return
          }
          const listeners: (() => void)[] = []
          const result: OpenedChannel = {
            channel: ch,
            exit: { done: false, code: null, signal: null },
            onExit: (listener) => listeners.push(listener),
          }
          ch.on('exit', (code: number | null, exitSignal?: string) => {
            result.exit = { done: true, code: code ?? null, signal: exitSignal ?? null }
            for (const l of listeners) l()
          })
          resolve(result)
        })
      })
      this.openChannels.add(opened.channel)
      return opened
    } catch (err) {
      this.releaseSlot()
      throw err
    }
  }

  protected release(channel: ClientChannel): void {
    if (this.openChannels.delete(channel)) this.releaseSlot()
  }

  private async acquire(signal?: AbortSignal): Promise<void> {
    while (this.active >= this.maxChannels) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new AdapterError('CANCELLED', 'The command was cancelled while waiting.'))
        signal?.addEventListener('abort', onAbort, { once: true })
        this.waiters.push(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        })
      })
    }
    this.active++
  }

  private releaseSlot(): void {
    this.active--
    this.waiters.shift()?.()
  }
}

function mapConnectError(
  err: Error & { level?: string; code?: string },
  label: string,
  options: SshConnectOptions,
  presented: { fingerprint: string; keyType: string } | undefined,
  keyVerdict: 'ok' | 'unknown' | 'mismatch' | undefined,
): AdapterError {
  const base = { address: options.host, port: options.port }
  if (keyVerdict === 'unknown' && presented) {
    return new AdapterError(
      'HOST_KEY_UNKNOWN',
      `${options.host} presented SSH host key ${presented.keyType} ${presented.fingerprint}. Confirm this fingerprint before Lifeboat sends any credentials.`,
      { ...base, fingerprint: presented.fingerprint, keyType: presented.keyType },
      { cause: err },
    )
  }
  if (keyVerdict === 'mismatch' && presented) {
    return new AdapterError(
      'HOST_KEY_MISMATCH',
      `${options.host} presented a different SSH host key than the one you confirmed (${presented.keyType} ${presented.fingerprint}, expected ${options.pinnedFingerprint ?? '?'}). Lifeboat did not connect. If the host was reinstalled, confirm the new key; otherwise someone may be intercepting the connection.`,
      { ...base, fingerprint: presented.fingerprint, keyType: presented.keyType, expected: options.pinnedFingerprint ?? null },
      { cause: err },
    )
  }
  if (err.level === 'client-authentication') {
    return new AdapterError(
      'AUTH_FAILED',
      `${label} refused the ${options.secret.type === 'password' ? 'password' : 'SSH key'}. Check the user name and credentials.`,
      { ...base, user: options.username },
      { cause: err },
    )
  }
  if (err.level === 'client-timeout' || err.code === 'ETIMEDOUT') {
    return new AdapterError(
      'CONNECTION_TIMEOUT',
      `${options.host}:${options.port} did not answer in time. Check the address, the port and that the host is on.`,
      base,
      { cause: err },
    )
  }
  const netCodes: Record<string, string> = {
    ECONNREFUSED: 'refused the connection (is the SSH server running on that port?)',
    EHOSTUNREACH: 'cannot be reached (no route to the host)',
    ENETUNREACH: 'cannot be reached (network unreachable)',
    ENOTFOUND: 'is not a known host name',
    EAI_AGAIN: 'could not be resolved (name lookup failed)',
    ECONNRESET: 'closed the connection unexpectedly',
  }
  const reason = err.code !== undefined ? netCodes[err.code] : undefined
  if (reason !== undefined) {
    return new AdapterError('HOST_UNREACHABLE', `${options.host}:${options.port} ${reason}.`, { ...base, reason: err.code ?? null }, { cause: err })
  }
  return new AdapterError(
    'HOST_UNREACHABLE',
    `Could not open an SSH connection to ${options.host}:${options.port}: ${err.message}`,
    base,
    { cause: err },
  )
}

/**
 * ssh2 hands every packet to the socket on its own — at most 32 KiB of channel data each (OpenSSH's limit), so a
 * restore writing 2 GiB made ~65,000 socket writes, each a system call, which cost more main-thread time than the
 * encryption. Writes made in one turn of the event loop are corked and leave together (one writev) at its end:
 * a 4 MiB write to a channel becomes one system call per window's worth. Best effort: when ssh2 keeps its socket
 * elsewhere (another version), writes go out one by one as before.
 */
function batchPacketWrites(client: Client): void {
  const sock = (client as unknown as { _sock?: unknown })._sock
  if (!(sock instanceof Socket)) return
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean
  let corked = false
  const batched = (...args: unknown[]): boolean => {
    if (!corked && !sock.destroyed) {
      corked = true
      sock.cork()
      process.nextTick(() => {
        corked = false
        sock.uncork()
      })
    }
    return write(...args)
  }
  sock.write = batched
}
