import type { HostAdapter } from '../../adapters/host-adapter'
import type { JobContext } from './job-runner'

/**
 * On connect, before a job changes anything: cleans what earlier crashed or killed Lifeboat jobs left on the host
 * where that is safe (no running job owns it), and reports the rest so the admin can decide (lifeboat leftovers).
 */
export async function cleanSafeLeftovers(adapter: HostAdapter, host: string, ctx: JobContext): Promise<void> {
  if (adapter.reconcile === undefined) return
  try {
    const found = await adapter.reconcile.find(ctx.signal)
    const safe = found.filter((l) => l.safeToClean)
    if (safe.length > 0) {
      ctx.log('warn', `Found ${safe.length} thing(s) an earlier Lifeboat job left on ${host}; cleaning them up: ${safe.map((l) => l.description).join(' | ')}`)
      const result = await adapter.reconcile.clean(safe.map((l) => l.id), ctx.signal)
      for (const f of result.failed) ctx.log('warn', `Could not clean ${f.id}: ${f.reason}`)
    }
    const offered = found.filter((l) => !l.safeToClean && l.kind !== 'checkpoint')
    for (const l of offered) ctx.log('info', `Left by another Lifeboat job that may still be running (not touched): ${l.description}`)
  } catch (err) {
    ctx.log('warn', `Could not look for leftovers of earlier jobs on ${host}: ${err instanceof Error ? err.message : String(err)}`)
  }
}
