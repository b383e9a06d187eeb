import { useId, useState } from 'react'
import type { PowerStateDto, SnapshotDto } from '../../../engine/api/contract'
import { useCreateSnapshot, useRevertSnapshot } from '../../api/queries'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { DEFAULT_REVIEW_DAYS, reviewDate, revertOutcome } from './snapshot-model'

export interface SnapshotVm {
  readonly hostId: string
  readonly vmId: string
  readonly vmName: string
  readonly powerState: PowerStateDto
}

/**
 * Reverting throws work away, so the dialog says exactly what is lost (everything since the snapshot), what happens
 * to the VM (stopped now; resumes, boots or stays off afterwards), offers a safety snapshot of the current state
 * (on by default) and needs an explicit "I understand" before the red button works.
 */
export function RevertDialog({ vm, snapshot, onClose }: { readonly vm: SnapshotVm; readonly snapshot: SnapshotDto; readonly onClose: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const id = useId()
  const toast = useUi((s) => s.toast)
  const revert = useRevertSnapshot()
  const safety = useCreateSnapshot()
  const running = vm.powerState === 'running' || vm.powerState === 'paused'
  const [start, setStart] = useState(running)
  const [keepCurrent, setKeepCurrent] = useState(true)
  const [understood, setUnderstood] = useState(false)
  const busy = revert.isPending || safety.isPending
  const label = snapshot.label ?? snapshot.name
  const when = snapshot.createdAt !== undefined ? fmt.date(snapshot.createdAt) : t('snap.unknownTime')
  const outcome = revertOutcome(snapshot.vmState, start)
  const error = safety.error ?? revert.error

  const run = async () => {
    try {
      if (keepCurrent) {
        const expiresAt = reviewDate(DEFAULT_REVIEW_DAYS, new Date())
        await safety.mutateAsync({ host: vm.hostId, vm: vm.vmId, label: t('revert.safetyLabel', { label }), ...(expiresAt !== undefined ? { expiresAt } : {}) })
      }
      await revert.mutateAsync({ host: vm.hostId, vm: vm.vmId, snapshot: snapshot.id, start, confirm: true })
      toast('success', t('revert.done', { vm: vm.vmName, label }))
      onClose()
    } catch {
      // Shown in the dialog: the admin must see whether the safety snapshot or the revert failed.
    }
  }

  return (
    <Dialog
      title={t('revert.title', { vm: vm.vmName, label })}
      tone="danger"
      closeLabel={t('common.close')}
      locked={busy}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose} disabled={busy} data-autofocus>
            {t('common.cancel')}
          </Button>
          <Button variant="danger" busy={busy} disabled={!understood} onClick={() => void run()}>
            {safety.isPending ? t('revert.takingSafety') : revert.isPending ? t('revert.reverting') : t('revert.confirm')}
          </Button>
        </>
      }
    >
      {error && (
        <Alert title={safety.isError ? t('revert.safetyFailed') : t('revert.failed')}>
          {errorText(t, error)}
        </Alert>
      )}
      <Alert tone="warning" title={t('revert.lostTitle')}>
        {t('revert.lost', { vm: vm.vmName, when, ago: snapshot.createdAt !== undefined ? fmt.relative(snapshot.createdAt) : '—' })}
      </Alert>
      <ul className="revert-facts">
        {running && <li>{t('revert.stopsNow', { vm: vm.vmName })}</li>}
        <li>{t(`revert.outcome.${outcome}`, { vm: vm.vmName })}</li>
      </ul>
      <label className="check">
        <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} disabled={busy} />
        <span>{t('revert.start', { vm: vm.vmName })}</span>
      </label>
      <label className="check">
        <input type="checkbox" checked={keepCurrent} onChange={(e) => setKeepCurrent(e.target.checked)} disabled={busy} />
        <span>
          {t('revert.keepCurrent')}
          <span className="field-hint block">{t('revert.keepCurrentHint')}</span>
        </span>
      </label>
      <label className="check check-confirm" htmlFor={`${id}-understood`}>
        <input id={`${id}-understood`} type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} disabled={busy} />
        <span>{t('revert.understood', { when })}</span>
      </label>
    </Dialog>
  )
}
