import path from 'node:path'
import { NotifySettingsStore } from '../state/notify-settings'
import { NotifyStateStore } from '../state/notify-state'
import { statePaths } from '../state/paths'
import type { SecretStore } from '../state/secret-store'
import type { RetryPolicy } from './delivery'
import type { NotifyEvent } from './events'
import { NotifyConfig } from './notify-config'
import { Notifier, type ChannelDelivery } from './notifier'
import { AlertEpisodes } from './alert-episodes'
import { snapshotReviewEvents, spaceLowEvents, type LocalRepository, type OverdueSnapshot } from './condition-alerts'
import { claimDailySummary, localDate, staleVmEvents, type VmBackupStatus } from './stale-check'

type SummaryFacts = Omit<Extract<NotifyEvent, { kind: 'daily-summary' }>, 'kind' | 'date'>

/** Alerts, ready for every door: configuration, sending, and the periodic checks the scheduler calls. */
export interface NotifyService {
  readonly config: NotifyConfig
  readonly notifier: Notifier
  /** Send an event now (filtered by the admin's choice of events). Never throws. */
  event(event: NotifyEvent, signal?: AbortSignal): Promise<ChannelDelivery[]>
  /**
   * The "no successful backup for N hours" check: call it from the app's timer, `serve` and `run-due` with the
   * VMs the plans protect. Alerts once per VM per episode. Never throws.
   */
  checkStaleVms(vms: readonly VmBackupStatus[], signal?: AbortSignal): Promise<ChannelDelivery[]>
  /** Sends the daily summary once a day after its hour; `collect` is asked only when it is due. Never throws. */
  dailySummaryIfDue(collect: () => Promise<SummaryFacts>, signal?: AbortSignal): Promise<boolean>
  /** `repo-space-low` for local repositories below the limit, once per episode (plan watch, after runs). Never throws. */
  checkRepositorySpace(repos: readonly LocalRepository[], signal?: AbortSignal): Promise<ChannelDelivery[]>
  /**
   * `snapshot-review` for a VM's snapshots past their review date and not kept, once per snapshot; `overdue` is the
   * VM's whole list (a snapshot no longer in it ends its episode). Never throws.
   */
  checkSnapshotReviews(hostVmKey: string, overdue: readonly OverdueSnapshot[], signal?: AbortSignal): Promise<ChannelDelivery[]>
}

export function createNotifyService(options: { readonly home: string; readonly secrets: SecretStore; readonly policy?: RetryPolicy; readonly now?: () => Date }): NotifyService {
  const paths = statePaths(options.home)
  const settings = new NotifySettingsStore(paths.notifySettings)
  const state = new NotifyStateStore(paths.notifyState)
  const now = options.now ?? (() => new Date())
  const notifier = new Notifier({ settings, state, secrets: options.secrets, logDir: paths.logs, now, ...(options.policy ? { policy: options.policy } : {}) })
  const config = new NotifyConfig({ settings, state, secrets: options.secrets, now })
  const episodes = new AlertEpisodes(path.join(paths.home, 'notify-episodes.json'))
  // Nobody to tell, or the event switched off: no episode opens, so a channel added later still hears of it.
  const wanted = async (kind: NotifyEvent['kind']): Promise<boolean> => {
    const s = await settings.read()
    return s.channels.length > 0 && (s.events as readonly string[]).includes(kind)
  }
  const sendAll = async (events: readonly NotifyEvent[], signal?: AbortSignal): Promise<ChannelDelivery[]> => (await Promise.all(events.map((e) => notifier.event(e, signal)))).flat()
  return {
    config,
    notifier,
    event: (event, signal) => notifier.event(event, signal),
    async checkStaleVms(vms, signal) {
      try {
        const s = await settings.read()
        // Nobody to tell: leave episodes unopened, so a channel added later still hears about a VM that is stale now.
        if (!s.events.includes('vm-stale') || s.channels.length === 0) return []
        const events = await staleVmEvents({ vms, staleHours: s.staleHours, now: now(), state })
        const sent = await Promise.all(events.map((e) => notifier.event(e, signal)))
        return sent.flat()
      } catch {
        return []
      }
    },
    async checkRepositorySpace(repos, signal) {
      try {
        if (!(await wanted('repo-space-low'))) return []
        return await sendAll(await spaceLowEvents(repos, episodes, now()), signal)
      } catch {
        return []
      }
    },
    async checkSnapshotReviews(hostVmKey, overdue, signal) {
      try {
        if (!(await wanted('snapshot-review'))) return []
        return await sendAll(await snapshotReviewEvents(hostVmKey, overdue, episodes, now()), signal)
      } catch {
        return []
      }
    },
    async dailySummaryIfDue(collect, signal) {
      try {
        const s = await settings.read()
        if (!s.events.includes('daily-summary') || s.channels.length === 0) return false
        const at = now()
        if (!(await claimDailySummary({ now: at, summaryHour: s.summaryHour, state }))) return false
        const facts = await collect()
        await notifier.event({ kind: 'daily-summary', date: localDate(at), ...facts }, signal)
        return true
      } catch {
        return false
      }
    },
  }
}
