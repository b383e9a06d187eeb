import { createWriteStream } from 'node:fs'
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { assertReadInBounds } from '../block-source'
import { AdapterError, type BlockSource } from '../host-adapter'
import { StreamFiller } from '../stream-filler'
import type { XapiClient } from './xapi-client'
import { createTask } from './xapi-tasks'

/**
 * /export_raw_vdi with its task: a failure the pool told inside the body (see xapi-http.ts) is reported with the
 * task's error_info, which names the storage error, where the pool has set it.
 */
export async function exportRawVdi(client: XapiClient, vdi: VdiRef, task: string, query: Readonly<Record<string, string>>, signal: AbortSignal): Promise<{ body: Readable; length: number | undefined }> {
  try {
    return await client.http.get('/export_raw_vdi', { query: { vdi: vdi.ref, ...query, task_id: task }, signal, ...(vdi.host !== undefined ? { host: vdi.host } : {}) })
  } catch (err) {
    if (!(err instanceof AdapterError) || err.params.embedded !== true) throw err
    const info = await client.call('task.get_error_info', [task]).catch(() => undefined)
    const words = Array.isArray(info) ? info.filter((x): x is string => typeof x === 'string').map((x) => x.slice(0, 300)) : []
    if (words.length === 0) throw err
    throw new AdapterError('COMMAND_FAILED', `The pool could not export ${vdi.label}: ${words.join(' ').replace(/[^\x20-\x7e]+/g, ' ').trim()}.`, { xapiCode: words[0] ?? '' }, { cause: err })
  }
}

export interface VdiRef {
  readonly ref: string
  readonly uuid: string
  readonly size: number
  readonly label: string
  /** The pool member whose local SR holds it (default: the master, which redirects when needed). */
  readonly host?: string
}

/**
 * A VDI as /export_raw_vdi?format=raw streams it, as guest-visible bytes read in order (with an XAPI task, so the
 * pool shows progress and the export is cancelled there too). Each read continues the one HTTP response where the
 * previous read ended: the body's pieces are copied straight into the caller's buffer as they arrive (readInto, see
 * StreamFiller), so a backup reads the VDI once at link speed with no fresh buffer and no promise per piece. Reads
 * may overlap (a backup reads ahead); they are served in the order they were made. A read ahead of the stream's
 * position skips the bytes between; a read behind it starts a new export (slow, but right).
 */
export class SequentialExport implements BlockSource {
  private body: Readable | undefined
  private filler: StreamFiller | undefined
  private controller: AbortController | undefined
  private task: string | undefined
  /** Where the stream stands once every read accepted so far is served. */
  private position = 0
  /** Settles when every read accepted so far is served (or failed). */
  private lastFill: Promise<unknown> = Promise.resolve()
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor(
    private readonly client: XapiClient,
    private readonly vdi: VdiRef,
  ) {}

