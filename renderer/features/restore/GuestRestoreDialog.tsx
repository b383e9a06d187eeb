import { useId, useState } from 'react'
import type { DiskSourceRef } from '../../../engine/api/contract'
import { useRestoreToGuest } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { suggestedGuestPath } from './guest-target'

export interface GuestTarget {
  readonly host: string
  readonly vm: string
  readonly vmName: string
  readonly windows: boolean
}

/** One file copied back into the running VM through the hypervisor's guest channel; never over a file unless asked. */
export function GuestRestoreDialog({ source, volume, path, guest, onClose }: { readonly source: DiskSourceRef; readonly volume: string; readonly path: string; readonly guest: GuestTarget; readonly onClose: (started: boolean) => void }) {
  const t = useT()
  const id = useId()
  const restore = useRestoreToGuest()
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const [guestPath, setGuestPath] = useState(() => suggestedGuestPath(path, guest.windows))
  const [overwrite, setOverwrite] = useState(false)
  const absolute = /^([A-Za-z]:\\|\/)/.test(guestPath.trim())
  return (
    <Dialog
      title={t('guestRestore.title', { vm: guest.vmName })}
      closeLabel={t('common.close')}
      locked={restore.isPending}
      onClose={() => onClose(false)}
      footer={
        <>
          <Button onClick={() => onClose(false)} disabled={restore.isPending}>
            {t('common.cancel')}
          </Button>
          <Button
            variant={overwrite ? 'danger' : 'primary'}
            busy={restore.isPending}
            disabled={!absolute}
            onClick={() =>
              restore.mutate(
                { source, volume, path, host: guest.host, vm: guest.vm, guestPath: guestPath.trim(), overwrite },
                {
                  onSuccess: () => {
                    toast('info', t('guestRestore.started', { vm: guest.vmName }))
                    setJobsOpen(true)
                    onClose(true)
                  },
                },
              )
            }
          >
            {t('guestRestore.start')}
          </Button>
        </>
      }
    >
      {restore.isError && <Alert>{errorText(t, restore.error)}</Alert>}
      <p className="muted">{t('guestRestore.intro', { file: path, vm: guest.vmName })}</p>
      <Field label={t('guestRestore.path')} htmlFor={`${id}-path`} {...(absolute ? { hint: t('guestRestore.pathHint') } : { error: t('guestRestore.absolute') })}>
        <input id={`${id}-path`} className="mono" value={guestPath} onChange={(e) => setGuestPath(e.target.value)} spellCheck={false} data-autofocus />
      </Field>
      <label className={`check${overwrite ? ' check-confirm' : ''}`}>
        <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} />
        <span>
          {t('guestRestore.overwrite')}
          <span className="field-hint block">{t('guestRestore.overwriteHint')}</span>
        </span>
      </label>
    </Dialog>
  )
}
