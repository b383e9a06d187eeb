import { createRequire } from 'node:module'
import type * as ZstdBinding from 'zstd-napi/binding'
import { CHUNK_SIZE } from '../format.js'

type Binding = typeof ZstdBinding

// The low-level binding lets us compress into a reused buffer and decompress into a buffer of a size *we* choose;
// the high-level decompress() allocates whatever size a (possibly forged) frame header claims.
const binding = createRequire(import.meta.url)('zstd-napi/binding') as Binding

const PROBE_SAMPLES = 4
const PROBE_BYTES = 16 * 1024

/** One compression and one decompression context per thread (they are not thread-safe, and reuse is faster). */
export class ZstdCodec {
  private readonly cctx = new binding.CCtx()
  private readonly probeCtx = new binding.CCtx()
  private readonly dctx = new binding.DCtx()
  /** Reused output buffer: allocating (and faulting in) 4 MiB per chunk costs more than it seems. */
  private readonly scratch = Buffer.allocUnsafe(binding.compressBound(CHUNK_SIZE))
  private readonly probeOut = Buffer.allocUnsafe(binding.compressBound(PROBE_BYTES))

  constructor(private readonly level: number) {}

  /**
   * The zstd frame for `data`, or undefined when compression would not make it smaller. The result may live in
   * a scratch buffer that the next call overwrites: copy it out before compressing again.
   */
  compressTransient(data: Uint8Array): Buffer | undefined {
    if (!this.looksCompressible(data)) return undefined
    const dest = binding.compressBound(data.length) <= this.scratch.length ? this.scratch : Buffer.allocUnsafe(binding.compressBound(data.length))
    const length = this.cctx.compress(dest, data, this.level)
    return length < data.length ? dest.subarray(0, length) : undefined
  }

  /**
   * Cheap test on a few samples (level 1): random or already-compressed data (encrypted volumes, media, archives)
   * is detected in ~0.1 ms instead of spending a full compression pass on it, which zstd would then not shrink.
   */
  private looksCompressible(data: Uint8Array): boolean {
    if (data.length < PROBE_SAMPLES * PROBE_BYTES * 4) return true
    let input = 0
    let output = 0
    for (let s = 0; s < PROBE_SAMPLES; s++) {
      const at = Math.floor((data.length / PROBE_SAMPLES) * s)
      input += PROBE_BYTES
      output += this.probeCtx.compress(this.probeOut, data.subarray(at, at + PROBE_BYTES), 1)
    }
    return output < input * 0.97
  }

  /**
   * Decompresses into exactly `expectedLength` bytes, or returns undefined when the frame does not yield that. The
   * result is the start of `into` when that is given and large enough (memory the caller recycles), else new.
   */
  decompressExact(frame: Uint8Array, expectedLength: number, into?: Buffer): Buffer | undefined {
    const out = into !== undefined && into.length >= expectedLength ? into.subarray(0, expectedLength) : Buffer.allocUnsafe(expectedLength)
    try {
      const written = this.dctx.decompress(out, frame)
      return written === expectedLength ? out : undefined
    } catch {
      return undefined
    }
  }
}
