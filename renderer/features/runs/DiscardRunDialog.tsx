import { useState } from 'react'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import type { BannerRun } from './run-model'
import { useDiscardRun } from './use-runs'

/** Confirms "Stop and discard", naming what is deleted; says what could not be removed if anything stayed behind. */
export function DiscardRunDialog({ entry, onClose }: { readonly entry: BannerRun; readonly onClose: () => void }) {
  const t = useT()
  const discard = useDiscardRun()
  const toast = useUi((s) => s.toast)
  const [leftBehind, setLeftBehind] = useState<readonly string[] | undefined>(undefined)
  const { host, run } = entry
  const params = { vm: run.name, host: host.name }

  const submit = () =>
    discard.mutate(
      { host: host.id, name: run.name },
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

  return (
    <Dialog
      title={t('runs.discard.title', params)}
      tone="danger"
      closeLabel={t('common.close')}
      locked={discard.isPending}
      onClose={onClose}
      footer={
        leftBehind !== undefined ? (
          <Button variant="primary" onClick={onClose}>
            {t('common.close')}
          </Button>
        ) : (
          <>
            <Button onClick={onClose} disabled={discard.isPending} data-autofocus>
              {t('common.cancel')}
            </Button>
            <Button variant="danger" busy={discard.isPending} onClick={submit}>
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
          <p>{t('runs.discard.body', params)}</p>
          <ul className="run-overlays">
            {run.disks.map((d) => (
              <li key={d.target}>
                <code>{d.overlay}</code> <span className="muted">({d.target})</span>
              </li>
            ))}
          </ul>
          <p className="muted">{t('runs.discard.keeps')}</p>
        </>
      )}
    </Dialog>
  )
}
