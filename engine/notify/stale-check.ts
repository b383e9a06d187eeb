import type { NotifyStateStore } from '../state/notify-state'
import type { NotifyEvent } from './events'

/** One VM a plan protects, as the scheduler knows it. */
export interface VmBackupStatus {
  /** Stable identity across runs, e.g. `${hostId}/${vmId}`. */
  readonly key: string
  readonly vm: string
  readonly host?: string
  /** The newest successful backup, if there ever was one. */
  readonly lastSuccessAt?: string
  /** Since when a plan covers the VM: a VM added yesterday is not "without backup for 26 h" yet. */
  readonly protectedSince: string
}

const parse = (iso: string | undefined) => (iso === undefined ? Number.NaN : Date.parse(iso))

/**
 * The "no successful backup for N hours" check. One alert per VM per episode: an episode starts when a VM goes
 * past the limit and ends when it has a newer success, so a check every minute alerts once, not every minute; a
 * VM that leaves the list (plan removed) ends its episode too. Returns the events to send.
 */
export async function staleVmEvents(options: { readonly vms: readonly VmBackupStatus[]; readonly staleHours: number; readonly now: Date; readonly state: NotifyStateStore }): Promise<NotifyEvent[]> {
  const { vms, staleHours, now, state } = options
  const limitMs = staleHours * 3600_000
  return state.mutate((data) => {
    const events: NotifyEvent[] = []
    const seen = new Set<string>()
    for (const vm of vms) {
      seen.add(vm.key)
      const reference = Number.isNaN(parse(vm.lastSuccessAt)) ? parse(vm.protectedSince) : parse(vm.lastSuccessAt)
      const stale = !Number.isNaN(reference) && now.getTime() - reference > limitMs
      const open = data.staleEpisodes[vm.key]
      if (!stale) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by VM
        if (open) delete data.staleEpisodes[vm.key]
        continue
      }
      if (open && open.lastSuccessAt === (vm.lastSuccessAt ?? null)) continue
      data.staleEpisodes[vm.key] = { lastSuccessAt: vm.lastSuccessAt ?? null, alertedAt: now.toISOString() }
      events.push({ kind: 'vm-stale', vm: vm.vm, hours: staleHours, ...(vm.host !== undefined ? { host: vm.host } : {}), ...(vm.lastSuccessAt !== undefined ? { lastSuccessAt: vm.lastSuccessAt } : {}) })
    }
    for (const key of Object.keys(data.staleEpisodes)) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by VM
      if (!seen.has(key)) delete data.staleEpisodes[key]
    }
    return events
  })
}

/** The local calendar date, YYYY-MM-DD. */
export function localDate(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

/**
 * Claims today's daily summary when its hour has come and no Lifeboat process sent it yet (under the state lock,
 * so the app and a cron'd `run-due` do not both send it). True: the caller sends it now.
 */
export async function claimDailySummary(options: { readonly now: Date; readonly summaryHour: number; readonly state: NotifyStateStore }): Promise<boolean> {
  const { now, summaryHour, state } = options
  if (now.getHours() < summaryHour) return false
  const today = localDate(now)
  return state.mutate((data) => {
    if (data.lastSummaryDate === today) return false
    data.lastSummaryDate = today
    return true
  })
}
