/**
 * The set of chunk ids a backup may skip, shared with the worker threads through SharedArrayBuffers so a worker
 * can hash a chunk, see it is known and answer with just the id — one round trip and no copy back, instead of
 * returning every chunk to the main thread to ask. Open addressing, linear probing, fixed capacity.
 *
 * One writer (the main thread) and many readers. A slot's id bytes are written before its flag is set with
 * Atomics.store, and readers check the flag with Atomics.load first, so a reader sees a whole id or an empty slot.
 * "Not found" is always safe (the chunk is sealed and written again; writes are idempotent); "found" is exact.
 */
export interface KnownTableHandle {
  readonly flags: SharedArrayBuffer
  readonly ids: SharedArrayBuffer
}

const ID_BYTES = 32

export class KnownTable {
  readonly handle: KnownTableHandle
  private readonly flags: Int32Array
  private readonly ids: Uint8Array
  private readonly mask: number
  private count = 0

  /** `expected`: ids that will be added (known ones plus this backup's chunks); the table is sized for 2× that. */
  static create(expected: number): KnownTable {
    let capacity = 1024
    while (capacity < expected * 2) capacity *= 2
    return new KnownTable({ flags: new SharedArrayBuffer(capacity * 4), ids: new SharedArrayBuffer(capacity * ID_BYTES) })
  }

  constructor(handle: KnownTableHandle) {
    this.handle = handle
    this.flags = new Int32Array(handle.flags)
    this.ids = new Uint8Array(handle.ids)
    this.mask = this.flags.length - 1
  }

  /** Adds an id (hex). Beyond 3/4 full it stops adding: lookups stay short, correctness is unaffected. */
  add(idHex: string): void {
    if (this.count * 4 >= this.flags.length * 3) return
    const id = Buffer.from(idHex, 'hex')
    for (let slot = this.slotOf(id); ; slot = (slot + 1) & this.mask) {
      if (Atomics.load(this.flags, slot) === 0) {
        this.ids.set(id, slot * ID_BYTES)
        Atomics.store(this.flags, slot, 1)
        this.count++
        return
      }
      if (this.equalsAt(slot, id)) return
    }
  }

  has(id: Uint8Array): boolean {
    for (let slot = this.slotOf(id); ; slot = (slot + 1) & this.mask) {
      if (Atomics.load(this.flags, slot) === 0) return false
      if (this.equalsAt(slot, id)) return true
    }
  }

  private slotOf(id: Uint8Array): number {
    // Ids are SHA-256/HMAC outputs: their first bytes are already uniformly distributed.
    return (((id[0] ?? 0) << 24) | ((id[1] ?? 0) << 16) | ((id[2] ?? 0) << 8) | (id[3] ?? 0)) & this.mask
  }

  private equalsAt(slot: number, id: Uint8Array): boolean {
    const base = slot * ID_BYTES
    for (let i = 0; i < ID_BYTES; i++) if (this.ids[base + i] !== id[i]) return false
    return true
  }
}
