import { VHD_BLOCK, vhdBat, vhdDynamicHeader, vhdFooter, vhdFullBitmap } from '../../../adapters/formats/vhd-layout.js'
import { CHUNK_SIZE } from '../format.js'
import { RepositoryError } from '../errors.js'
import { data, zeros, type ExportInput, type Piece } from './pieces.js'

/**
 * Dynamic VHD (layout in adapters/formats/vhd-layout.ts), blocks stored for non-zero chunks only.
 * The creator application is "win ", whose convention (shared by Hyper-V, XenServer and QEMU) is that the
 * footer's current size — not the CHS geometry — is the disk size, so sizes that are no CHS product survive.
 */
const BLOCK = VHD_BLOCK
const BLOCKS_PER_CHUNK = CHUNK_SIZE / BLOCK
export const VHD_MAX_SIZE = 2040 * 1024 ** 3
const WINDOWS = { app: 'win ', version: 0x000a0000, os: 'Wi2k' } as const

export async function* vhdImage(input: ExportInput, signal?: AbortSignal, now: number = Date.now()): AsyncGenerator<Piece> {
  if (input.size > VHD_MAX_SIZE) {
    throw new RepositoryError('EXPORT_UNSUPPORTED', `The disk is ${input.size} bytes; a VHD holds at most 2040 GiB. Export it as VHDX or qcow2 instead.`, {
      size: input.size,
      format: 'vhd',
    })
  }
  const size = Math.ceil(input.size / 512) * 512
  const blocks = Math.ceil(size / BLOCK)
  const footer = vhdFooter(size, WINDOWS, now)
  yield data(footer)
  yield data(vhdDynamicHeader(blocks))
  yield data(vhdBat(blocks, (b) => input.zeroChunks[Math.floor(b / BLOCKS_PER_CHUNK)] === false).bat)

  const bitmap = vhdFullBitmap()
  let i = 0
  for await (const chunk of input.chunks(signal)) {
    const zero = input.zeroChunks[i] !== false
    const chunkStart = i++ * CHUNK_SIZE
    if (zero) continue
    for (let at = 0; at < chunk.length; at += BLOCK) {
      if (chunkStart + at >= size) break
      yield data(bitmap)
      const part = chunk.subarray(at, Math.min(chunk.length, at + BLOCK))
      yield data(part)
      if (part.length < BLOCK) yield zeros(BLOCK - part.length)
    }
  }
  yield data(footer)
}
