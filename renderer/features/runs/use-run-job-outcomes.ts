import { useEffect } from 'react'
import type { JobDto } from '../../../engine/api/contract'
import { useJobs } from '../../api/queries'
import { errorText, useT, type Translate } from '../../i18n/i18n'
import { useUi, type Toast } from '../../stores/ui-store'
import { useRunJobs, type WatchedRunJob } from './run-store'

/** What the admin is told when a run job this window started ends; undefined while it goes on. */
export function runJobOutcome(t: Translate, w: WatchedRunJob, job: JobDto): { tone: Toast['tone']; text: string } | undefined {
  const params = { vm: w.vm, host: w.hostName }
  const left = job.leftBehind.length > 0 ? ` ${t('runs.copyLeft')} ${job.leftBehind.join(' ')}` : ''
  if (w.kind === 'run') {
    if (job.state === 'failed') return { tone: 'error', text: `${t('run.failed', params)} ${job.error !== undefined ? errorText(t, job.error) : ''}${left || ` ${t('run.failedClean', params)}`}` }
    // Stopped while the host was out of reach, the VM may still be there: say so rather than "removed".
    if (job.state === 'cancelled') return job.leftBehind.length > 0 ? { tone: 'error', text: `${t('runs.stoppedLeft', params)} ${job.leftBehind.join(' ')}` } : { tone: 'info', text: t('runs.discarded', params) }
    return undefined
  }
  if (job.state === 'succeeded') return { tone: 'success', text: t('runs.permanentDone', params) }
  if (job.state === 'failed') return { tone: 'error', text: `${t('runs.copyFailed', { ...params, error: job.error !== undefined ? errorText(t, job.error) : '' })}${left}` }
  if (job.state === 'cancelled') return { tone: 'info', text: `${t('runs.copyCancelled', params)}${left}` }
  return undefined
}

/** Says how each run job started here ended, once, and stops following it (a run that served until made permanent or discarded elsewhere ends quietly: those say their own outcome). */
export function useRunJobOutcomes(): void {
  const t = useT()
  const jobs = useJobs()
  const watched = useRunJobs((s) => s.watched)
  const forget = useRunJobs((s) => s.forget)
  const toast = useUi((s) => s.toast)
  useEffect(() => {
    for (const w of watched) {
      const job = jobs.data?.find((j) => j.id === w.jobId)
      if (job === undefined || job.state === 'queued' || job.state === 'running' || job.state === 'cancelling') continue
      forget(w.jobId)
      const outcome = runJobOutcome(t, w, job)
      if (outcome !== undefined) toast(outcome.tone, outcome.text)
    }
  }, [jobs.data, watched, forget, toast, t])
}
