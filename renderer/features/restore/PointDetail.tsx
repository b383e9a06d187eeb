import { useState } from 'react'
import type { DiskSourceRef, PointSummaryDto } from '../../../engine/api/contract'
import { Facts } from '../../components/bits'
import { Button } from '../../components/Button'
import { useFormat, useT } from '../../i18n/i18n'
import { useInventory } from '../../api/queries'
import { ExportDiskDialog } from './ExportDiskDialog'
import { guestTargetOf } from './guest-target'
import { RestoreVmDialog } from './RestoreVmDialog'
import { RunFromBackupDialog } from '../runs/RunFromBackupDialog'
import { FileBrowser } from './FileBrowser'
import { PointCheckCard } from './PointCheckCard'
import { consistencyHintKey, consistencyKey, modeKey, pointSize, restoreFolderName } from './point-labels'

type Tab = 'files' | 'vm' | 'disks'

export function PointDetail({ point }: { readonly point: PointSummaryDto }) {
  const t = useT()
  const fmt = useFormat()
  const [tab, setTab] = useState<Tab>('files')
  const [exporting, setExporting] = useState<string | undefined>(undefined)
  const [restoringVm, setRestoringVm] = useState(false)
  const [running, setRunning] = useState(false)
  const inventory = useInventory()
  const guest = guestTargetOf(inventory.data?.hosts, point.sourceHost, point.vm)
  const source: DiskSourceRef = { kind: 'point', pointId: point.id }
  const tabs: readonly [Tab, string][] = [
    ['files', t('points.tab.files')],
    ['vm', t('points.tab.vm')],
    ['disks', t('points.tab.disks')],
  ]
  return (
    <section className="card point-detail" aria-label={t('points.detail', { date: fmt.date(point.finishedAt) })}>
      <header className="point-head">
        <div>
          <h2>{fmt.date(point.finishedAt)}</h2>
          <p className="muted">
            {t(modeKey[point.mode])} · {t(consistencyKey[point.consistency])} — {t(consistencyHintKey[point.consistency])}
          </p>
        </div>
        <div className="point-head-actions">
          <Button onClick={() => setRunning(true)}>{t('run.button')}</Button>
        </div>
      </header>
      <Facts
        items={[
          [t('points.host'), point.sourceHost.name],
          [t('points.size'), fmt.bytes(pointSize(point))],
          [t('points.stored'), fmt.bytes(point.stats.bytesStored)],
          [t('points.took'), fmt.duration(Math.max(1, (Date.parse(point.finishedAt) - Date.parse(point.startedAt)) / 1000))],
          [t('points.id'), <code key="id">{point.id}</code>],
        ]}
      />
      <PointCheckCard point={point} />
      <div className="tabs" role="tablist" aria-label={t('points.tabs')}>
        {tabs.map(([id, label]) => (
          <button key={id} type="button" role="tab" id={`tab-${id}`} aria-selected={tab === id} aria-controls={`panel-${id}`} className={`tab${tab === id ? ' is-active' : ''}`} onClick={() => setTab(id)}>
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
        {tab === 'files' ? (
          <FileBrowser source={source} folderName={restoreFolderName(point)} guest={guest} />
        ) : tab === 'vm' ? (
          <div className="whole-vm">
            <h3>{t('points.vm.title')}</h3>
            <p className="muted">{t('points.vm.intro', { size: fmt.bytes(pointSize(point)) })}</p>
            <Button variant="primary" onClick={() => setRestoringVm(true)}>
              {t('points.vm.button')}
            </Button>
          </div>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('vm.disk.name')}</th>
                <th scope="col" className="num">{t('vm.disk.size')}</th>
                <th scope="col" className="actions" aria-label={t('common.actions')} />
              </tr>
            </thead>
            <tbody>
              {point.disks.map((d) => (
                <tr key={d.name}>
                  <td>{d.name}</td>
                  <td className="num">{fmt.bytes(d.size)}</td>
                  <td className="actions">
                    <Button size="sm" onClick={() => setExporting(d.name)}>
                      {t('export.button')}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {running && (
        <RunFromBackupDialog
          point={point}
          onClose={() => setRunning(false)}
          onRestoreInstead={() => {
            setRunning(false)
            setRestoringVm(true)
          }}
        />
      )}
      {restoringVm && <RestoreVmDialog point={point} onClose={() => setRestoringVm(false)} />}
      {exporting !== undefined && <ExportDiskDialog point={point} disk={exporting} onClose={() => setExporting(undefined)} />}
    </section>
  )
}
