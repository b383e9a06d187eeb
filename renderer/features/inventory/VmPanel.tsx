import { useState } from 'react'
import { CopiesBadge } from '../restore/CopiesBadge'
import type { HostInventoryDto } from '../../../engine/api/contract'
import { RestorePoints } from '../restore/RestorePoints'
import { Facts, PowerBadge } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconBackup, IconCamera, IconDisk, IconVm } from '../../components/icons'
import { PatchBanner, SnapshotsCard } from '../snapshots/SnapshotsCard'
import { useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'

export function VmPanel({ inventory, vm }: { readonly inventory: HostInventoryDto; readonly vm: HostInventoryDto['vms'][number] }) {
  const t = useT()
  const fmt = useFormat()
  const select = useUi((s) => s.select)
  const openWizard = useUi((s) => s.openWizard)
  const openPatch = useUi((s) => s.openPatchSnapshot)
  const snapshotVm = { hostId: inventory.hostId, vmId: vm.id, vmName: vm.name, powerState: vm.powerState }
  const [tab, setTab] = useState<'overview' | 'points'>('overview')
  return (
    <section className={`panel${tab === 'points' ? ' panel-wide' : ''}`} aria-labelledby="panel-title">
      <header className="panel-header">
        <div className="panel-heading">
          <span className="panel-icon">
            <IconVm size={22} />
          </span>
          <div className="panel-titles">
            <h1 id="panel-title" className="truncate" title={vm.name}>
              {vm.name}
            </h1>
            <p className="panel-subtitle">
              <button type="button" className="link-button" onClick={() => select({ kind: 'host', hostId: inventory.hostId })}>
                {inventory.name}
              </button>
            </p>
          </div>
          <PowerBadge state={vm.powerState} kind={inventory.kind} />
        </div>
        <div className="panel-actions">
          <Button icon={<IconCamera />} onClick={() => openPatch({ hostId: inventory.hostId, vmId: vm.id, vmName: vm.name })} disabled={inventory.status !== 'online'} title={inventory.status !== 'online' ? t('vm.hostOffline') : undefined}>
            {t('vm.patchSnapshot')}
          </Button>
          <Button variant="primary" icon={<IconBackup />} onClick={() => openWizard({ targets: [{ host: inventory.hostId, vm: vm.id }] })}>
            {t('vm.backup')}
          </Button>
        </div>
      </header>
      {inventory.status === 'online' && <PatchBanner vm={snapshotVm} />}
      <div className="tabs" role="tablist" aria-label={t('vm.tabs')}>
        {(['overview', 'points'] as const).map((id) => (
          <button key={id} type="button" role="tab" id={`vm-tab-${id}`} aria-selected={tab === id} aria-controls={`vm-panel-${id}`} className={`tab${tab === id ? ' is-active' : ''}`} onClick={() => setTab(id)}>
            {t(id === 'overview' ? 'vm.tab.overview' : 'vm.tab.points')}
          </button>
        ))}
      </div>
      {tab === 'points' ? (
        <div role="tabpanel" id="vm-panel-points" aria-labelledby="vm-tab-points">
          <CopiesBadge vmId={vm.id} />
          <RestorePoints vmId={vm.id} vmName={vm.name} live={{ hostId: vm.hostId, vmId: vm.id }} />
        </div>
      ) : (
      <div role="tabpanel" id="vm-panel-overview" aria-labelledby="vm-tab-overview" className="tab-stack">
      <div className="cards">
        <div className="card">
          <h2 className="card-title">{t('vm.details')}</h2>
          <Facts
            items={[
              [t('vm.host'), inventory.name],
              ...(vm.residentOn !== undefined ? [[t('vm.residentOn'), vm.residentOn] as const] : []),
              [t('vm.cpus'), vm.cpus ?? '—'],
              [t('vm.memory'), fmt.bytes(vm.memoryBytes)],
              [t('vm.os'), vm.os ?? '—'],
              [t('vm.agent'), vm.guestAgent === undefined ? '—' : t(vm.guestAgent ? 'vm.agent.yes' : 'vm.agent.no')],
              [t('vm.id'), <code key="id">{vm.id}</code>],
            ]}
          />
        </div>
        {inventory.status === 'online' ? (
          <SnapshotsCard vm={snapshotVm} />
        ) : (
          <div className="card">
            <h2 className="card-title">{t('vm.snapshots')}</h2>
            <p className="muted">{t('vm.hostOffline')}</p>
          </div>
        )}
      </div>
      <div className="card">
        <h2 className="card-title">{t('vm.disks')}</h2>
        {vm.disks.length === 0 ? (
          <p className="muted">{t('vm.disks.empty')}</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('vm.disk.name')}</th>
                <th scope="col">{t('vm.disk.location')}</th>
                <th scope="col">{t('vm.disk.format')}</th>
                <th scope="col" className="num">{t('vm.disk.size')}</th>
              </tr>
            </thead>
            <tbody>
              {vm.disks.map((d) => (
                <tr key={d.id}>
                  <td>
                    <IconDisk size={14} /> {d.name}
                  </td>
                  <td className="truncate" title={d.location}>
                    <code>{d.location}</code>
                  </td>
                  <td>{d.format ?? '—'}</td>
                  <td className="num">{fmt.bytes(d.sizeBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      </div>
      )}
    </section>
  )
}
