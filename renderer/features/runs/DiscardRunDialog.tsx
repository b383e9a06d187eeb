import { useState } from 'react'
import type { HostDto, InstantRunDto, JobDto } from '../../../engine/api/contract'
import { useCancelJob } from '../../api/queries'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { useRunJobs } from './run-store'
import { useDiscardRun } from './use-runs'

/** The run to stop: its VM's name and overlays when the host listed it; neither for a run only its serving job knows. */
export interface DiscardTarget {
  readonly host: HostDto
  readonly vm?: string
  readonly disks?: InstantRunDto['disks']
}

/**
 * Confirms "Stop and discard", naming what is deleted; says what could not be removed if anything stayed behind.
 * While the run's serving job reconnects to the host (`reconnecting`), stopping cancels that job instead: the job
 * discards the VM on the host when it can reach it, and names what stayed there (and how to remove it) when it cannot.
 * Its outcome is said when the job ends (useRunJobOutcomes).
 */
export function DiscardRunDialog({ target, reconnecting, onClose }: { readonly target: DiscardTarget; readonly reconnecting?: JobDto | undefined; readonly onClose: () => void }) {
  const t = useT()
  const discard = useDiscardRun()
  const cancel = useCancelJob()
  const watch = useRunJobs((s) => s.watch)
  const toast = useUi((s) => s.toast)
  const [leftBehind, setLeftBehind] = useState<readonly string[] | undefined>(undefined)
  const { host, vm, disks } = target
  const params = { vm: vm ?? t('runs.aVm'), host: host.name }

  const stopServing = (job: JobDto) =>
    cancel.mutate(job.id, {
      onSuccess: () => {
        watch({ jobId: job.id, kind: 'run', vm: params.vm, hostId: host.id, hostName: host.name })
        toast('info', t('runs.stopping', params))
        onClose()
      },
    })
  const submit = () => {
    if (reconnecting !== undefined) return stopServing(reconnecting)
    if (vm === undefined) return
    discard.mutate(
      { host: host.id, name: vm },
      {
        onSuccess: (r) => {
          if (r.leftBehind.length > 0) {
            setLeftBehind(r.leftBehind)
            return
          }
          toast('success', t('runs.discarded', params))
          onClose()
        },
      },
    )
  }

  return (
    <Dialog
      title={t('runs.discard.title', params)}
      tone="danger"
      closeLabel={t('common.close')}
      locked={discard.isPending || cancel.isPending}
      onClose={onClose}
      footer={
        leftBehind !== undefined ? (
          <Button variant="primary" onClick={onClose}>
            {t('common.close')}
          </Button>
        ) : (
          <>
            <Button onClick={onClose} disabled={discard.isPending || cancel.isPending} data-autofocus>
              {t('common.cancel')}
            </Button>
            <Button variant="danger" busy={discard.isPending || cancel.isPending} onClick={submit}>
              {t('runs.discard.confirm')}
            </Button>
          </>
        )
      }
    >
      {discard.isError && (
        <Alert>
          {errorText(t, discard.error)} {t('runs.discard.failed', params)}
        </Alert>
      )}
      {cancel.isError && <Alert>{errorText(t, cancel.error)}</Alert>}
      {reconnecting !== undefined && leftBehind === undefined && <Alert tone="warning">{t('runs.discard.reconnecting', params)}</Alert>}
      {leftBehind !== undefined ? (
        <Alert tone="warning" title={t('runs.discard.leftBehind', params)}>
          <ul className="plain-list">
            {leftBehind.map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
        </Alert>
      ) : (
        <>
          {disks !== undefined && (
            <>
              <p>{t('runs.discard.body', params)}</p>
              <ul className="run-overlays">
                {disks.map((d) => (
                  <li key={d.target}>
                    <code>{d.overlay}</code> <span className="muted">({d.target})</span>
                  </li>
                ))}
              </ul>
            </>
          )}
          <p className="muted">{t('runs.discard.keeps')}</p>
        </>
      )}
    </Dialog>
  )
}
