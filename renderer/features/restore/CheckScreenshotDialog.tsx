import type { PointCheckDto, PointSummaryDto } from '../../../engine/api/contract'
import { useCheckScreenshot } from '../../api/queries'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useFormat, useT } from '../../i18n/i18n'

/** The VM's console as the health check ended, served through the contract (the window never sees a file path). */
export function CheckScreenshotDialog({ point, check, onClose }: { readonly point: PointSummaryDto; readonly check: PointCheckDto; readonly onClose: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const shot = useCheckScreenshot(point.id, check.jobId, true)
  const alt = t('check.screenshotAlt', { vm: point.vm.name, date: fmt.date(check.checkedAt) })
  return (
    <Dialog title={t('check.screenshotTitle', { vm: point.vm.name })} size="lg" closeLabel={t('common.close')} onClose={onClose} footer={<Button onClick={onClose} data-autofocus>{t('common.close')}</Button>}>
      <p className="muted">{t('check.screenshotIntro', { date: fmt.date(check.checkedAt), host: check.host.name })}</p>
      {shot.isError && <Alert>{errorText(t, shot.error)}</Alert>}
      {shot.isPending && <p className="muted">{t('common.loading')}</p>}
      {shot.data && <img className="check-screenshot" src={`data:${shot.data.mimeType};base64,${shot.data.dataBase64}`} alt={alt} />}
    </Dialog>
  )
}
