import { useId, useState } from 'react'
import type { PointSummaryDto } from '../../../engine/api/contract'
import { useAppInfo, useExportDisk } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { restoreFolderName } from './point-labels'

const formats = ['vhdx', 'qcow2', 'vhd', 'raw'] as const
type Format = (typeof formats)[number]
const extensions: Record<Format, string> = { vhdx: 'vhdx', qcow2: 'qcow2', vhd: 'vhd', raw: 'img' }

/** Export one disk of a restore point as an image file any hypervisor can use: nothing is locked in. */
export function ExportDiskDialog({ point, disk, onClose }: { readonly point: PointSummaryDto; readonly disk: string; readonly onClose: () => void }) {
  const t = useT()
  const id = useId()
  const info = useAppInfo()
  const exporter = useExportDisk()
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const [format, setFormat] = useState<Format>('vhdx')
  const [output, setOutput] = useState<string | undefined>(undefined)
  const suggested = info.data ? `${info.data.restoreDirectory}/${restoreFolderName(point)} ${disk}.${extensions[format]}` : ''
  const file = output ?? suggested
  const absolute = /^(\/|[A-Za-z]:[\\/])/.test(file.trim())
  return (
    <Dialog
      title={t('export.title', { disk })}
      closeLabel={t('common.close')}
      locked={exporter.isPending}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose} disabled={exporter.isPending}>
            {t('common.cancel')}
          </Button>
          <Button
            variant="primary"
            busy={exporter.isPending}
            disabled={!absolute}
            onClick={() =>
              exporter.mutate(
                { pointId: point.id, disk, format, output: file.trim() },
                {
                  onSuccess: () => {
                    toast('info', t('export.started', { file: file.trim() }))
                    setJobsOpen(true)
                    onClose()
                  },
                },
              )
            }
          >
            {t('export.start')}
          </Button>
        </>
      }
    >
      {exporter.isError && <Alert>{errorText(t, exporter.error)}</Alert>}
      <fieldset className="segmented">
        <legend>{t('export.format')}</legend>
        {formats.map((f) => (
          <label key={f} className={format === f ? 'is-checked' : ''}>
            <input type="radio" name={`${id}-format`} checked={format === f} onChange={() => setFormat(f)} />
            {f.toUpperCase()}
          </label>
        ))}
      </fieldset>
      <p className="field-hint">{t(`export.hint.${format}`)}</p>
      <Field label={t('export.file')} htmlFor={`${id}-file`} {...(absolute || file === '' ? {} : { error: t('restoreFiles.absolute') })}>
        <input id={`${id}-file`} className="mono" value={file} onChange={(e) => setOutput(e.target.value)} spellCheck={false} data-autofocus />
      </Field>
    </Dialog>
  )
}
