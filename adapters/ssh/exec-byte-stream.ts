import { AdapterError } from '../host-adapter'
import { StreamFiller } from '../stream-filler'
import { OpenSshStream } from './openssh-stream'
import type { RootShell } from './root-shell'
import type { DuplexExec } from './ssh-connection'
import type { ShellFragment } from './shell-quote'

/** How the bytes come: through OpenSSH (openssh-stream.ts) or through this connection's ssh2 channel. */
interface Transport {
  readonly kind: 'openssh' | 'ssh2'
  /** Fills target; with `mayMove` its memory may be moved (to a reader thread and back): the result holds the bytes. */
  fill(target: Buffer, mayMove: boolean, signal?: AbortSignal): Promise<Buffer>
  /** After the last byte: the output ends there and the command succeeded. */
  finish(): Promise<void>
  close(): void
}

/**
 * The output of one remote command (`cat`, `dd`) of a known length, readable two ways:
 * - as an AsyncIterable of the pieces as they arrive over the ssh2 channel (generic consumers);
 * - through readInto(target): the next target.length bytes copied straight into the caller's buffer — what a backup
 *   uses. The transfer then goes through the system's OpenSSH client when this login allows it (see
 *   openssh-stream.ts: it keeps the transport's work off Node's main thread and makes no garbage), else through the
 *   ssh2 channel, its pieces copied into the caller's buffers as they are pulled (see StreamFiller).
 * Either way it fails loudly when the command fails or sends fewer or more bytes than `length`. Use one of the two.
 */
export class ExecByteStream implements AsyncIterable<Buffer> {
  private transport: Promise<Transport> | undefined
  private used: 'pieces' | 'fill' | undefined
  private delivered = 0
  private done = false

  constructor(
    private readonly shell: RootShell,
    private readonly command: ShellFragment,
    private readonly length: number,
    readonly label: string,
    private readonly signal?: AbortSignal,
    private readonly options: { readonly systemSsh?: boolean } = {},
  ) {}

  /** Which transport carries the bytes once readInto has started ('openssh' or 'ssh2'); undefined before. */
  async transportKind(): Promise<'openssh' | 'ssh2' | undefined> {
    return (await this.transport?.catch(() => undefined))?.kind
  }

  /**
   * Fills all of `target` with the next bytes. Calls may overlap (they are served in order), so a consumer can keep
   * a few buffers waiting and the transfer never idles between them. After the last byte it checks that the command
   * ended there and succeeded.
   */
  async readInto(target: Buffer, signal?: AbortSignal): Promise<void> {
    await this.read(target, false, signal)
  }

  /**
   * Like readInto, but target's memory may be moved to fill it (OpenSSH's reader thread fills it in place and sends
   * it back): use the returned Buffer, not `target`. Saves a copy of every byte.
   */
  readMoving(target: Buffer, signal?: AbortSignal): Promise<Buffer> {
    return this.read(target, true, signal)
  }

  private async read(target: Buffer, mayMove: boolean, signal?: AbortSignal): Promise<Buffer> {
    this.claim('fill')
    if (target.length > this.length - this.delivered) throw new RangeError(`Read of ${target.length} bytes past the end of ${this.label} (${this.length - this.delivered} left)`)
    if (target.length === 0) return target
    this.delivered += target.length
    const last = this.delivered === this.length
    const transport = await (this.transport ??= this.open())
    const filled = await transport.fill(target, mayMove, signal)
    if (last) {
      try {
        await transport.finish()
      } finally {
        transport.close()
      }
    }
    return filled
  }

