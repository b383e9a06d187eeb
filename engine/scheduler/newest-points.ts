import type { Plan } from '../api/contract-plans'
import type { Repositories } from '../repository-access/repositories'

export interface PlanPoints {
  /** The newest restore point of each VM of the plan that has one, labelled with the VM's name. */
  readonly points: { readonly id: string; readonly label: string }[]
  /** The VMs of the plan without any restore point in the plan's repository (yet). */
  readonly missing: string[]
}

/**
 * What a check on the plan's own schedule boots: the newest point of each of its VMs in its repository, matched the way
 * the "no recent backup" alert matches them (source host id, else name, and VM id), whichever run made it.
 */
export async function newestPointsOf(plan: Plan, repositories: Repositories, signal: AbortSignal): Promise<PlanPoints> {
  const repo = await repositories.open(plan.repo !== undefined ? { location: plan.repo } : {}, signal)
  const newest = new Map<string, { id: string; finishedAt: string }>()
  try {
    for (const p of await repo.listPoints(signal)) {
      const key = `${p.sourceHost.id ?? p.sourceHost.name}/${p.vm.id}`
      const seen = newest.get(key)
      if (seen === undefined || seen.finishedAt < p.finishedAt) newest.set(key, { id: p.id, finishedAt: p.finishedAt })
    }
  } finally {
    await repo.close()
  }
  const points: { id: string; label: string }[] = []
  const missing: string[] = []
  const seen = new Set<string>()
  for (const t of plan.targets) {
    const key = `${t.host}/${t.vm}`
    if (seen.has(key)) continue
    seen.add(key)
    const label = t.vmName ?? t.vm
    const point = newest.get(key)
    if (point === undefined) missing.push(label)
    else points.push({ id: point.id, label })
  }
  return { points, missing }
}
