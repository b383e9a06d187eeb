import type { RepositoryErrorCode, RepositoryErrorParams } from '../errors.js'
import type { KnownTableHandle } from './known-table.js'

/** Messages between the codec pool and its workers. Buffers travel as transferred ArrayBuffers (no copies). */
export type WorkerRequest =
  | { readonly op: 'hash'; readonly seq: number; readonly data: ArrayBuffer; readonly length: number }
  | { readonly op: 'seal'; readonly seq: number; readonly data: ArrayBuffer; readonly length: number; readonly id: string }
  | {
      readonly op: 'open'
      readonly seq: number
      readonly data: ArrayBuffer
      readonly length: number
      readonly id: string
      readonly expectedLength: number
      /** Memory to decompress into (it comes back, used or not: as the result's `data` or among `spares`). */
      readonly into?: ArrayBuffer
    }
  | { readonly op: 'ingest'; readonly seq: number; readonly data: ArrayBuffer; readonly length: number; readonly known: KnownTableHandle }

export type WorkerResponse =
  | {
      readonly seq: number
      readonly ok: true
      readonly id?: string | null
      readonly data?: ArrayBuffer
      /** Where the result starts in `data` (default 0): an opened chunk may be a view of the memory it came in. */
      readonly offset?: number
      readonly length?: number
      /** For 'ingest': the sealed chunk's header and tag around the body in `data` (see SealedParts). */
      readonly head?: Uint8Array
      readonly tail?: Uint8Array
      /** For 'open': memory that came with the request and holds nothing now (the object, an unused `into`). */
      readonly spares?: ArrayBuffer[]
    }
  | { readonly seq: number; readonly ok: false; readonly error: SerializedError }

export interface SerializedError {
  readonly code?: RepositoryErrorCode
  readonly message: string
  readonly params?: RepositoryErrorParams
}

export interface WorkerInit {
  readonly dataKey?: Uint8Array | undefined
  readonly idKey?: Uint8Array | undefined
  readonly compressionLevel: number
  /** Nice value the worker thread lowers itself to (Linux); 0 or absent = normal priority. */
  readonly niceness?: number
}