  /** Stops the command if it still runs (a consumer that gave up early). */
  close(): void {
    this.done = true
    void this.transport?.then((t) => t.close(), () => undefined)
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    this.claim('pieces')
    if (this.length === 0) return
    let received = 0
    const running = this.shell.execStream(this.command, this.signal ? { signal: this.signal } : {})
    for await (const chunk of running.stdout) {
      received += chunk.length
      if (received > this.length) throw new AdapterError('BAD_RESPONSE', `${this.label} sent more bytes than asked for.`)
      yield chunk
    }
    const result = await running.done
    if (result.code !== 0) throw failed(this.label, result.stderr, result.code)
    if (received !== this.length) throw new AdapterError('BAD_RESPONSE', `${this.label} ended after ${received} of ${this.length} bytes.`)
  }

  private claim(how: 'pieces' | 'fill'): void {
    if (this.done) throw new AdapterError('CANCELLED', `${this.label} is closed.`)
    if (this.used !== undefined && this.used !== how) throw new Error(`${this.label} is already read another way`)
    this.used = how
  }

  private async open(): Promise<Transport> {
    const login = this.shell.conn.keyLogin
    if (this.options.systemSsh !== false && login !== undefined) {
      const stream = await OpenSshStream.start(login, this.shell.wrap(this.command), this.label, this.signal)
      if (stream !== undefined) {
        const stop = (): void => void stream.close()
        if (this.done || this.signal?.aborted === true) stop()
        this.signal?.addEventListener('abort', stop, { once: true })
        return {
          kind: 'openssh',
          fill: (target, mayMove, signal) => stream.fill(target, mayMove, signal),
          finish: () => stream.finish(),
          close: () => {
            this.signal?.removeEventListener('abort', stop)
            stop()
          },
        }
      }
    }
    return await this.openSsh2()
  }

  private async openSsh2(): Promise<Transport> {
    const exec = await this.shell.execDuplex(this.command, this.signal)
    exec.channel.end()
    const filler = new StreamFiller(exec.channel, { ended: (position) => new AdapterError('BAD_RESPONSE', `${this.label} ended after ${position} of ${this.length} bytes.`) })
    if (this.done) exec.kill()
    return {
      kind: 'ssh2',
      fill: async (target, _mayMove, signal) => {
        const onAbort = (): void => {
          filler.fail(new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`))
          exec.kill()
        }
        if (signal?.aborted === true) onAbort()
        signal?.addEventListener('abort', onAbort, { once: true })
        try {
          await filler.fill(target)
          return target
        } catch (err) {
          throw await this.explain(err, exec, signal)
        } finally {
          signal?.removeEventListener('abort', onAbort)
        }
      },
      finish: () => this.finish(exec, filler),
      close: () => {
        filler.fail(new AdapterError('CANCELLED', `${this.label} is closed.`))
        exec.kill()
      },
    }
  }

  /** Why the output stopped short: the command's exit (which follows the end of its output) tells. */
  private async explain(err: unknown, exec: DuplexExec, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted === true || this.signal?.aborted === true) return new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`)
    if (!(err instanceof AdapterError) || err.code !== 'BAD_RESPONSE') return err
    const result = await exec.exited
    if (result.code === null && !this.shell.conn.isOpen) return new AdapterError('CONNECTION_LOST', `The connection was lost while reading ${this.label}.`)
    return result.code !== 0 ? failed(this.label, result.stderr, result.code) : err
  }

  private async finish(exec: DuplexExec, filler: StreamFiller): Promise<void> {
    const extra = await filler.extraBytes()
    if (extra > 0) throw new AdapterError('BAD_RESPONSE', `${this.label} sent more bytes than asked for.`)
    const result = await exec.exited
    if (result.code !== 0) {
      if (result.code === null && !this.shell.conn.isOpen) throw new AdapterError('CONNECTION_LOST', `The connection was lost while reading ${this.label}.`)
      throw failed(this.label, result.stderr, result.code)
    }
  }
}

function failed(label: string, stderr: string, code: number | null): AdapterError {
  return new AdapterError('COMMAND_FAILED', `Reading ${label} failed: ${stderr.trim().slice(0, 300) || `exit ${code ?? '?'}`}`)
}
