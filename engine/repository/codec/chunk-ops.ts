import { CHUNK_SIZE } from '../format.js'
import { RepositoryError } from '../errors.js'
import { chunkIdOf, openObject, sealInPlace, sealObject, type SealedParts } from './sealed-object.js'
import { ZstdCodec } from './zstd.js'
import type { KnownTable } from '../workers/known-table.js'

/** Everything a thread needs to hash, seal and open chunks. Plain data, so it can be handed to a worker. */
export interface CodecSettings {
  readonly dataKey?: Buffer | undefined
  readonly idKey?: Buffer | undefined
  readonly compressionLevel: number
}

export interface HashResult {
  /** null for an all-zero chunk, which is never stored. */
  readonly id: string | null
}

/** The CPU-heavy part of the repository, the same code whether it runs in a worker or inline. */
export class ChunkOps {
  private readonly zstd: ZstdCodec
  private readonly zeros = Buffer.alloc(CHUNK_SIZE)

  constructor(private readonly settings: CodecSettings) {
    this.zstd = new ZstdCodec(settings.compressionLevel)
  }

  hash(data: Buffer): HashResult {
    if (data.length <= CHUNK_SIZE && data.equals(this.zeros.subarray(0, data.length))) return { id: null }
    return { id: chunkIdOf(data, this.settings.idKey) }
  }

  /**
   * The whole backup step for one chunk: zero check, id, and — unless the id is in `known` — the sealed object.
   * `sealed` undefined with a non-null id means "already stored".
   */
  ingest(data: Buffer, known: KnownTable): { id: string | null; sealed?: SealedParts } {
    const { id } = this.hash(data)
    if (id === null || known.has(Buffer.from(id, 'hex'))) return { id }
    return { id, sealed: sealInPlace(data, { kind: 'chunk', id, dataKey: this.settings.dataKey, zstd: this.zstd }) }
  }

  seal(data: Buffer, id: string): Buffer {
    return sealObject(data, { kind: 'chunk', id, dataKey: this.settings.dataKey, zstd: this.zstd })
  }

  /**
   * Opens a stored chunk and proves it is the one asked for: right length and content that hashes to its id. The
   * object is consumed (decrypted in place; a stored chunk comes back as a view of it); a compressed one is
   * decompressed into `into` when given (and large enough).
   */
  open(object: Buffer, id: string, expectedLength: number, into?: Buffer): Buffer {
    const plain = openObject(object, { kind: 'chunk', id, dataKey: this.settings.dataKey, zstd: this.zstd, maxPlainLength: CHUNK_SIZE, consume: true, into })
    if (plain.length !== expectedLength) {
      throw new RepositoryError('CORRUPT_CHUNK', `holds ${plain.length} bytes where ${expectedLength} were expected`, {
        id,
        reason: 'wrong length',
      })
    }
    if (chunkIdOf(plain, this.settings.idKey) !== id) {
      throw new RepositoryError('CORRUPT_CHUNK', 'its content does not match its id', { id, reason: 'content does not match its id' })
    }
    return plain
  }

  /** Seals arbitrary data (a manifest) in the same envelope, with its own magic. */
  sealManifest(data: Buffer, pointId: string): Buffer {
    return sealObject(data, { kind: 'manifest', id: pointId, dataKey: this.settings.dataKey, zstd: this.zstd })
  }

  openManifest(object: Buffer, pointId: string, maxPlainLength: number): Buffer {
    return openObject(object, { kind: 'manifest', id: pointId, dataKey: this.settings.dataKey, zstd: this.zstd, maxPlainLength })
  }
}
