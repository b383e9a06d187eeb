import { NotifySettingsStore } from '../state/notify-settings'
import { NotifyStateStore } from '../state/notify-state'
import { statePaths } from '../state/paths'
import type { SecretStore } from '../state/secret-store'
import type { RetryPolicy } from './delivery'
import type { NotifyEvent } from './events'
import { NotifyConfig } from './notify-config'
import { Notifier, type ChannelDelivery } from './notifier'
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
}

export function createNotifyService(options: { readonly home: string; readonly secrets: SecretStore; readonly policy?: RetryPolicy; readonly now?: () => Date }): NotifyService {
  const paths = statePaths(options.home)
  const settings = new NotifySettingsStore(paths.notifySettings)
  const state = new NotifyStateStore(paths.notifyState)
  const now = options.now ?? (() => new Date())
  const notifier = new Notifier({ settings, state, secrets: options.secrets, logDir: paths.logs, now, ...(options.policy ? { policy: options.policy } : {}) })
  const config = new NotifyConfig({ settings, state, secrets: options.secrets, now })
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
