/**
 * What both O_DIRECT writers share (backends/direct-writer.ts for new objects, export/direct-output.ts for exports):
 * page-aligned staging buffers — memory for O_DIRECT must be block-aligned, which Node's buffers are not, and a
 * WebAssembly memory is page-aligned — a few at a time, handed out and back; and what counts as the platform or
 * filesystem refusing direct I/O rather than a write failing.
 */
export class StagingPool {
  private readonly free: Buffer[] = []
  private readonly waiters: ((buffer: Buffer) => void)[] = []
  private created = 0

  /** `pages` WebAssembly pages (64 KiB each) per buffer, at most `slots` buffers. */
  constructor(
    private readonly pages: number,
    private readonly slots: number,
  ) {}

  /** A free buffer, waiting for one while all are out; undefined when there is no address space for another. */
  async take(): Promise<Buffer | undefined> {
    const ready = this.free.pop()
    if (ready !== undefined) return ready
    if (this.created < this.slots) {
      try {
        const memory = new wasm.Memory({ initial: this.pages, maximum: this.pages })
        this.created++
        return Buffer.from(memory.buffer)
      } catch {
        // No address space for it (ulimit -v): the caller writes through the page cache instead.
        return undefined
      }
    }
    return await new Promise<Buffer>((resolve) => this.waiters.push(resolve))
  }

  give(buffer: Buffer): void {
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter(buffer)
    else this.free.push(buffer)
  }
}

/** Node's WebAssembly global (this project's TypeScript libraries leave it undeclared). */
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } } }).WebAssembly

/** The platform or filesystem does not do direct I/O here (as opposed to a real write failure). */
export function isRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP'
}
