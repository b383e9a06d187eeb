import { AdapterError } from '../host-adapter'
import type { DuplexExec } from './ssh-connection'
import { raw, sh } from './shell-quote'
import type { RootShell } from './root-shell'

const SCRIPT = raw(
  [
    'f=$1',
    'while read -r o n; do',
    '  dd of="$f" bs=1M iflag=count_bytes,fullblock oflag=seek_bytes seek="$o" count="$n" conv=notrunc status=none || exit 3',
    'done',
    'sync',
  ].join('\n'),
)

/**
 * Writes byte ranges into a file or device on a host over one exec channel: each range is a header line
 * ("OFFSET LENGTH\n") and its bytes, written by GNU dd (which reads exactly LENGTH bytes of its stdin). Ranges that
 * are not written stay as they were — holes in a fresh sparse file — so zero chunks cost nothing. SSH flow control
 * is respected: write() waits while the channel's window is full.
 */
export class RemoteWriter {
  private failed: AdapterError | undefined

  private constructor(
    private readonly exec: DuplexExec,
    private readonly label: string,
  ) {
    // Nothing useful comes on stdout, but it must be consumed: the channel only closes once its output has ended.
    exec.channel.resume()
    exec.channel.on('error', (err: Error) => {
      this.failed ??= new AdapterError('CONNECTION_LOST', `Writing ${label} failed: ${err.message}`)
    })
  }

  static async open(shell: RootShell, path: string, signal?: AbortSignal): Promise<RemoteWriter> {
    const exec = await shell.execDuplex(sh`sh -c ${SCRIPT.text} lifeboat-writer ${path}`, signal)
    return new RemoteWriter(exec, `${shell.conn.label}:${path}`)
  }

  /**
   * Sends `data` to land at `offset`. `sent` is called once the channel has taken every byte of it (encrypted into
   * packets): from then on the caller may reuse its memory. Not called when the channel fails first.
   */
  async write(offset: number, data: Buffer, sent?: () => void): Promise<void> {
    if (this.failed) throw this.failed
    if (data.length === 0) return
    const channel = this.exec.channel
    if (channel.destroyed) throw this.closedError()
    // The header line and the bytes as two writes: joining them copied every byte once more. The bytes are the
    // caller's, held by the channel until sent; `sent` tells the caller when that is.
    channel.write(Buffer.from(`${offset} ${data.length}\n`, 'latin1'))
    const ok = channel.write(data, (error?: Error | null) => {
      if (error === undefined || error === null) sent?.()
    })
    if (!ok) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          channel.off('close', onClose)
          resolve()
        }
        const onClose = () => {
          channel.off('drain', onDrain)
          reject(this.closedError())
        }
        channel.once('drain', onDrain)
        channel.once('close', onClose)
      })
    }
  }

  /** Ends the stream and waits until the host has written (and synced) everything. */
  async finish(): Promise<void> {
    if (this.failed) throw this.failed
    this.exec.channel.end()
    const result = await this.exec.exited
    if (result.code !== 0) throw this.closedError(result.stderr)
  }

  abort(): void {
    this.exec.kill()
  }

  private closedError(stderr = this.exec.stderr()): AdapterError {
    const detail = stderr.trim().slice(0, 300)
    return new AdapterError(detail ? 'COMMAND_FAILED' : 'CONNECTION_LOST', `Writing ${this.label} failed${detail ? `: ${detail}` : ': the connection closed'}.`)
  }
}
