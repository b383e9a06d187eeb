import { useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useState } from 'react'
import type { JobDto } from '../../../engine/api/contract'
import { useCancelJob } from '../../api/queries'
import { queryKeys } from '../../api/query-keys'
import { ProgressBar } from '../../components/bits'
import { Button } from '../../components/Button'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { isActiveJob, reconnectedNow, runConnection, servingJobOf, type BannerRun, type RunConnection } from './run-model'
import { useRunJobs } from './run-store'
import { useMakePermanent, useRunFromBackup } from './use-runs'

/** How long "Reconnected" stays in the row once serving is back. */
const RECONNECTED_SHOWN_MS = 10_000
/**
 * When the host is asked again after serving came back: a VM that paused on a read during the outage is resumed by
 * the job then or at its next look (every 2 s), after the phase changed, so the row's state would otherwise stay
 * "paused" until the next regular look (30 s).
 */
const RECONNECTED_RELOOK_MS = [3000, 8000]

/**
 * Says "Reconnected" for a while after the serving job's phase went from reconnecting back to running, and asks the
 * host for the run's state again meanwhile; a run that just started serving says nothing.
 */
function useReconnectedNotice(state: RunConnection['state'] | undefined, relook: () => void): boolean {
  const [seen, setSeen] = useState(state)
  const [shown, setShown] = useState(false)
  // Adjusted while rendering when the state changes (React's pattern for state derived from a change of props).
  if (seen !== state) {
    setSeen(state)
    setShown(reconnectedNow(seen, state))
  }
  useEffect(() => {
    if (!shown) return
    const timers = [setTimeout(() => setShown(false), RECONNECTED_SHOWN_MS), ...RECONNECTED_RELOOK_MS.map((ms) => setTimeout(relook, ms))]
    return () => timers.forEach(clearTimeout)
  }, [shown, relook])
  return shown
}

/**
 * One VM running from a backup: where from, and make permanent (with the copy's progress) or stop and discard. While
 * its serving job reconnects to the host after a lost SSH connection the row says so (a live status line); stopping
 * and discarding stays possible and is then done by cancelling that job (`reconnecting` is handed to onDiscard).
 */
export function RunRow({ entry, permanentJob, jobs, onDiscard }: { readonly entry: BannerRun; readonly permanentJob: JobDto | undefined; readonly jobs: readonly JobDto[]; readonly onDiscard: (reconnecting: JobDto | undefined) => void }) {
  const t = useT()
  const fmt = useFormat()
  const toast = useUi((s) => s.toast)
  const watch = useRunJobs((s) => s.watch)
  const permanent = useMakePermanent()
  const serve = useRunFromBackup()
  const cancel = useCancelJob()
  const { host, run } = entry
  const params = { vm: run.name, host: host.name, date: entry.pointDate !== undefined ? fmt.date(entry.pointDate) : t('runs.banner.unknownDate', { point: run.pointId }), state: run.state }
  const copying = isActiveJob(permanentJob) ? permanentJob : undefined
  const servingJob = servingJobOf(jobs, run, host)
  const serving = isActiveJob(servingJob)
  const connection = runConnection(servingJob)
  const reconnecting = connection?.state === 'reconnecting' ? connection : undefined
  const client = useQueryClient()
  const relook = useCallback(() => void client.invalidateQueries({ queryKey: queryKeys.runsOn(host.id) }), [client, host.id])
  const reconnected = useReconnectedNotice(connection?.state, relook)
  const status = reconnecting !== undefined ? (reconnecting.attempt > 1 ? t('runs.reconnectingTry', { ...params, attempt: reconnecting.attempt }) : t('runs.reconnecting', params)) : reconnected ? t('runs.reconnected', params) : ''
  const text = !run.served ? t('runs.banner.unserved', params) : run.state === 'running' ? t('runs.banner.running', params) : t('runs.banner.state', params)

  const makePermanent = () =>
    permanent.mutate(
      { host: host.id, name: run.name },
      {
        onSuccess: ({ jobId }) => {
          watch({ jobId, kind: 'permanent', vm: run.name, hostId: host.id, hostName: host.name })
          toast('info', t('runs.permanentStarted', params))
        },
        onError: (e) => toast('error', errorText(t, e)),
      },
    )
  const serveAgain = () =>
    serve.mutate(
      { point: run.pointId, host: host.id, resume: run.name, network: 'none' },
      {
        onSuccess: ({ jobId }) => {
          watch({ jobId, kind: 'run', vm: run.name, hostId: host.id, hostName: host.name })
          toast('info', t('runs.serveAgainStarted', params))
        },
        onError: (e) => toast('error', errorText(t, e)),
      },
    )

  const p = copying?.progress
  const figures = p === undefined ? [] : [
    p.bytesTotal !== undefined ? t('jobs.progress.of', { done: fmt.bytes(p.bytesDone), total: fmt.bytes(p.bytesTotal) }) : undefined,
    p.rate !== undefined ? t('jobs.progress.rate', { rate: fmt.bytes(p.rate) }) : undefined,
    p.etaSeconds !== undefined ? t('jobs.progress.eta', { eta: fmt.duration(p.etaSeconds) }) : undefined,
  ].filter((x): x is string => x !== undefined)
  const copyLabel = t('runs.copying', params)

  return (
    <li className={`run-row${run.served ? '' : ' is-unserved'}${reconnecting !== undefined ? ' is-reconnecting' : ''}`}>
      <p className="run-text">{text}</p>
      <p className="run-detail" role="status" aria-live="polite">
        {reconnecting !== undefined ? <strong>{status}</strong> : status}
      </p>
      {copying !== undefined && p !== undefined ? (
        <div className="run-copy">
          <ProgressBar value={p.bytesTotal !== undefined && p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : undefined} label={copyLabel} />
          <p className="run-detail">
            {copyLabel}
            {figures.length > 0 && ` — ${figures.join(' · ')}`}
          </p>
          <span className="banner-actions">
            <Button size="sm" disabled={copying.state === 'cancelling'} busy={cancel.isPending} onClick={() => cancel.mutate(copying.id, { onError: (e) => toast('error', errorText(t, e)) })}>
              {copying.state === 'cancelling' ? t('jobs.cancelling') : t('runs.cancelCopy')}
            </Button>
          </span>
        </div>
      ) : (
        <span className="banner-actions">
          {!run.served && !serving && (
            <Button size="sm" variant="primary" busy={serve.isPending} onClick={serveAgain}>
              {t('runs.serveAgain')}
            </Button>
          )}
          <Button size="sm" variant={run.served ? 'primary' : 'secondary'} busy={permanent.isPending} disabled={!run.served || reconnecting !== undefined} title={reconnecting !== undefined ? t('runs.makePermanentReconnecting', params) : run.served ? undefined : t('runs.makePermanentUnserved')} onClick={makePermanent}>
            {t('runs.makePermanent')}
          </Button>
          <Button size="sm" variant="danger" onClick={() => onDiscard(reconnecting !== undefined ? servingJob : undefined)}>
            {t('runs.discard')}
          </Button>
        </span>
      )}
    </li>
  )
}
