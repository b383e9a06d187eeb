import { randomBytes } from 'node:crypto'
import { AdapterError } from '../host-adapter'
import type { DuplexExec } from './ssh-connection'
import { raw, sh } from './shell-quote'
import type { RootShell } from './root-shell'

/**
 * A remote range reader on one exec channel: requests ("OFFSET LENGTH\n") are pipelined on stdin, the host answers
 * each with exactly LENGTH bytes followed by a fixed-size trailer carrying a per-session nonce and a status. Answers come in request order, so many reads are in flight without SFTP's packet
 * round trips — and it works through sudo, which SFTP cannot. A failed answer (its trailer says so, or does not match)
 * fails every pending read loudly instead of shifting bytes.
 */
const TRAILER_TAG = 'LB'
const NONCE_BYTES = 8
const TRAILER_LENGTH = TRAILER_TAG.length + NONCE_BYTES * 2 + 3
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024

interface Pending {
  readonly length: number
  readonly buffer: Buffer
  filled: number
  trailer: Buffer
  trailerFilled: number
  cancelled: boolean
  resolve(data: Buffer): void
  reject(err: unknown): void
}

/**
 * The remote side. Each answer is exactly LENGTH bytes whatever happens — dd's output padded by zeros up to LENGTH
 * (`cat - /dev/zero | head -c`) — so the stream can never shift; whether the bytes are good is told by the trailer:
 * dd's exit status, or 999 when the file is now shorter than the range (checked before reading).
 */
const SCRIPT = raw(
  [
    'f=$1; t=$2; exec 3>&1',
    'while read -r o n; do',
    '  if [ ! -b "$f" ] && [ "$(stat -L -c %s -- "$f" 2>/dev/null || echo 0)" -lt $((o + n)) ]; then r=999; head -c "$n" /dev/zero',
    '  else r=$( { { dd if="$f" bs=1M iflag=skip_bytes,count_bytes,fullblock skip="$o" count="$n" status=none </dev/null; echo $? >&4; } | cat - /dev/zero | head -c "$n" >&3; } 4>&1 ); fi',
    '  printf "LB%s%03d" "$t" "$r"',
    'done',
  ].join('\n'),
)

export class PipelinedReader {
  private readonly queue: Pending[] = []
  private failure: AdapterError | undefined
  private outstanding = 0
  private readonly waiters: (() => void)[] = []
  private readonly expected: Buffer

  private constructor(
    private readonly exec: DuplexExec,
    nonce: string,
    private readonly label: string,
    private readonly connected: () => boolean,
  ) {
    this.expected = Buffer.from(`${TRAILER_TAG}${nonce}000`, 'latin1')
    exec.channel.on('data', (chunk: Buffer) => this.onData(chunk))
    void exec.exited.then((r) => {
      const detail = r.stderr.trim().slice(0, 300)
      // Let the connection's own close event land first: a dropped link must read as CONNECTION_LOST.
      setImmediate(() => {
        const lost = !this.connected()
        this.fail(new AdapterError(lost ? 'CONNECTION_LOST' : 'COMMAND_FAILED', lost ? `The connection was lost while reading ${label}.` : `Reading ${label} stopped${detail ? `: ${detail}` : ' (the reader closed)'}.`))
      })
    })
  }

  static async start(shell: RootShell, path: string, label: string, signal?: AbortSignal): Promise<PipelinedReader> {
    const nonce = randomBytes(NONCE_BYTES).toString('hex')
    const exec = await shell.execDuplex(sh`sh -c ${SCRIPT.text} lifeboat-reader ${path} ${nonce}`, signal)
    return new PipelinedReader(exec, nonce, label, () => shell.conn.isOpen)
  }

  get busyBytes(): number {
    return this.outstanding
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0)
    while (this.outstanding > 0 && this.outstanding + length > MAX_IN_FLIGHT_BYTES && this.failure === undefined) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    if (this.failure) throw this.failure
    signal?.throwIfAborted()
    this.outstanding += length
    return await new Promise<Buffer>((resolve, reject) => {
      const pending: Pending = {
        length,
        buffer: Buffer.allocUnsafe(length),
        filled: 0,
        trailer: Buffer.allocUnsafe(TRAILER_LENGTH),
        trailerFilled: 0,
        cancelled: false,
        resolve,
        reject,
      }
      const onAbort = () => {
        // The answer still arrives (the pipe is ordered); it is read and dropped.
        pending.cancelled = true
        reject(new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      pending.resolve = (data) => {
        signal?.removeEventListener('abort', onAbort)
        resolve(data)
      }
      this.queue.push(pending)
      this.exec.channel.write(`${offset} ${length}\n`)
    })
  }

  close(): void {
    this.fail(new AdapterError('CANCELLED', `${this.label} is closed.`))
    this.exec.channel.end()
    this.exec.kill()
  }

  private onData(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      const head = this.queue[0]
      if (head === undefined) {
        this.fail(new AdapterError('BAD_RESPONSE', `${this.label}: the host sent bytes nobody asked for.`))
        return
      }
      if (head.filled < head.length) {
        const n = Math.min(head.length - head.filled, chunk.length - at)
        chunk.copy(head.buffer, head.filled, at, at + n)
        head.filled += n
        at += n
        continue
      }
      const n = Math.min(TRAILER_LENGTH - head.trailerFilled, chunk.length - at)
      chunk.copy(head.trailer, head.trailerFilled, at, at + n)
      head.trailerFilled += n
      at += n
      if (head.trailerFilled < TRAILER_LENGTH) continue
      this.queue.shift()
      this.release(head.length)
      if (!head.trailer.equals(this.expected)) {
        const code = head.trailer.toString('latin1', TRAILER_LENGTH - 3)
        const inStep = head.trailer.subarray(0, TRAILER_LENGTH - 3).equals(this.expected.subarray(0, TRAILER_LENGTH - 3))
        const status = !inStep ? ' (answer out of step)' : code === '999' ? ' (the file is now shorter than the range: it changed while it was read)' : ` (dd exit ${code})`
        const err = new AdapterError('COMMAND_FAILED', `Reading ${this.label} failed${status}; ${this.exec.stderr().trim().slice(0, 300) || 'the host sent fewer bytes than asked for'}.`)
        head.reject(err)
        this.fail(err)
        return
      }
      if (!head.cancelled) head.resolve(head.buffer)
    }
  }

  private release(length: number): void {
    this.outstanding -= length
    for (const w of this.waiters.splice(0)) w()
  }

  private fail(err: AdapterError): void {
    if (this.failure) return
    this.failure = err
    for (const p of this.queue.splice(0)) p.reject(err)
    this.outstanding = 0
    for (const w of this.waiters.splice(0)) w()
  }
}
