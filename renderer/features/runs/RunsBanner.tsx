import { useState } from 'react'
import type { JobDto } from '../../../engine/api/contract'
import { useJobs, usePoints } from '../../api/queries'
import { ProgressBar } from '../../components/bits'
import { useT } from '../../i18n/i18n'
import { Button } from '../../components/Button'
import { DiscardRunDialog, type DiscardTarget } from './DiscardRunDialog'
import { RunRow } from './RunRow'
import { bannerRuns, isActiveJob, permanentJobOf, runConnection, unlistedReconnects } from './run-model'
import { useRunJobs } from './run-store'
import { usePermanentRequests, useRunsEverywhere, useRunsLiveUpdates } from './use-runs'
import { useRunJobOutcomes } from './use-run-job-outcomes'

/**
 * Across the whole app while any VM runs from a backup: what runs where, from which backup, and the two ways out
 * (make it permanent, or stop and discard it). Built from the hosts' own lists, so it is back after a reload.
 */
export function RunsBanner() {
  const t = useT()
  useRunsLiveUpdates()
  useRunJobOutcomes()
  const perHost = useRunsEverywhere()
  const points = usePoints()
  const jobs = useJobs()
  const watched = useRunJobs((s) => s.watched)
  const requests = usePermanentRequests(watched.filter((w) => w.kind === 'permanent').map((w) => ({ jobId: w.jobId, host: w.hostId, name: w.vm })))
  const [discarding, setDiscarding] = useState<{ readonly target: DiscardTarget; readonly reconnecting: JobDto | undefined } | undefined>(undefined)
  const runs = bannerRuns(perHost, points.data ?? [])
  const jobList = jobs.data ?? []
  // A job that reconnects is past starting: when its host's list could not be read it is shown as unlisted instead.
  const starting = watched.filter((w) => {
    const job = jobList.find((j) => j.id === w.jobId)
    return w.kind === 'run' && isActiveJob(job) && runConnection(job)?.state !== 'reconnecting' && !runs.some((r) => r.host.id === w.hostId && r.run.name === w.vm)
  })
  const unlisted = unlistedReconnects(jobList, perHost.map((p) => p.host), runs)
  // The dialog outlives its row: discarding ends the serving job first, so the row (and the banner, when it was the
  // last run) goes while the dialog still waits for the host to say what it removed.
  const dialog = discarding !== undefined && <DiscardRunDialog target={discarding.target} reconnecting={discarding.reconnecting} onClose={() => setDiscarding(undefined)} />
  // One shape whether the banner shows or not, so React keeps the dialog (and its pending discard) when the banner goes.
  const empty = runs.length === 0 && starting.length === 0 && unlisted.length === 0
  return (
    <>
      {!empty && (
        <section className="runs-banner" aria-label={t('runs.banner.label')}>
          <ul className="runs-list">
            {starting.map((w) => {
              const job = jobList.find((j) => j.id === w.jobId)
              return (
                <li key={w.jobId} className="run-row is-starting">
                  <p className="run-text">{t('run.starting', { vm: w.vm, host: w.hostName })}</p>
                  <ProgressBar value={undefined} label={t('run.starting', { vm: w.vm, host: w.hostName })} />
                  {job?.progress.detail !== undefined && <p className="run-detail muted">{job.progress.detail}</p>}
                </li>
              )
            })}
            {runs.map((entry) => (
              <RunRow key={`${entry.host.id}/${entry.run.name}`} entry={entry} permanentJob={permanentJobOf(jobList, requests, entry.host.id, entry.run.name)} jobs={jobList} onDiscard={(reconnecting) => setDiscarding({ target: { host: entry.host, vm: entry.run.name, disks: entry.run.disks }, reconnecting })} />
            ))}
            {unlisted.map((u) => {
              const params = { vm: u.vm ?? t('runs.aVm'), host: u.host.name, attempt: u.attempt }
              return (
                <li key={u.job.id} className="run-row is-reconnecting">
                  <p className="run-text" role="status" aria-live="polite">
                    <strong>{u.attempt > 1 ? t('runs.reconnectingTry', params) : t('runs.reconnecting', params)}</strong>
                  </p>
                  <span className="banner-actions">
                    <Button size="sm" variant="danger" disabled={u.job.state === 'cancelling'} onClick={() => setDiscarding({ target: u.vm !== undefined ? { host: u.host, vm: u.vm } : { host: u.host }, reconnecting: u.job })}>
                      {t('runs.discard')}
                    </Button>
                  </span>
                </li>
              )
            })}
          </ul>
        </section>
      )}
      {dialog}
    </>
  )
}
