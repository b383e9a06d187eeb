/**
 * A BlockSource is any disk Lifeboat can read at random offsets: a local image file, a file or device on a
 * host read over SSH, a disk inside a restore point, an image format layered on one of those, or guest-visible
 * bytes an adapter already decoded (an NBD export, a XAPI raw export).
 * Everything above it (partition tables, filesystems, the repository's ingest, exports) reads through this.
 * Defined here, at the bottom, because adapters both hand these out (backups) and take them (restores), and
 * adapters never import the engine; engine/disks/block-source.ts re-exports it for the engine.
 *
 * Implementations treat their input as hostile: read() never returns bytes outside [0, size) and never
 * returns fewer bytes than asked for inside that range — it throws instead.
 */
export interface BlockSource {
  /** Virtual size in bytes (what the guest sees), not the size of the file holding it. */
  readonly size: number
  /** Human-readable description for error messages ("vm1-disk0.qcow2 on host1"). */
  readonly label: string
  /** Reads exactly `length` bytes at `offset`; throws a RangeError when the range leaves [0, size). */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>
  /**
   * Optional allocation map: yields extents in ascending order that together cover [0, size). A `zero` extent
   * is known to read as zeros without being read (sparse file hole, unallocated qcow2/VHD block), so
   * ingest and export can skip it. Sources that cannot tell simply omit this method.
   */
  extents?(signal?: AbortSignal): AsyncIterable<Extent>
  /**
   * Optional: reads `target.length` bytes at `offset` into a buffer the caller owns, so bulk readers (ingest)
   * can recycle their buffers instead of allocating one per read. Same bounds rules as read().
   */
  readInto?(target: Buffer, offset: number, signal?: AbortSignal): Promise<void>
  /**
   * Optional: like read(), but the bytes may be a view of memory the source keeps (a restore point's decoded chunk)
   * instead of a copy — for a reader that only passes them on (an upload, a server) and never modifies them.
   */
  readShared?(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>
  /**
   * Optional: the bytes lent to a caller that passes them on and calls release() once nothing refers to them any
   * more (an upload: when the channel has taken them); their memory then holds a later read. Never modified by the
   * caller; release() at most once, and not at all when unsure (a failed send) — the memory is then simply dropped.
   */
  lend?(offset: number, length: number, signal?: AbortSignal): Promise<{ readonly data: Buffer; release(): void }>
  /** Releases files, handles and connections. Idempotent. */
  close(): Promise<void>
}

export interface Extent {
  readonly offset: number
  readonly length: number
  readonly kind: 'data' | 'zero'
}

const ZERO_BLOCK = Buffer.alloc(64 * 1024)

/** Whether every byte is zero, compared a block at a time (memcmp) rather than byte by byte in JavaScript. */
export function isAllZero(b: Uint8Array): boolean {
  for (let at = 0; at < b.length; at += ZERO_BLOCK.length) {
    const end = Math.min(b.length, at + ZERO_BLOCK.length)
    if (!ZERO_BLOCK.subarray(0, end - at).equals(b.subarray(at, end))) return false
  }
  return true
}

/** Throws the standard error for a read outside a source. Shared so every source words it the same way. */
export function assertReadInBounds(source: Pick<BlockSource, 'size' | 'label'>, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new RangeError(`Read of ${length} bytes at offset ${offset} is outside ${source.label} (size ${source.size} bytes)`)
  }
}
