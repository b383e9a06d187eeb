import { createRequire } from 'node:module'
import { inflateSync } from 'node:zlib'
import type * as ZstdBinding from 'zstd-napi/binding'
import { FilesystemError } from '../errors'
import { COMPRESS_LZO, COMPRESS_NONE, COMPRESS_ZLIB, COMPRESS_ZSTD } from './btrfs-items'
import { btrfsLzoDecompress } from './lzo1x'

// The low-level binding decompresses into a buffer whose size we choose, not the size a forged frame header claims.
const zstd = createRequire(import.meta.url)('zstd-napi/binding') as typeof ZstdBinding

/** btrfs never compresses more than 128 KiB into one extent; anything claiming more is damage. */
export const MAX_COMPRESSED_EXTENT = 128 * 1024

const NAMES = ['none', 'zlib', 'lzo', 'zstd']

/**
 * The `ramBytes` bytes an extent decompresses to. Data that ends early reads as zeros after its end (as the kernel
 * does); data that is damaged or would grow beyond `ramBytes` is a FilesystemError.
 */
export function decompressExtent(compression: number, data: Buffer, ramBytes: number, sectorSize: number, what: string, label: string): Buffer {
  if (compression === COMPRESS_NONE) return data
  if (ramBytes > MAX_COMPRESSED_EXTENT || data.length > MAX_COMPRESSED_EXTENT) throw new FilesystemError('corrupt', `${label}: ${what} claims ${ramBytes} bytes of compressed data (btrfs stores at most 128 KiB per extent)`)
  try {
    let out: Buffer
    if (compression === COMPRESS_ZLIB) out = inflateSync(data, { maxOutputLength: Math.max(ramBytes, 1) })
    else if (compression === COMPRESS_LZO) out = btrfsLzoDecompress(data, ramBytes, sectorSize)
    else if (compression === COMPRESS_ZSTD) {
      // The frame is followed by zero padding to the sector; hand the decoder the frame alone.
      const frame = data.subarray(0, zstd.findFrameCompressedSize(data))
      const buf = Buffer.alloc(ramBytes)
      const n = zstd.decompress(buf, frame)
      out = buf.subarray(0, n)
    } else throw new Error(`unknown compression ${compression}`)
    if (out.length === ramBytes) return out
    const full = Buffer.alloc(ramBytes)
    out.copy(full, 0, 0, Math.min(out.length, ramBytes))
    return full
  } catch (e) {
    throw new FilesystemError('corrupt', `${label}: ${what} (${NAMES[compression] ?? compression}) cannot be decompressed: ${e instanceof Error ? e.message : String(e)}`)
  }
}
