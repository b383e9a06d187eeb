import type { JobDto } from '../../../engine/api/contract'
import { useCancelJob, useJobs } from '../../api/queries'
import { EmptyState, ProgressBar } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconClose, IconJobs } from '../../components/icons'
import { en, type MessageKey } from '../../i18n/en'
import { errorText, useFormat, useT, type Translate } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'

const active = new Set<JobDto['state']>(['queued', 'running', 'cancelling'])

/** Known phases in the admin's language; a phase the UI does not know yet is shown as it is. */
function phaseLabel(t: Translate, phase: string): string {
  const key = `phase.${phase}`
  return key in en ? t(key as MessageKey) : phase
}

function JobRow({ job }: { readonly job: JobDto }) {
  const t = useT()
  const fmt = useFormat()
  const cancel = useCancelJob()
  const toast = useUi((s) => s.toast)
  const p = job.progress
  const fraction = p.bytesTotal !== undefined && p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : undefined
  const figures = [
    p.bytesTotal !== undefined ? t('jobs.progress.of', { done: fmt.bytes(p.bytesDone), total: fmt.bytes(p.bytesTotal) }) : p.bytesDone > 0 ? fmt.bytes(p.bytesDone) : undefined,
    p.rate !== undefined ? t('jobs.progress.rate', { rate: fmt.bytes(p.rate) }) : undefined,
    p.etaSeconds !== undefined ? t('jobs.progress.eta', { eta: fmt.duration(p.etaSeconds) }) : undefined,
  ].filter((x): x is string => x !== undefined)
  const running = active.has(job.state)
  return (
    <li className={`job job-${job.state}`}>
      <div className="job-head">
        <span className="job-title truncate" title={job.title}>
          {job.title}
        </span>
        <span className={`badge job-state-${job.state}`}>{t(`jobs.state.${job.state}`)}</span>
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
      </div>
      {running && <ProgressBar value={fraction} label={job.title} />}
      <div className="job-meta">
        <span>{phaseLabel(t, p.phase)}</span>
        {figures.length > 0 && <span>{figures.join(' · ')}</span>}
        <span className="muted">{fmt.date(job.createdAt)}</span>
      </div>
      {job.error && job.state !== 'cancelled' && <p className="job-error">{errorText(t, job.error)}</p>}
      {job.leftBehind.length > 0 && (
        <div className="job-left">
          <p>{t('jobs.leftBehind')}</p>
          <ul>
            {job.leftBehind.map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
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
        <ul className="job-list">
          {list.map((job) => (
            <JobRow key={job.id} job={job} />
          ))}
        </ul>
      )}
    </aside>
  )
}
