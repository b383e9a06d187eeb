/**
 * The simulated host's virtual disk files: base VHDX/VHD made (and rewritten) by qemu-img, differencing AVHDX files
 * written by vhdx-file.ts. Guest writes, checkpoint merges and reads of what the guest sees go through here, so every
 * file on disk is always a real image another tool could open.
 */
import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { SimulatorLimit } from './values'
import { AVHDX_BLOCK, vhdxDataWriteGuid, writeDifferencingVhdx } from './vhdx-file'
import { normalizeWin, winBasename, winDirname, type WinFs } from './winfs'

const run = promisify(execFile)

export interface DiskFile {
  /** Canonical Windows path. */
  path: string
  readonly format: 'vhdx' | 'vhd'
  readonly type: 'fixed' | 'dynamic' | 'differencing'
  readonly size: number
  parent?: string
  /** Differencing files: the 2 MiB blocks present in this file. */
  readonly blocks: Map<number, Buffer>
  readonly diskIdentifier: string
  readonly blockSize: number
  /** Hyper-V makes a disk read-only once a checkpoint freezes it. */
  readOnly: boolean
  readonly dataWriteGuid: Buffer
  readonly page83: Buffer
}

const VOLUME_GUID = '{5f0a3c2e-7d41-4b6e-9c1a-2b8e4f6d9a10}'

/**
 * A background merge's pace: awaited before each piece it writes into the parent (`done` pieces written of `total`)
 * and once more (done === total) before the merged file is deleted, so the host can spread the merge over its duration.
 */
export type MergePace = (done: number, total: number) => Promise<void>

/** What a paced merge writes into the parent at a time: half an AVHDX block. */
export const MERGE_PIECE = AVHDX_BLOCK / 2

export class DiskStore {
  private readonly files = new Map<string, DiskFile>()
  /** Told about every change of a file's guest-visible bytes (guest writes, merges): Resilient Change Tracking. */
  readonly changeListeners: ((file: DiskFile, offset: number, length: number) => void)[] = []
  /** Told the Windows path of every file removed (by a cmdlet, SFTP or a checkpoint merge). */
  readonly removeListeners: ((path: string) => void)[] = []
  /** Guest-visible bytes of base files (small test disks), so reads and merges need not re-run qemu-img. */
  private readonly content = new Map<string, Buffer>()

  constructor(private readonly fs: WinFs) {}

  private key(p: string): string {
    return normalizeWin(p).toLowerCase()
  }

  get(p: string): DiskFile | undefined {
    return this.files.get(this.key(p))
  }

  all(): DiskFile[] {
    return [...this.files.values()]
  }

  /** A base disk with the given guest content, written by qemu-img. */
  async createBase(winPath: string, content: Buffer, format: 'vhdx' | 'vhd' = 'vhdx'): Promise<DiskFile> {
    const local = this.fs.toLocal(winPath)
    await mkdir(path.dirname(local), { recursive: true })
    await this.writeBaseFile(local, content, format)
    const file: DiskFile = {
      path: this.fs.toWin(local),
      format,
      type: 'dynamic',
      size: content.length,
      blocks: new Map(),
      diskIdentifier: randomUUID().toUpperCase(),
      blockSize: format === 'vhdx' ? 32 * 1024 * 1024 : 2 * 1024 * 1024,
      readOnly: false,
      dataWriteGuid: randomBytes(16),
      page83: randomBytes(16),
    }
    this.files.set(this.key(file.path), file)
    this.content.set(this.key(file.path), Buffer.from(content))
    return file
  }

