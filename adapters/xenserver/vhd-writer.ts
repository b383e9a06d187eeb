import { VHD_BLOCK, vhdBat, vhdDynamicHeader, vhdFooter, vhdFullBitmap } from '../formats/vhd-layout'
import type { BlockSource } from '../host-adapter'

export { VHD_BLOCK }

/**
 * A dynamic VHD of a disk whose zero extents are known (a restore point's disk): only 2 MiB blocks holding data are
 * sent, and since the layout is known before any data is read, the exact length is too (XAPI takes no chunked
 * uploads). Creator "tap", as XenServer's own tools (tapdisk) write it.
 */
const TAP = { app: 'tap', version: 0x00010003, os: 'Lnux' } as const

export interface VhdPlan {
  readonly length: number
  readonly blocks: readonly number[]
  stream(signal?: AbortSignal): AsyncGenerator<Buffer>
}

/** Which blocks hold data, from the disk's extents; undefined when the disk cannot tell (then send it raw). */
export async function planVhd(disk: BlockSource, signal?: AbortSignal): Promise<VhdPlan | undefined> {
  if (disk.extents === undefined) return undefined
  const size = disk.size
  const entries = Math.ceil(size / VHD_BLOCK)
  const used = new Uint8Array(entries)
  let expected = 0
  for await (const e of disk.extents(signal)) {
    if (e.offset !== expected || e.length < 0 || e.offset + e.length > size) return undefined
    expected += e.length
    if (e.kind !== 'data' || e.length === 0) continue
    for (let i = Math.floor(e.offset / VHD_BLOCK); i * VHD_BLOCK < e.offset + e.length; i++) used[i] = 1
  }
  if (expected !== size) return undefined
  const blocks: number[] = []
  for (let i = 0; i < entries; i++) if (used[i] === 1) blocks.push(i)
  const { bat, fileLength } = vhdBat(entries, (i) => used[i] === 1)
  return {
    length: fileLength,
    blocks,
    async *stream(streamSignal?: AbortSignal) {
      const footer = vhdFooter(size, TAP)
      const header = vhdDynamicHeader(entries)
      yield footer
      yield header
      yield bat
      const bitmap = vhdFullBitmap()
      for (const i of blocks) {
        const len = Math.min(VHD_BLOCK, size - i * VHD_BLOCK)
        const data = await disk.read(i * VHD_BLOCK, len, streamSignal)
        yield bitmap
        yield len === VHD_BLOCK ? data : Buffer.concat([data, Buffer.alloc(VHD_BLOCK - len)])
      }
      yield footer
    },
  }
}

/** A disk as raw bytes, read in large pieces. */
export async function* rawStream(disk: BlockSource, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const piece = 4 * 1024 * 1024
  for (let at = 0; at < disk.size; at += piece) yield await disk.read(at, Math.min(piece, disk.size - at), signal)
}
