import { useState } from 'react'
import type { JobDto } from '../../../engine/api/contract'
import { useCancelJob, useJobDetail, useJobs, useRetryJob } from '../../api/queries'
import { EmptyState, ProgressBar } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconClose, IconJobs } from '../../components/icons'
import { en, type MessageKey } from '../../i18n/en'
import { errorText, useFormat, useT, type Translate } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { JobVerdict } from './JobVerdict'

const active = new Set<JobDto['state']>(['queued', 'running', 'cancelling'])

/** Known phases in the admin's language; a phase the UI does not know yet is shown as it is. */
function phaseLabel(t: Translate, phase: string): string {
  const key = `phase.${phase}`
  return key in en ? t(key as MessageKey) : phase
}

const stepMark: Record<JobDto['steps'][number]['state'], string> = { pending: '○', running: '◐', done: '✓', failed: '✕', skipped: '–', cancelled: '⊘' }

function JobSteps({ job }: { readonly job: JobDto }) {
  const t = useT()
  return (
    <ol className="job-steps" aria-label={t('jobs.steps')}>
      {job.steps.map((s) => (
        <li key={s.id} className={`job-step job-step-${s.state}`}>
          <span className="job-step-mark" aria-hidden="true">
            {stepMark[s.state]}
          </span>
          <span className="truncate" title={s.label}>
            {s.label}
          </span>
          <span className="sr-only">{t(`jobs.step.${s.state}`)}</span>
        </li>
      ))}
    </ol>
  )
}

function JobLog({ job }: { readonly job: JobDto }) {
  const t = useT()
  const fmt = useFormat()
  const detail = useJobDetail(job.id, true, active.has(job.state))
  if (detail.isPending) return <p className="muted job-log-status">{t('jobs.log.loading')}</p>
  if (detail.isError) return <p className="job-error">{errorText(t, detail.error)}</p>
  const lines = detail.data.log
  return (
    <div className="job-log" role="log" aria-label={t('jobs.log.title', { title: job.title })} tabIndex={0}>
      {lines.length === 0 ? (
        <p className="muted">{t('jobs.log.empty')}</p>
      ) : (
        lines.map((l, i) => (
          <div key={i} className={`job-log-line job-log-${l.level}`}>
            <time dateTime={l.at}>{fmt.time(l.at)}</time>
            <span>{l.message}</span>
          </div>
        ))
      )}
    </div>
  )
}

