import { useId, useState } from 'react'
import type { DiskSourceRef } from '../../../engine/api/contract'
import { useAppInfo, useRestoreFiles } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconDownload } from '../../components/icons'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'

/** Where restored files go: a new folder by default, never over existing files. Starts a job and shows it. */
export function RestoreFilesDialog({ source, volume, paths, folderName, onClose }: { readonly source: DiskSourceRef; readonly volume: string; readonly paths: readonly string[]; readonly folderName: string; readonly onClose: (started: boolean) => void }) {
  const t = useT()
  const id = useId()
  const info = useAppInfo()
  const restore = useRestoreFiles()
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const suggested = info.data ? `${info.data.restoreDirectory}/${folderName}` : ''
  const [target, setTarget] = useState<string | undefined>(undefined)
  const folder = target ?? suggested
  const absolute = /^(\/|[A-Za-z]:[\\/])/.test(folder.trim())
  return (
    <Dialog
      title={paths.length === 1 ? t('restoreFiles.title.one') : t('restoreFiles.title', { count: paths.length })}
      closeLabel={t('common.close')}
      locked={restore.isPending}
      onClose={() => onClose(false)}
      footer={
        <>
          <Button onClick={() => onClose(false)} disabled={restore.isPending}>
            {t('common.cancel')}
          </Button>
          <Button
            variant="primary"
            icon={<IconDownload />}
            busy={restore.isPending}
            disabled={!absolute}
            onClick={() =>
              restore.mutate(
                { source, volume, paths: [...paths], toDirectory: folder.trim() },
                {
                  onSuccess: () => {
                    toast('info', t('restoreFiles.started', { folder: folder.trim() }))
                    setJobsOpen(true)
                    onClose(true)
                  },
                },
              )
            }
          >
            {t('restoreFiles.start')}
          </Button>
        </>
      }
    >
      {restore.isError && <Alert>{errorText(t, restore.error)}</Alert>}
      <p>{t('restoreFiles.intro')}</p>
      <ul className="path-list">
        {paths.slice(0, 8).map((p) => (
          <li key={p}>
            <code>{p}</code>
          </li>
        ))}
        {paths.length > 8 && <li className="muted">{t('restoreFiles.more', { count: paths.length - 8 })}</li>}
      </ul>
      <Field label={t('restoreFiles.folder')} htmlFor={`${id}-folder`} hint={t('restoreFiles.folderHint')} {...(absolute || folder === '' ? {} : { error: t('restoreFiles.absolute') })}>
        <input id={`${id}-folder`} className="mono" value={folder} onChange={(e) => setTarget(e.target.value)} spellCheck={false} data-autofocus />
      </Field>
    </Dialog>
  )
}
