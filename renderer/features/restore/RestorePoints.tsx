import { useState } from 'react'
import type { PointSummaryDto } from '../../../engine/api/contract'
import { usePoints } from '../../api/queries'
import { Alert, EmptyState } from '../../components/bits'
import { IconDisk } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { consistencyKey, modeKey, pointSize } from './point-labels'
import { PointDetail } from './PointDetail'

/** A VM's restore points as a timeline (newest first) beside the chosen point's files and disks. */
export function RestorePoints({ vmId, vmName }: { readonly vmId: string; readonly vmName: string }) {
  const t = useT()
  const fmt = useFormat()
  const points = usePoints(vmId)
  const [chosenId, setChosenId] = useState<string | undefined>(undefined)
  if (points.isError) return <Alert>{errorText(t, points.error)}</Alert>
  const list = points.data ?? []
  if (points.isLoading) return <p className="muted">{t('common.loading')}</p>
  if (list.length === 0) {
    return (
      <EmptyState icon={<IconDisk size={28} />} title={t('points.none', { vm: vmName })}>
        <p>{t('points.none.hint')}</p>
      </EmptyState>
    )
  }
  const chosen: PointSummaryDto | undefined = list.find((p) => p.id === chosenId) ?? list[0]
  return (
    <div className="points-layout">
      <ol className="timeline" aria-label={t('points.timeline', { vm: vmName })}>
        {list.map((p) => {
          const selected = p.id === chosen?.id
          return (
            <li key={p.id}>
              <button type="button" className={`timeline-item${selected ? ' is-selected' : ''}`} aria-current={selected ? 'true' : undefined} onClick={() => setChosenId(p.id)}>
                <span className="timeline-date">{fmt.date(p.finishedAt)}</span>
                <span className="timeline-badges">
                  <span className={`badge mode-${p.mode}`}>{t(modeKey[p.mode])}</span>
                  <span className={`badge consistency-${p.consistency}`}>{t(consistencyKey[p.consistency])}</span>
                </span>
                <span className="timeline-meta">
                  {fmt.bytes(pointSize(p))} · {t('points.newData', { size: fmt.bytes(p.stats.bytesStored) })}
                </span>
              </button>
            </li>
          )
        })}
      </ol>
      {chosen && <PointDetail key={chosen.id} point={chosen} />}
    </div>
  )
}
