import { inflateRawSync, constants } from 'node:zlib'
import { createRequire } from 'node:module'
import { DiskFormatError } from '../errors'

interface ZstdBinding {
  findFrameCompressedSize(frame: Uint8Array): number
  decompress(dst: Uint8Array, src: Uint8Array): number
}

let zstd: ZstdBinding | undefined

/** zstd-napi's low-level binding: we need findFrameCompressedSize because a qcow2 cluster is padded to a sector. */
function loadZstd(): ZstdBinding {
  if (!zstd) {
    const require = createRequire(import.meta.url)
    zstd = require('zstd-napi/binding.js') as ZstdBinding
  }
  return zstd
}

/**
 * Inflates one compressed qcow2 cluster. The stored bytes run to a sector boundary, so there may be trailing bytes
 * from the next cluster: zlib is fed with a sync flush and cut at the cluster size; zstd stops at its frame end.
 */
export function decompressCluster(data: Buffer, clusterSize: number, type: 'zlib' | 'zstd', label: string): Buffer {
  try {
    if (type === 'zlib') {
      const out = inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: clusterSize })
      if (out.length < clusterSize) throw new Error(`inflated to ${out.length} bytes`)
      return out.subarray(0, clusterSize)
    }
    const z = loadZstd()
    const frame = data.subarray(0, z.findFrameCompressedSize(data))
    const out = Buffer.alloc(clusterSize)
    const n = z.decompress(out, frame)
    if (n !== clusterSize) throw new Error(`decompressed to ${n} bytes`)
    return out
  } catch (e) {
    if (e instanceof DiskFormatError) throw e
    throw new DiskFormatError('corrupt', `${label}: a compressed cluster cannot be decompressed (${e instanceof Error ? e.message : String(e)})`, {}, { cause: e })
  }
}
