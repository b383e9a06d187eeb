import { useState } from 'react'
import { usePoints, useSnapshots } from '../../api/queries'
import { Alert, EmptyState } from '../../components/bits'
import { IconDisk } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { consistencyKey, modeKey, pointSize } from './point-labels'
import { PointDetail } from './PointDetail'
import { SnapshotDetail } from './SnapshotDetail'
import { buildTimeline } from './timeline-model'

/**
 * A VM's restore points as a timeline (newest first) beside the chosen entry's files and disks. For a VM on a
 * connected host, its live snapshots are in the same timeline and can be browsed in place.
 */
export function RestorePoints({ vmId, vmName, live }: { readonly vmId: string; readonly vmName: string; readonly live?: { readonly hostId: string; readonly vmId: string } }) {
  const t = useT()
  const fmt = useFormat()
  const points = usePoints(vmId)
  const snapshots = useSnapshots(live?.hostId ?? '', live?.vmId ?? '', live !== undefined)
  const [chosenKey, setChosenKey] = useState<string | undefined>(undefined)
  if (points.isError) return <Alert>{errorText(t, points.error)}</Alert>
  if (points.isLoading) return <p className="muted">{t('common.loading')}</p>
  const entries = buildTimeline(points.data ?? [], live !== undefined ? (snapshots.data ?? []) : [])
  if (entries.length === 0) {
    return (
      <EmptyState icon={<IconDisk size={28} />} title={t('points.none', { vm: vmName })}>
        <p>{t('points.none.hint')}</p>
      </EmptyState>
    )
  }
  const chosen = entries.find((e) => e.key === chosenKey) ?? entries.find((e) => e.kind === 'point') ?? entries[0]
  return (
    <div className="points-layout">
      <div className="timeline-column">
        <ol className="timeline" aria-label={t('points.timeline', { vm: vmName })}>
          {entries.map((e) => {
            const selected = e.key === chosen?.key
            return (
              <li key={e.key}>
                <button type="button" className={`timeline-item${selected ? ' is-selected' : ''}${e.kind === 'snapshot' ? ' is-snapshot' : ''}`} aria-current={selected ? 'true' : undefined} onClick={() => setChosenKey(e.key)}>
                  <span className="timeline-date">{e.at !== undefined ? fmt.date(e.at) : t('points.snapshot.undated')}</span>
                  {e.kind === 'point' ? (
                    <>
                      <span className="timeline-badges">
                        <span className={`badge mode-${e.point.mode}`}>{t(modeKey[e.point.mode])}</span>
                        <span className={`badge consistency-${e.point.consistency}`}>{t(consistencyKey[e.point.consistency])}</span>
                        {e.point.lastCheck !== undefined && (
                          <span className={`badge check-${e.point.lastCheck.verdict}`} title={e.point.lastCheck.summary}>
                            {t(e.point.lastCheck.verdict === 'booted' ? 'check.badge.booted' : 'check.badge.failed')}
                          </span>
                        )}
                      </span>
                      <span className="timeline-meta">
                        {fmt.bytes(pointSize(e.point))} · {t('points.newData', { size: fmt.bytes(e.point.stats.bytesStored) })}
                      </span>
                    </>
                  ) : (
                    <>
                      <span className="timeline-badges">
                        <span className="badge badge-snapshot">{t('points.snapshot.badge')}</span>
                        {e.snapshot.lifeboat && <span className="badge">{t('points.snapshot.lifeboat')}</span>}
                      </span>
                      <span className="timeline-meta truncate" title={e.snapshot.label ?? e.snapshot.name}>
                        {e.snapshot.label ?? e.snapshot.name}
                      </span>
                    </>
                  )}
                </button>
              </li>
            )
          })}
        </ol>
        {live !== undefined && snapshots.isError && <p className="field-hint">{t('points.snapshot.unavailable', { error: errorText(t, snapshots.error) })}</p>}
      </div>
      {chosen?.kind === 'point' && <PointDetail key={chosen.key} point={chosen.point} />}
      {chosen?.kind === 'snapshot' && live !== undefined && <SnapshotDetail key={chosen.key} hostId={live.hostId} vmId={live.vmId} vmName={vmName} snapshot={chosen.snapshot} />}
    </div>
  )
}
