import type { BlockSource } from '../block-source.js'

/** A run of a served disk that reads as zeros without being read (`zero`), or holds data. */
export interface Allocation {
  readonly length: number
  readonly zero: boolean
}

/**
 * What the NBD server serves: random reads, where the zeros are (so readers skip holes: NBD_CMD_BLOCK_STATUS and
 * structured-reply holes), and — only with a writable overlay — writes that never reach the source.
 */
export interface ServedDisk {
  readonly size: number
  readonly label: string
  /** The bytes at [offset, offset + length): they may be shared with a cache, so the caller must not modify them. */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>
  /** Runs covering [offset, offset + length) in order; their lengths add up to exactly `length`. */
  allocation(offset: number, length: number): readonly Allocation[]
  readonly writable?: {
    write(offset: number, data: Buffer): Promise<void>
    writeZeroes(offset: number, length: number): Promise<void>
    flush(): Promise<void>
  }
  close(): Promise<void>
}

/**
 * A restore point's disk as served: its chunk list says which fixed-size chunks are all zeros (stored as null),
 * so holes are known without reading anything.
 */
export function servedFromChunks(source: BlockSource & { readShared?: BlockSource['read'] }, chunks: readonly (string | null)[], chunkSize: number): ServedDisk {
  return {
    size: source.size,
    label: source.label,
    read: (offset, length, signal) => (source.readShared !== undefined ? source.readShared(offset, length, signal) : source.read(offset, length, signal)),
    allocation(offset, length) {
      const out: Allocation[] = []
      let at = offset
      const end = offset + length
      while (at < end) {
        const index = Math.floor(at / chunkSize)
        const zero = chunks[index] === null
        const to = Math.min(end, (index + 1) * chunkSize)
        const last = out[out.length - 1]
        if (last !== undefined && last.zero === zero) out[out.length - 1] = { length: last.length + (to - at), zero }
        else out.push({ length: to - at, zero })
        at = to
      }
      return out
    },
    close: () => source.close(),
  }
}
