import type { JobDto } from '../../../engine/api/contract'
import { useCancelJob } from '../../api/queries'
import { ProgressBar } from '../../components/bits'
import { Button } from '../../components/Button'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { isActiveJob, servingJobOf, type BannerRun } from './run-model'
import { useRunJobs } from './run-store'
import { useMakePermanent, useRunFromBackup } from './use-runs'

/** One VM running from a backup: where from, and make permanent (with the copy's progress) or stop and discard. */
export function RunRow({ entry, permanentJob, jobs, onDiscard }: { readonly entry: BannerRun; readonly permanentJob: JobDto | undefined; readonly jobs: readonly JobDto[]; readonly onDiscard: () => void }) {
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
  const serving = isActiveJob(servingJobOf(jobs, run))
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
    <li className={`run-row${run.served ? '' : ' is-unserved'}`}>
      <p className="run-text">{text}</p>
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
          <Button size="sm" variant={run.served ? 'primary' : 'secondary'} busy={permanent.isPending} disabled={!run.served} title={run.served ? undefined : t('runs.makePermanentUnserved')} onClick={makePermanent}>
            {t('runs.makePermanent')}
          </Button>
          <Button size="sm" variant="danger" onClick={onDiscard}>
            {t('runs.discard')}
          </Button>
        </span>
      )}
    </li>
  )
}