  get size(): number {
    return this.vdi.size
  }
  get label(): string {
    return this.vdi.label
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, offset, signal)
    return out
  }

  async readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<void> {
    assertReadInBounds(this, offset, target.length)
    // The queue orders the reads and waits only for their setup (opening, skipping), not for their bytes: the
    // next read's buffer is already waiting when the previous one fills.
    const started = this.queue.then(() => this.begin(target, offset, signal))
    this.queue = started.catch(() => undefined)
    await (await started).done
  }

  private async begin(target: Buffer, offset: number, signal?: AbortSignal): Promise<{ done: Promise<void> }> {
    if (this.closed) throw new AdapterError('CANCELLED', `${this.label} is closed.`)
    if (signal?.aborted === true) throw new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`)
    try {
      if (this.filler === undefined || offset < this.position) {
        await this.lastFill.catch(() => undefined)
        await this.open()
      }
      while (this.position < offset) {
        const skip = Math.min(offset - this.position, 4 * 1024 * 1024)
        this.position += skip
        await this.guarded(Buffer.allocUnsafe(skip), signal)
      }
    } catch (err) {
      await this.stop()
      throw this.cancelled(signal) ? new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`) : err
    }
    this.position += target.length
    const end = this.position >= this.size
    const done = this.guarded(target, signal).then(
      async () => {
        if (end) await this.stop()
      },
      async (err: unknown) => {
        await this.stop()
        throw this.cancelled(signal) ? new AdapterError('CANCELLED', `Reading ${this.label} was cancelled.`) : err
      },
    )
    this.lastFill = done
    return { done }
  }

  /** One fill from the open export, cancelled with `signal`. */
  private async guarded(target: Buffer, signal?: AbortSignal): Promise<void> {
    const filler = this.filler
    if (filler === undefined) throw new AdapterError('CONNECTION_LOST', `The export of ${this.label} is not open.`)
    const onAbort = () => this.controller?.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await filler.fill(target)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  private async open(): Promise<void> {
    await this.stop()
    this.controller = new AbortController()
    this.task = await createTask(this.client, `Lifeboat: export ${this.vdi.label}`)
    const { body, length } = await exportRawVdi(this.client, this.vdi, this.task, { format: 'raw' }, this.controller.signal)
    if (length !== undefined && length !== this.size) {
      body.destroy()
      throw new AdapterError('BAD_RESPONSE', `The pool announced ${length} bytes for ${this.label}, whose size is ${this.size}.`)
    }
    this.body = body
    const filler: StreamFiller = new StreamFiller(body, {
      ended: (at) => new AdapterError('CONNECTION_LOST', `The export of ${this.label} ended after ${at} of ${this.size} bytes.`, { bytes: at }),
      broken: (err): AdapterError => new AdapterError('CONNECTION_LOST', `The export of ${this.label} broke off after ${filler.position} of ${this.size} bytes: ${err instanceof Error ? err.message : String(err)}`, { bytes: filler.position }, { cause: err }),
    })
    this.filler = filler
    this.position = 0
  }

  private cancelled(signal: AbortSignal | undefined): boolean {
    return signal?.aborted === true || this.closed
  }

  private async stop(): Promise<void> {
    const task = this.task
    const body = this.body
    this.task = undefined
    this.body = undefined
    this.filler?.fail(new AdapterError('CANCELLED', `The export of ${this.label} was stopped.`))
    this.filler = undefined
    if (body !== undefined && !body.readableEnded) {
      this.controller?.abort()
      body.destroy()
    }
    if (task !== undefined) {
      await this.client.call('task.cancel', [task]).catch(() => undefined)
      await this.client.call('task.destroy', [task]).catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    await this.queue
    await this.stop()
    await this.lastFill.catch(() => undefined)
  }
}

const VHD_SECTOR = 512

/**
 * A VHD delta (/export_raw_vdi?format=vhd&base=…) spooled to a local file: the blocks in it are what changed since
 * the base. Only those ranges can be read; everything else equals the previous restore point.
 */
export class SpooledVhdDelta implements BlockSource {
  private constructor(
    private readonly dir: string,
    private readonly fh: FileHandle,
    readonly size: number,
    readonly label: string,
    /** Sorted, merged byte ranges present in the delta, with their position in the spool file. */
    private readonly present: readonly { offset: number; length: number; fileOffset: number }[],
  ) {}

  get changedRanges(): { offset: number; length: number }[] {
    return this.present.map((e) => ({ offset: e.offset, length: e.length }))
  }

  static async download(client: XapiClient, vdi: VdiRef, base: string, signal: AbortSignal, onBytes?: (n: number) => void): Promise<SpooledVhdDelta> {
    const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-vhd-delta-'))
    const file = path.join(dir, 'delta.vhd')
    const task = await createTask(client, `Lifeboat: delta export ${vdi.label}`)
    const onAbort = () => void client.call('task.cancel', [task]).catch(() => undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const { body } = await exportRawVdi(client, vdi, task, { format: 'vhd', base }, signal)
      let received = 0
      body.on('data', (d: Buffer) => {
        received += d.length
        onBytes?.(received)
      })
      await pipeline(body, createWriteStream(file), { signal })
      const fh = await open(file, 'r')
      try {
        return new SpooledVhdDelta(dir, fh, vdi.size, vdi.label, await parseVhd(fh, vdi.size, vdi.label))
      } catch (err) {
        await fh.close()
        throw err
      }
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      if (signal.aborted) throw new AdapterError('CANCELLED', `The delta export of ${vdi.label} was cancelled.`)
      if (err instanceof AdapterError) throw err
      throw new AdapterError('CONNECTION_LOST', `The delta export of ${vdi.label} failed: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err })
    } finally {
      signal.removeEventListener('abort', onAbort)
      await client.call('task.destroy', [task]).catch(() => undefined)
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    assertReadInBounds(this, offset, length)
    const out = Buffer.alloc(length)
    let covered = 0
    for (const e of this.present) {
      const a = Math.max(offset, e.offset)
      const b = Math.min(offset + length, e.offset + e.length)
      if (b <= a) continue
      await this.fh.read(out, a - offset, b - a, e.fileOffset + (a - e.offset))
      covered += b - a
    }
    if (covered !== length) throw new AdapterError('NOT_SUPPORTED', `${this.label}: only the changed ranges of a delta can be read (asked for ${length} bytes at ${offset}).`)
    return out
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined)
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Reads a dynamic or differencing VHD's footer, header and block table (hostile input: everything is bounded). */
async function parseVhd(fh: FileHandle, size: number, label: string): Promise<{ offset: number; length: number; fileOffset: number }[]> {
  const bad = (why: string) => new AdapterError('BAD_RESPONSE', `The delta export of ${label} is not a usable VHD: ${why}.`)
  const fileSize = (await fh.stat()).size
  const read = async (at: number, n: number) => {
    if (at < 0 || at + n > fileSize) throw bad('it is cut short')
    const b = Buffer.alloc(n)
    await fh.read(b, 0, n, at)
    return b
  }
  const footer = await read(0, 512)
  if (footer.toString('latin1', 0, 8) !== 'conectix') throw bad('no footer')
  const type = footer.readUInt32BE(60)
  if (type !== 3 && type !== 4) throw bad(`disk type ${type}`)
  if (Number(footer.readBigUInt64BE(48)) !== size) throw bad(`its size ${footer.readBigUInt64BE(48)} is not the disk's ${size}`)
  const headerAt = Number(footer.readBigUInt64BE(16))
  const header = await read(headerAt, 1024)
  if (header.toString('latin1', 0, 8) !== 'cxsparse') throw bad('no dynamic header')
  const table = Number(header.readBigUInt64BE(16))
  const entries = header.readUInt32BE(28)
  const blockSize = header.readUInt32BE(32)
  if (blockSize < VHD_SECTOR * 8 || blockSize > 256 * 1024 * 1024 || (blockSize & (blockSize - 1)) !== 0) throw bad(`block size ${blockSize}`)
  if (entries < Math.ceil(size / blockSize) || entries > Math.ceil(size / blockSize) + 1) throw bad(`${entries} table entries`)
  const bat = await read(table, entries * 4)
  const bitmapBytes = Math.ceil(blockSize / VHD_SECTOR / 8 / VHD_SECTOR) * VHD_SECTOR
  const extents: { offset: number; length: number; fileOffset: number }[] = []
  for (let i = 0; i < entries; i++) {
    const sector = bat.readUInt32BE(i * 4)
    if (sector === 0xffffffff) continue
    const at = sector * VHD_SECTOR
    const bitmap = await read(at, bitmapBytes)
    if (at + bitmapBytes + blockSize > fileSize) throw bad('a block lies beyond the end of the file')
    const sectors = blockSize / VHD_SECTOR
    for (let s = 0; s < sectors; s++) {
      if (((bitmap[s >> 3] ?? 0) & (0x80 >> (s & 7))) === 0) continue
      let run = 1
      while (s + run < sectors && ((bitmap[(s + run) >> 3] ?? 0) & (0x80 >> ((s + run) & 7))) !== 0) run++
      const offset = i * blockSize + s * VHD_SECTOR
      if (offset < size) {
        const length = Math.min(run * VHD_SECTOR, size - offset)
        const fileOffset = at + bitmapBytes + s * VHD_SECTOR
        const last = extents[extents.length - 1]
        if (last && last.offset + last.length === offset && last.fileOffset + last.length === fileOffset) last.length += length
        else extents.push({ offset, length, fileOffset })
      }
      s += run - 1
    }
  }
  return extents
}
