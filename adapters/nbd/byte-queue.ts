import type { Duplex } from 'node:stream'

const HIGH_WATER = 32 * 1024 * 1024

/**
 * Reads exact byte counts from a stream, with backpressure: the stream is paused while more than HIGH_WATER bytes
 * wait unread, so a slow consumer slows the peer instead of filling memory.
 */
export class ByteQueue {
  private chunks: Buffer[] = []
  private buffered = 0
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: unknown) => void } | undefined
  private ended: Error | undefined

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData)
    stream.on('end', this.onEnd)
    stream.on('close', this.onEnd)
    stream.on('error', this.onEnd)
  }

  /**
   * Stops listening to the stream (before another layer, such as TLS, takes it over) and says how many bytes had
   * arrived that nobody read: they would be lost, so a caller treats anything but 0 as a protocol error.
   */
  detach(): number {
    this.stream.off('data', this.onData)
    this.stream.off('end', this.onEnd)
    this.stream.off('close', this.onEnd)
    this.stream.off('error', this.onEnd)
    return this.buffered
  }

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    this.wake()
    // Paused only while nobody waits for more: a read larger than HIGH_WATER must still get its bytes.
    if (this.buffered > HIGH_WATER && this.waiter === undefined) this.stream.pause()
  }

  private readonly onEnd = (err?: unknown): void => {
    this.ended ??= err instanceof Error ? err : new Error('the connection closed')
    const w = this.waiter
    if (w !== undefined && this.buffered < w.n) {
      this.waiter = undefined
      w.reject(this.ended)
    }
  }

  read(n: number): Promise<Buffer> {
    if (this.waiter !== undefined) return Promise.reject(new Error('ByteQueue: one read at a time'))
    if (this.buffered >= n) return Promise.resolve(this.take(n))
    if (this.ended) return Promise.reject(this.ended)
    return new Promise<Buffer>((resolve, reject) => {
      this.waiter = { n, resolve, reject }
      this.stream.resume()
    })
  }

  private wake(): void {
    const w = this.waiter
    if (w === undefined || this.buffered < w.n) return
    this.waiter = undefined
    w.resolve(this.take(w.n))
  }

  private take(n: number): Buffer {
    let out: Buffer
    const first = this.chunks[0]
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let at = 0
      while (at < n) {
        const c = this.chunks[0]
        if (c === undefined) break
        const k = Math.min(c.length, n - at)
        c.copy(out, at, 0, k)
        at += k
        if (k === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.buffered -= n
    if (this.buffered <= HIGH_WATER / 2) this.stream.resume()
    return out
  }
}
