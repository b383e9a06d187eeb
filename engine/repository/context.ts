import type { RepositoryBackend } from './backend.js'
import type { ChunkOps } from './codec/chunk-ops.js'
import type { RepositoryConfig } from './config.js'
import type { ChunkCodec } from './workers/codec-pool.js'
import type { SummaryCache } from './summary-cache.js'

/** What every repository operation works with; built once by openRepository and passed down explicitly. */
export interface RepoContext {
  readonly backend: RepositoryBackend
  readonly config: RepositoryConfig
  readonly encrypted: boolean
  /** Worker-backed (or inline) chunk hashing, sealing and opening. */
  readonly codec: ChunkCodec
  /** Main-thread codec for small things (manifests). */
  readonly ops: ChunkOps
  readonly clock: () => number
  readonly locking: LockingSettings
  /** Restore-point summaries remembered across opens (summary-cache.ts); listing and prune planning use it. */
  readonly summaryCache?: SummaryCache | undefined
}

export interface LockingSettings {
  /** How long an operation waits for a conflicting holder before REPO_LOCKED. */
  readonly timeoutMs: number
  readonly heartbeatMs: number
  readonly staleAfterMs: number
  /** Allowed difference between this machine's clock and the storage's, for GC's age comparisons. */
  readonly clockSkewMs: number
  readonly host?: string | undefined
}
