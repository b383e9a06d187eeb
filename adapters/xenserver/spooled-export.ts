import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { assertReadInBounds, isAllZero } from '../block-source'
import { AdapterError, type BlockSource } from '../host-adapter'
import { SequentialExport, type VdiRef } from './vdi-readouts'
import type { XapiClient } from './xapi-client'

const PIECE = 64 * 1024
const READ_AHEAD = 4 * 1024 * 1024

export interface SpoolOptions {
  /** Keep at most this many bytes locally; past it, reads behind the export's position restart it. */
  readonly maxSpoolBytes?: number
  /** Where the spool folder goes (default: the OS temp folder). */
  readonly tmpDir?: string
}

/**
 * Random reads of a VDI on a pool that offers no NBD network: `/export_raw_vdi` is one stream from the start, so
 * every byte that passes is kept in a local sparse file (all-zero pieces are not written) and read from there when
 * asked again. A filesystem reader mostly moves forward, so the disk is fetched at most once, and only as far as the
 * admin browses. Past `maxSpoolBytes` nothing more is kept and a read behind the stream restarts the export.
 */
export class SpooledExport implements BlockSource {
  /** Sorted, merged ranges held in the spool file. */
  private covered: { offset: number; length: number }[] = []
  private kept = 0
  /** Where the export stream stands (the next byte it would deliver). */
  private position = 0
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(
    private readonly exporter: SequentialExport,
    private readonly dir: string,
    private readonly fh: FileHandle,
    private readonly maxSpool: number,
  ) {}

  static async open(client: XapiClient, vdi: VdiRef, options: SpoolOptions = {}): Promise<SpooledExport> {
    const dir = await mkdtemp(path.join(options.tmpDir ?? tmpdir(), 'lifeboat-browse-'))
    try {
      const fh = await open(path.join(dir, 'disk.raw'), 'w+', 0o600)
      return new SpooledExport(new SequentialExport(client, vdi), dir, fh, options.maxSpoolBytes ?? 8 * 1024 ** 3)
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  get size(): number {
    return this.exporter.size
  }
  get label(): string {
    return this.exporter.label
  }

  /** Bytes kept locally so far (for tests and messages). */
  get spooledBytes(): number {
    return this.kept
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    const run = this.queue.then(() => this.fill(offset, length, signal))
    this.queue = run.catch(() => undefined)
    return await run
  }

  private isCovered(offset: number, length: number): boolean {
    return this.covered.some((r) => r.offset <= offset && offset + length <= r.offset + r.length)
  }

  private async fill(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.closed) throw new AdapterError('CANCELLED', `${this.label} is closed.`)
    const out = Buffer.alloc(length)
    if (length === 0) return out
    if (this.isCovered(offset, length)) {
      await this.fh.read(out, 0, length, offset)
      return out
    }
    // Continue the stream from where it stands when the wanted bytes lie ahead (keeping what passes on the way);
    // start it again from the wanted offset when they lie behind.
    const from = offset >= this.position ? this.position : offset
    const end = Math.min(this.size, Math.max(offset + length, offset + READ_AHEAD))
    for (let at = from; at < end; ) {
      const n = Math.min(READ_AHEAD, end - at)
      let piece: Buffer
      try {
        piece = await this.exporter.read(at, n, signal)
      } catch (err) {
        this.position = 0
        throw err
      }
      this.position = at + n
      await this.keep(at, piece)
      const a = Math.max(at, offset)
      const b = Math.min(at + n, offset + length)
      if (b > a) piece.copy(out, a - offset, a - at, b - at)
      at += n
    }
    return out
  }

  private async keep(offset: number, data: Buffer): Promise<void> {
    if (this.kept >= this.maxSpool || this.isCovered(offset, data.length)) return
    for (let p = 0; p < data.length; p += PIECE) {
      const piece = data.subarray(p, Math.min(data.length, p + PIECE))
      if (!isAllZero(piece)) await this.fh.write(piece, 0, piece.length, offset + p)
    }
    this.kept += data.length
    this.cover(offset, data.length)
  }

  private cover(offset: number, length: number): void {
    const all = [...this.covered, { offset, length }].sort((x, y) => x.offset - y.offset)
    const merged: { offset: number; length: number }[] = []
    for (const r of all) {
      const last = merged.at(-1)
      if (last !== undefined && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset)
      else merged.push({ ...r })
    }
    this.covered = merged
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue
    await this.exporter.close().catch(() => undefined)
    await this.fh.close().catch(() => undefined)
    await rm(this.dir, { recursive: true, force: true })
  }
}

