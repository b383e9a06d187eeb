import type { Plan } from '../api/contract-plans'
import type { NotifyService } from '../notify/notify-service'
import type { VmBackupStatus } from '../notify/stale-check'
import type { Repositories } from '../repository-access/repositories'
import type { PlanState } from './plans-store'

/** How often the running app looks for VMs without a recent backup: listing every plan's repository is not free. */
export const WATCH_INTERVAL_MS = 10 * 60_000

interface PlanEntry {
  readonly plan: Plan
  readonly state: PlanState
}

/**
 * Every VM an enabled plan protects, with its newest restore point in the plan's repository. A repository that cannot
 * be opened gives its VMs no newer success: they turn stale and the alert says so, which is the point — a repository
 * nobody can reach protects nothing.
 */
export async function protectedVms(entries: readonly PlanEntry[], repositories: Repositories, signal?: AbortSignal): Promise<VmBackupStatus[]> {
  const byRepo = new Map<string, Map<string, string>>()
  const newest = async (repo: string | undefined): Promise<Map<string, string>> => {
    const key = repo ?? ''
    const known = byRepo.get(key)
    if (known !== undefined) return known
    const found = new Map<string, string>()
    byRepo.set(key, found)
    try {
      const repository = await repositories.open(repo === undefined ? {} : { location: repo }, signal)
      try {
        for (const p of await repository.listPoints(signal)) {
          const vmKey = `${p.sourceHost.id ?? p.sourceHost.name}/${p.vm.id}`
          const seen = found.get(vmKey)
          if (seen === undefined || seen < p.finishedAt) found.set(vmKey, p.finishedAt)
        }
      } finally {
        await repository.close()
      }
    } catch {
      // Unreachable or locked: no success is known from it this time.
    }
    return found
  }
  const vms = new Map<string, VmBackupStatus>()
  for (const { plan } of entries) {
    if (!plan.enabled) continue
    const points = await newest(plan.repo)
    for (const t of plan.targets) {
      const key = `${t.host}/${t.vm}`
      const lastSuccessAt = points.get(key)
      const earlier = vms.get(key)
      // A VM in two plans counts from the older plan and the newer success.
      const protectedSince = earlier !== undefined && earlier.protectedSince < plan.createdAt ? earlier.protectedSince : plan.createdAt
      const best = [earlier?.lastSuccessAt, lastSuccessAt].filter((x): x is string => x !== undefined).sort().at(-1)
      vms.set(key, { key, vm: t.vmName ?? t.vm, host: t.hostName ?? t.host, protectedSince, ...(best !== undefined ? { lastSuccessAt: best } : {}) })
    }
  }
  return [...vms.values()]
}

/** The periodic alerts: VMs past the "no backup for N hours" limit (once per episode) and the daily summary once a day. */
export async function watchPlans(notify: NotifyService, entries: readonly PlanEntry[], repositories: Repositories, now: Date, signal?: AbortSignal): Promise<void> {
  const vms = await protectedVms(entries, repositories, signal)
  await notify.checkStaleVms(vms, signal)
  await notify.checkRepositorySpace(localRepositories(entries, repositories), signal)
  const settings = await notify.config.dto()
  const limit = now.getTime() - settings.staleHours * 3600_000
  await notify.dailySummaryIfDue(() => {
    const since = now.getTime() - 24 * 3600_000
    const recent = entries.filter((e) => e.state.lastRunAt !== undefined && Date.parse(e.state.lastRunAt) >= since)
    return Promise.resolve({
      runsSucceeded: recent.filter((e) => e.state.lastResult === 'succeeded').length,
      runsFailed: recent.filter((e) => e.state.lastResult === 'failed' || e.state.lastResult === 'partial').length,
      runsSkipped: entries.filter((e) => e.plan.enabled && e.state.missedRuns > 0).length,
      staleVms: vms.filter((v) => Date.parse(v.lastSuccessAt ?? v.protectedSince) < limit).map((v) => v.vm),
    })
  }, signal)
}

/** The enabled plans' repositories that live in a folder of this machine (free space is measured there). */
export function localRepositories(entries: readonly PlanEntry[], repositories: Repositories): { location: string; path: string }[] {
  const out = new Map<string, string>()
  for (const { plan } of entries) {
    if (!plan.enabled) continue
    try {
      const where = repositories.locate(plan.repo === undefined ? {} : { location: plan.repo })
      if (where.kind === 'local') out.set(repositories.resolve(plan.repo === undefined ? {} : { location: plan.repo }), where.path)
    } catch {
      // A plan with a location that no longer parses fails its runs, which alert by themselves.
    }
  }
  return [...out].map(([location, path]) => ({ location, path }))
}