  /**
   * (Re)writes a base file as qemu-img makes it. Normally a new file replaces the old one; `inPlace` overwrites the
   * same file instead (a background merge: whoever has it open sees the bytes change).
   */
  private async writeBaseFile(local: string, content: Buffer, format: 'vhdx' | 'vhd', inPlace = false): Promise<void> {
    const tmp = await mkdtemp(path.join(tmpdir(), 'lb-hvsim-'))
    try {
      const raw = path.join(tmp, 'disk.raw')
      await writeFile(raw, content)
      const out = path.join(tmp, `disk.${format}`)
      const args = format === 'vhdx' ? ['convert', '-q', '-f', 'raw', '-O', 'vhdx', '-o', 'subformat=dynamic', raw, out] : ['convert', '-q', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', raw, out]
      await run('qemu-img', args)
      const bytes = await readFile(out)
      if (inPlace) {
        const fh = await open(local, 'r+')
        try {
          await fh.write(bytes, 0, bytes.length, 0)
          await fh.truncate(bytes.length)
        } finally {
          await fh.close()
        }
        return
      }
      await rm(local, { force: true })
      await writeFile(local, bytes)
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }

  /** Learns about an image file the simulator did not make (uploaded over SFTP by a restore). */
  async probe(winPath: string): Promise<DiskFile> {
    const known = this.get(winPath)
    if (known) return known
    const local = this.fs.toLocal(winPath)
    const { stdout } = await run('qemu-img', ['info', '--output=json', local])
    const info = JSON.parse(stdout) as { format?: string; 'virtual-size'?: number; 'backing-filename'?: string }
    const format = info.format === 'vhdx' ? 'vhdx' : info.format === 'vpc' ? 'vhd' : undefined
    if (format === undefined || typeof info['virtual-size'] !== 'number') throw new Error(`${winPath} is not a VHD or VHDX file`)
    let dataWriteGuid = randomBytes(16)
    if (format === 'vhdx') {
      const head = Buffer.alloc(256 * 1024)
      const fh = await open(local, 'r')
      try {
        await fh.read(head, 0, head.length, 0)
      } finally {
        await fh.close()
      }
      dataWriteGuid = Buffer.from(vhdxDataWriteGuid(head).replace(/[{}-]/g, ''), 'hex')
    }
    const file: DiskFile = {
      path: this.fs.toWin(local),
      format,
      type: 'dynamic',
      size: info['virtual-size'],
      blocks: new Map(),
      diskIdentifier: randomUUID().toUpperCase(),
      blockSize: 32 * 1024 * 1024,
      readOnly: false,
      dataWriteGuid,
      page83: randomBytes(16),
    }
    this.files.set(this.key(file.path), file)
    return file
  }

  /** Checkpoint: a new AVHDX beside `parentPath` whose parent it is, named like Hyper-V names them. */
  async createDifferencing(parentPath: string): Promise<DiskFile> {
    const parent = this.get(parentPath)
    if (!parent) throw new Error(`unknown disk ${parentPath}`)
    if (parent.format !== 'vhdx') throw new SimulatorLimit('checkpoints of VHD (not VHDX) disks (.avhd files)')
    const stem = winBasename(parent.path).replace(/(_[0-9A-F-]{36})?\.a?vhdx$/i, '')
    const child = `${winDirname(parent.path)}\\${stem}_${randomUUID().toUpperCase()}.avhdx`
    const file: DiskFile = {
      path: child,
      format: 'vhdx',
      type: 'differencing',
      size: parent.size,
      parent: parent.path,
      blocks: new Map(),
      diskIdentifier: randomUUID().toUpperCase(),
      blockSize: AVHDX_BLOCK,
      readOnly: false,
      dataWriteGuid: randomBytes(16),
      page83: Buffer.from(parent.page83),
    }
    this.files.set(this.key(child), file)
    await this.writeDifferencing(file)
    return file
  }

  private async writeDifferencing(file: DiskFile): Promise<void> {
    const parent = this.get(file.parent ?? '')
    if (!parent) throw new Error(`the parent of ${file.path} is gone`)
    const parentHead = await this.head(parent)
    const local = this.fs.toLocal(file.path)
    const rel = winDirname(parent.path).toLowerCase() === winDirname(file.path).toLowerCase() ? `.\\${winBasename(parent.path)}` : parent.path
    const bytes = writeDifferencingVhdx({
      virtualSize: file.size,
      blocks: file.blocks,
      dataWriteGuid: file.dataWriteGuid,
      page83: file.page83,
      locator: {
        parentLinkage: vhdxDataWriteGuid(parentHead),
        relativePath: rel,
        volumePath: `\\\\?\\Volume${VOLUME_GUID}${parent.path.slice(2)}`,
        absoluteWin32Path: parent.path,
      },
    })
    await writeFile(local, bytes)
  }

  private async head(file: DiskFile): Promise<Buffer> {
    const fh = await open(this.fs.toLocal(file.path), 'r')
    try {
      const buf = Buffer.alloc(256 * 1024)
      await fh.read(buf, 0, buf.length, 0)
      return buf
    } finally {
      await fh.close()
    }
  }

  /** What the guest sees through `top` and its parents. */
  async read(top: string, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length)
    let pos = 0
    while (pos < length) {
      const at = offset + pos
      const block = Math.floor(at / AVHDX_BLOCK)
      const inBlock = at - block * AVHDX_BLOCK
      const n = Math.min(length - pos, AVHDX_BLOCK - inBlock)
      ;(await this.readSpan(top, at, n)).copy(out, pos)
      pos += n
    }
    return out
  }

  private async readSpan(p: string, at: number, n: number): Promise<Buffer> {
    const file = this.get(p)
    if (!file) throw new Error(`unknown disk ${p}`)
    if (file.type !== 'differencing') {
      const content = await this.baseContent(file)
      const out = Buffer.alloc(n)
      if (at < content.length) content.copy(out, 0, at, Math.min(content.length, at + n))
      return out
    }
    const block = Math.floor(at / AVHDX_BLOCK)
    const data = file.blocks.get(block)
    if (data) return Buffer.from(data.subarray(at - block * AVHDX_BLOCK, at - block * AVHDX_BLOCK + n))
    return await this.readSpan(file.parent ?? '', at, n)
  }

  private async baseContent(file: DiskFile): Promise<Buffer> {
    const cached = this.content.get(this.key(file.path))
    if (cached) return cached
    const tmp = await mkdtemp(path.join(tmpdir(), 'lb-hvsim-'))
    try {
      const raw = path.join(tmp, 'disk.raw')
      await run('qemu-img', ['convert', '-q', '-f', file.format === 'vhdx' ? 'vhdx' : 'vpc', '-O', 'raw', this.fs.toLocal(file.path), raw])
      const data = await readFile(raw)
      const content = data.length === file.size ? data : Buffer.concat([data, Buffer.alloc(Math.max(0, file.size - data.length))]).subarray(0, file.size)
      this.content.set(this.key(file.path), content)
      return content
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }

  /**
   * A write by the guest (or a merge) into `top`: differencing files gain whole blocks (rewritten in place), base
   * files are rewritten — as a new file, or over the same one with `inPlace` (a background merge).
   */
  async write(top: string, offset: number, data: Buffer, how: { readonly inPlace?: boolean } = {}): Promise<void> {
    const file = this.get(top)
    if (!file) throw new Error(`unknown disk ${top}`)
    if (offset < 0 || offset + data.length > file.size) throw new Error('write outside the disk')
    for (const l of this.changeListeners) l(file, offset, data.length)
    if (file.type === 'differencing') {
      let pos = 0
      while (pos < data.length) {
        const at = offset + pos
        const block = Math.floor(at / AVHDX_BLOCK)
        const inBlock = at - block * AVHDX_BLOCK
        const n = Math.min(data.length - pos, AVHDX_BLOCK - inBlock)
        const blockLen = Math.min(AVHDX_BLOCK, file.size - block * AVHDX_BLOCK)
        const current = file.blocks.get(block) ?? (await this.read(file.parent ?? '', block * AVHDX_BLOCK, blockLen))
        const next = Buffer.alloc(AVHDX_BLOCK)
        current.copy(next)
        data.copy(next, inBlock, pos, pos + n)
        file.blocks.set(block, next)
        pos += n
      }
      await this.writeDifferencing(file)
      return
    }
    const content = Buffer.from(await this.baseContent(file))
    data.copy(content, offset)
    this.content.set(this.key(file.path), content)
    await this.writeBaseFile(this.fs.toLocal(file.path), content, file.format, how.inPlace === true)
  }

  /**
   * Merges a differencing file into its parent (what deleting a checkpoint does), runs `merged` (to point the VM's
   * drives and the child's own children at the parent) and deletes the child. Without `pace` all at once; with it (a background merge) piece by piece (MERGE_PIECE bytes of the child's blocks, in disk order), each
   * written over the parent file in place after `pace` returns. What the guest sees through the child stays the same throughout: the child
   * keeps its blocks until the end.
   */
  async mergeIntoParent(childPath: string, pace?: MergePace, merged?: () => Promise<void>): Promise<string> {
    const child = this.get(childPath)
    if (child?.type !== 'differencing' || child.parent === undefined) throw new Error(`${childPath} is not a differencing disk`)
    const parent = this.get(child.parent)
    if (!parent) throw new Error(`the parent of ${childPath} is gone`)
    if (pace !== undefined) {
      const pieces: { at: number; data: Buffer }[] = []
      for (const [b, data] of [...child.blocks].sort((x, y) => x[0] - y[0])) {
        for (let off = 0; off < AVHDX_BLOCK; off += MERGE_PIECE) {
          const at = b * AVHDX_BLOCK + off
          const n = Math.min(MERGE_PIECE, parent.size - at)
          if (n <= 0) break
          pieces.push({ at, data: Buffer.from(data.subarray(off, off + n)) })
        }
      }
      for (const [i, p] of pieces.entries()) {
        await pace(i, pieces.length)
        await this.write(parent.path, p.at, p.data, { inPlace: true })
      }
      await pace(pieces.length, pieces.length)
      await merged?.()
      await this.remove(childPath)
      return parent.path
    }
    for (const b of child.blocks.keys()) for (const l of this.changeListeners) l(parent, b * AVHDX_BLOCK, Math.min(AVHDX_BLOCK, parent.size - b * AVHDX_BLOCK))
    if (parent.type === 'differencing') {
      for (const [b, data] of child.blocks) parent.blocks.set(b, data)
      await this.writeDifferencing(parent)
    } else if (child.blocks.size > 0) {
      const content = Buffer.from(await this.baseContent(parent))
      for (const [b, data] of child.blocks) data.copy(content, b * AVHDX_BLOCK, 0, Math.min(AVHDX_BLOCK, content.length - b * AVHDX_BLOCK))
      this.content.set(this.key(parent.path), content)
      await this.writeBaseFile(this.fs.toLocal(parent.path), content, parent.format)
    }
    await merged?.()
    await this.remove(childPath)
    return parent.path
  }

  /** Copies a parent's blocks down into a child that does not have them (merging a shared parent into its children). */
  async absorbParent(childPath: string, parentPath: string): Promise<void> {
    const child = this.get(childPath)
    const parent = this.get(parentPath)
    if (child?.type !== 'differencing' || parent?.type !== 'differencing') throw new Error('absorbParent needs two differencing disks')
    for (const [b, data] of parent.blocks) if (!child.blocks.has(b)) child.blocks.set(b, data)
    child.parent = parent.parent
    await this.writeDifferencing(child)
  }

  /** Points a differencing file at a new parent (after the old one was merged away) and rewrites its parent locator. */
  async relink(p: string, parent: string): Promise<void> {
    const file = this.get(p)
    if (file?.type !== 'differencing') throw new Error(`${p} is not a differencing disk`)
    file.parent = parent
    await this.writeDifferencing(file)
  }

  async remove(p: string): Promise<void> {
    const file = this.get(p)
    await rm(this.fs.toLocal(p), { force: true })
    for (const l of this.removeListeners) l(p)
    if (file) {
      this.files.delete(this.key(file.path))
      this.content.delete(this.key(file.path))
    }
  }

  /** The file was changed behind the simulator's back (SFTP write): forget cached content. */
  invalidate(p: string): void {
    const file = this.get(p)
    if (file && file.type !== 'differencing') this.content.delete(this.key(file.path))
  }

  /** Moved by a rename over SFTP. */
  renamed(from: string, to: string): void {
    const file = this.get(from)
    if (!file) return
    this.files.delete(this.key(from))
    this.content.delete(this.key(from))
    file.path = normalizeWin(to)
    this.files.set(this.key(to), file)
  }

  async fileSize(p: string): Promise<number> {
    return (await stat(this.fs.toLocal(p))).size
  }

  /** Chain of files from `top` to its base. */
  chain(top: string): DiskFile[] {
    const out: DiskFile[] = []
    let p: string | undefined = top
    while (p !== undefined) {
      const f = this.get(p)
      if (!f || out.length > 64) break
      out.push(f)
      p = f.parent
    }
    return out
  }
}
