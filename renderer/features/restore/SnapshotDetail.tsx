import type { DiskSourceRef, SnapshotDto } from '../../../engine/api/contract'
import { Facts } from '../../components/bits'
import { useFormat, useT } from '../../i18n/i18n'
import { useInventory } from '../../api/queries'
import { FileBrowser } from './FileBrowser'
import { guestTargetOf } from './guest-target'
import { safeFolderName } from './point-labels'

/**
 * A snapshot that still exists on the host, browsed in place: its disks are read as they were when it was taken,
 * nothing on the host changes. Unlike a restore point it lives and dies with the host's storage.
 */
export function SnapshotDetail({ hostId, vmId, vmName, snapshot }: { readonly hostId: string; readonly vmId: string; readonly vmName: string; readonly snapshot: SnapshotDto }) {
  const t = useT()
  const fmt = useFormat()
  const title = snapshot.label ?? snapshot.name
  const inventory = useInventory()
  const guest = guestTargetOf(inventory.data?.hosts, { id: hostId, name: '' }, { id: vmId, name: vmName })
  const source: DiskSourceRef = { kind: 'snapshot', host: hostId, vm: vmId, snapshot: snapshot.id }
  return (
    <section className="card point-detail" aria-label={t('points.snapshot.detail', { name: title })}>
      <header className="point-head">
        <div>
          <h2 className="truncate" title={title}>
            {title}
          </h2>
          <p className="muted">{t('points.snapshot.intro')}</p>
        </div>
      </header>
      <Facts
        items={[
          [t('points.snapshot.taken'), snapshot.createdAt !== undefined ? fmt.date(snapshot.createdAt) : '—'],
          [t('points.snapshot.kind'), snapshot.kind === 'internal' ? t('points.snapshot.internal') : t('points.snapshot.external')],
          [t('points.snapshot.by'), snapshot.lifeboat ? 'Lifeboat' : t('points.snapshot.other')],
          [t('points.id'), <code key="id">{snapshot.name}</code>],
        ]}
      />
      <FileBrowser source={source} folderName={safeFolderName(vmName, snapshot.createdAt ?? title)} guest={guest} />
    </section>
  )
}
