import { acquireLock, type HeldLock, type LockKind } from './lock.js'
import type { RepositoryBackend } from './backend.js'
import type { RepoContext } from './context.js'

/** Takes a lock on the repository (or on `backend`, a copy's target) with the context's waiting and heartbeat settings. */
export function lockRepository(ctx: RepoContext, kind: LockKind, operation: string, signal?: AbortSignal, backend: RepositoryBackend = ctx.backend): Promise<HeldLock> {
  return acquireLock({
    backend,
    kind,
    operation,
    timeoutMs: ctx.locking.timeoutMs,
    heartbeatMs: ctx.locking.heartbeatMs,
    staleAfterMs: ctx.locking.staleAfterMs,
    host: ctx.locking.host,
    clock: ctx.clock,
    signal,
  })
}