function JobRow({ job }: { readonly job: JobDto }) {
  const t = useT()
  const fmt = useFormat()
  const cancel = useCancelJob()
  const retry = useRetryJob()
  const toast = useUi((s) => s.toast)
  const [showLog, setShowLog] = useState(false)
  const p = job.progress
  const fraction = p.bytesTotal !== undefined && p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : undefined
  const figures = [
    p.bytesTotal !== undefined ? t('jobs.progress.of', { done: fmt.bytes(p.bytesDone), total: fmt.bytes(p.bytesTotal) }) : p.bytesDone > 0 ? fmt.bytes(p.bytesDone) : undefined,
    p.rate !== undefined ? t('jobs.progress.rate', { rate: fmt.bytes(p.rate) }) : undefined,
    p.etaSeconds !== undefined ? t('jobs.progress.eta', { eta: fmt.duration(p.etaSeconds) }) : undefined,
  ].filter((x): x is string => x !== undefined)
  const running = active.has(job.state)
  const ended = job.state === 'failed' || job.state === 'cancelled'
  const logId = `job-log-${job.id}`
  return (
    <li className={`job job-${job.state}`} aria-label={job.title}>
      <div className="job-head">
        <span className="job-title truncate" title={job.title}>
          {job.title}
        </span>
        <span className={`badge job-state-${job.state}`}>{t(`jobs.state.${job.state}`)}</span>
      </div>
      {running && <ProgressBar value={fraction} label={job.title} />}
      <div className="job-meta">
        {running && <span>{phaseLabel(t, p.phase)}</span>}
        {running && figures.length > 0 && <span>{figures.join(' · ')}</span>}
        <span className="muted">
          {job.endedAt !== undefined && job.startedAt !== undefined
            ? t('jobs.timing', { at: fmt.date(job.createdAt), took: fmt.duration(Math.max(0, (Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000)) })
            : fmt.date(job.createdAt)}
        </span>
      </div>
      {job.steps.length > 0 && (running || ended) && <JobSteps job={job} />}
      {job.error && job.state === 'failed' && <p className="job-error">{errorText(t, job.error)}</p>}
      <JobVerdict job={job} />
      {ended &&
        (job.leftBehind.length > 0 ? (
          <div className="job-left" role="alert">
            <p>{t('jobs.leftBehind')}</p>
            <ul>
              {job.leftBehind.map((l) => (
                <li key={l}>{l}</li>
              ))}
            </ul>
          </div>
        ) : (
          <p className="job-clean">{job.state === 'cancelled' ? t('jobs.cancelledClean') : t('jobs.failedClean')}</p>
        ))}
      <div className="job-actions">
        <Button size="sm" variant="ghost" aria-expanded={showLog} aria-controls={logId} onClick={() => setShowLog((v) => !v)}>
          {showLog ? t('jobs.log.hide') : t('jobs.log.show')}
        </Button>
        {running && (
          <Button
            size="sm"
            variant="ghost"
            disabled={job.state === 'cancelling'}
            busy={cancel.isPending}
            onClick={() => cancel.mutate(job.id, { onError: (e) => toast('error', errorText(t, e)) })}
          >
            {job.state === 'cancelling' ? t('jobs.cancelling') : t('jobs.cancel')}
          </Button>
        )}
        {ended && job.retryable === true && (
          <Button
            size="sm"
            busy={retry.isPending}
            onClick={() =>
              retry.mutate(job.id, {
                onSuccess: () => toast('info', t('jobs.retried', { title: job.title })),
                onError: (e) => toast('error', errorText(t, e)),
              })
            }
          >
            {t('jobs.retry')}
          </Button>
        )}
      </div>
      {showLog && (
        <div id={logId}>
          <JobLog job={job} />
        </div>
      )}
    </li>
  )
}

export function JobsDrawer() {
  const t = useT()
  const jobs = useJobs()
  const setOpen = useUi((s) => s.setJobsOpen)
  const list = jobs.data ?? []
  const running = list.filter((j) => active.has(j.state))
  const finished = list.filter((j) => !active.has(j.state))
  return (
    <aside className="jobs-drawer" aria-labelledby="jobs-title">
      <header className="jobs-header">
        <h2 id="jobs-title">{t('jobs.title')}</h2>
        <button type="button" className="icon-button" onClick={() => setOpen(false)} aria-label={t('jobs.close')}>
          <IconClose />
        </button>
      </header>
      {list.length === 0 ? (
        <EmptyState icon={<IconJobs size={28} />} title={t('jobs.empty')}>
          <p>{t('jobs.empty.hint')}</p>
        </EmptyState>
      ) : (
        <div className="job-sections">
          {running.length > 0 && (
            <section aria-labelledby="jobs-running">
              <h3 id="jobs-running" className="job-section-title">
                {t('jobs.section.running', { count: running.length })}
              </h3>
              <ul className="job-list">
                {running.map((job) => (
                  <JobRow key={job.id} job={job} />
                ))}
              </ul>
            </section>
          )}
          {finished.length > 0 && (
            <section aria-labelledby="jobs-finished">
              <h3 id="jobs-finished" className="job-section-title">
                {t('jobs.section.finished')}
              </h3>
              <ul className="job-list">
                {finished.map((job) => (
                  <JobRow key={job.id} job={job} />
                ))}
              </ul>
            </section>
          )}
        </div>
      )}
    </aside>
  )
}
