import { useState } from 'react'
import { useJobs, usePoints } from '../../api/queries'
import { ProgressBar } from '../../components/bits'
import { useT } from '../../i18n/i18n'
import { DiscardRunDialog } from './DiscardRunDialog'
import { RunRow } from './RunRow'
import { bannerRuns, isActiveJob, permanentJobOf, type BannerRun } from './run-model'
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
  const [discarding, setDiscarding] = useState<BannerRun | undefined>(undefined)
  const runs = bannerRuns(perHost, points.data ?? [])
  const jobList = jobs.data ?? []
  const starting = watched.filter((w) => w.kind === 'run' && isActiveJob(jobList.find((j) => j.id === w.jobId)) && !runs.some((r) => r.host.id === w.hostId && r.run.name === w.vm))
  if (runs.length === 0 && starting.length === 0) return null
  return (
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
          <RunRow key={`${entry.host.id}/${entry.run.name}`} entry={entry} permanentJob={permanentJobOf(jobList, requests, entry.host.id, entry.run.name)} jobs={jobList} onDiscard={() => setDiscarding(entry)} />
        ))}
      </ul>
      {discarding !== undefined && <DiscardRunDialog entry={discarding} onClose={() => setDiscarding(undefined)} />}
    </section>
  )
}
