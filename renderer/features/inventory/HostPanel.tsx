import { useState } from 'react'
import type { HostDto, HostInventoryDto } from '../../../engine/api/contract'
import { Alert, Facts, PowerBadge, StatusDot } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconBackup, IconPlug, IconRefresh, IconTrash, IconVm } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useRefreshInventory, useRemoveHost, useTestHost } from '../../api/queries'
import { useUi } from '../../stores/ui-store'
import { TrustKeyDialog } from '../hosts/TrustKeyDialog'
import { KindIcon } from './HostTree'

export function HostPanel({ inventory, host }: { readonly inventory: HostInventoryDto; readonly host: HostDto | undefined }) {
  const t = useT()
  const fmt = useFormat()
  const select = useUi((s) => s.select)
  const toast = useUi((s) => s.toast)
  const openWizard = useUi((s) => s.openWizard)
  const testHost = useTestHost()
  const removeHost = useRemoveHost()
  const refresh = useRefreshInventory()
  const [confirmRemove, setConfirmRemove] = useState(false)
  const [trustOpen, setTrustOpen] = useState(false)
  const status = inventory.status
  const statusLabel = t(status === 'online' ? 'status.online' : status === 'connecting' ? 'status.connecting' : 'status.error')
  const mismatch = inventory.error?.code === 'HOST_KEY_MISMATCH' ? inventory.error : undefined
  const running = inventory.vms.filter((v) => v.powerState === 'running').length
  /** Pools: which member each VM runs on (a halted VM runs nowhere). */
  const showResident = inventory.physicalHosts.length > 1

  return (
    <section className="panel" aria-labelledby="panel-title">
      <header className="panel-header">
        <div className="panel-heading">
          <span className="panel-icon">
            <KindIcon kind={inventory.kind} size={22} />
          </span>
          <div className="panel-titles">
            <h1 id="panel-title" className="truncate" title={inventory.name}>
              {inventory.name}
            </h1>
            <p className="panel-subtitle">
              {t(`kind.${inventory.kind}`)}
              {host && ` · ${host.user}@${host.address}:${host.port}`}
            </p>
          </div>
          <span className={`pill pill-${status}`}>
            <StatusDot status={status} label={statusLabel} />
            {statusLabel}
          </span>
        </div>
        <div className="panel-actions">
          <Button
            icon={<IconPlug />}
            busy={testHost.isPending}
            onClick={() =>
              testHost.mutate(inventory.hostId, {
                onSuccess: (r) => toast('success', t('host.testOk', { hostname: r.identity.hostname, ms: r.latencyMs })),
                onError: (e) => toast('error', errorText(t, e)),
              })
            }
          >
            {testHost.isPending ? t('host.testing') : t('host.test')}
          </Button>
          <Button variant="primary" icon={<IconBackup />} disabled={inventory.vms.length === 0} onClick={() => openWizard({ targets: inventory.vms.map((v) => ({ host: inventory.hostId, vm: v.id })) })}>
            {t('host.backup')}
          </Button>
          <Button icon={<IconRefresh />} busy={refresh.isPending} onClick={() => refresh.mutate(inventory.hostId)}>
            {t('host.refresh')}
          </Button>
          <Button variant="ghost" icon={<IconTrash />} onClick={() => setConfirmRemove(true)}>
            {t('host.remove')}
          </Button>
        </div>
      </header>

      {mismatch && (
        <Alert
          tone="error"
          title={t('host.keyChanged.title')}
          action={
            <Button variant="secondary" size="sm" onClick={() => setTrustOpen(true)}>
              {t('host.keyChanged.review')}
            </Button>
          }
        >
          {t('host.keyChanged.body', { type: String(mismatch.params.keyType ?? ''), fingerprint: String(mismatch.params.fingerprint ?? '') })}
        </Alert>
      )}
      {status === 'error' && inventory.error && !mismatch && (
        <Alert tone="warning" title={t('host.offline.title')}>
          {errorText(t, inventory.error)}
          {inventory.updatedAt && <span> {t('host.offline.lastSeen', { date: fmt.date(inventory.updatedAt) })}</span>}
        </Alert>
      )}

      <div className="cards">
        <div className="card">
          <h2 className="card-title">{t('host.identity')}</h2>
          <Facts
            items={[
              [inventory.kind === 'xenserver' ? t('host.poolName') : t('host.hostname'), inventory.hostname ?? host?.identity?.hostname ?? '—'],
              ...(inventory.physicalHosts.length > 1 || inventory.kind === 'xenserver'
                ? ([[t('host.poolMembers'), inventory.physicalHosts.length > 0 ? inventory.physicalHosts.map((h) => h.name).join(', ') : '—']] as const)
                : []),
              [t('host.os'), host?.identity?.os ?? '—'],
              [t('host.version'), host?.identity?.version ?? '—'],
              [t('host.auth'), host ? t(host.authType === 'password' ? 'host.auth.password' : 'host.auth.key') : '—'],
              [t('host.lastSeen'), fmt.date(inventory.updatedAt)],
            ]}
          />
        </div>
        <div className="card">
          <h2 className="card-title">{t('host.security')}</h2>
          <Facts
            items={[
              [t('host.fingerprintType'), host === undefined ? '—' : host.fingerprintType === 'tls-certificate' ? t('add.verify.certificate') : `${t('add.verify.sshKey')} (${host.fingerprintType})`],
              [t('host.fingerprint'), <code className="fingerprint" key="fp">{host?.fingerprint ?? '—'}</code>],
              [t('host.addedAt'), fmt.date(host?.addedAt)],
            ]}
          />
        </div>
      </div>

      <div className="card">
        <h2 className="card-title">
          {t('host.vms')} <span className="card-count">{t('welcome.vmsRunning', { running, total: inventory.vms.length })}</span>
        </h2>
        {inventory.vms.length === 0 ? (
          <p className="muted">{status === 'connecting' ? t('common.loading') : t('host.vms.empty')}</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('vm.table.name')}</th>
                <th scope="col">{t('vm.table.state')}</th>
                {showResident && <th scope="col">{t('vm.table.runsOn')}</th>}
                <th scope="col" className="num">{t('vm.cpus')}</th>
                <th scope="col" className="num">{t('vm.memory')}</th>
                <th scope="col" className="num">{t('vm.disks')}</th>
              </tr>
            </thead>
            <tbody>
              {[...inventory.vms]
                .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))
                .map((vm) => (
                  <tr key={vm.id}>
                    <td>
                      <button type="button" className="link-button truncate" title={vm.name} onClick={() => select({ kind: 'vm', hostId: inventory.hostId, vmId: vm.id })}>
                        <IconVm size={14} /> {vm.name}
                      </button>
                    </td>
                    <td>
                      <PowerBadge state={vm.powerState} kind={inventory.kind} />
                    </td>
                    {showResident && <td className="truncate">{vm.residentOn ?? '—'}</td>}
                    <td className="num">{vm.cpus ?? '—'}</td>
                    <td className="num">{fmt.bytes(vm.memoryBytes)}</td>
                    <td className="num">{vm.disks.length}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
      </div>

      {confirmRemove && (
        <Dialog
          title={t('host.remove.title', { name: inventory.name })}
          closeLabel={t('common.close')}
          tone="danger"
          locked={removeHost.isPending}
          onClose={() => setConfirmRemove(false)}
          footer={
            <>
              <Button onClick={() => setConfirmRemove(false)} disabled={removeHost.isPending} data-autofocus>
                {t('common.cancel')}
              </Button>
              <Button
                variant="danger"
                busy={removeHost.isPending}
                onClick={() =>
                  removeHost.mutate(inventory.hostId, {
                    onSuccess: () => {
                      setConfirmRemove(false)
                      select(null)
                      toast('success', t('host.removed', { name: inventory.name }))
                    },
                    onError: (e) => toast('error', errorText(t, e)),
                  })
                }
              >
                {t('host.remove.confirm')}
              </Button>
            </>
          }
        >
          <p>{t('host.remove.body')}</p>
        </Dialog>
      )}
      {trustOpen && mismatch && host && (
        <TrustKeyDialog host={host} presented={String(mismatch.params.fingerprint ?? '')} keyType={String(mismatch.params.keyType ?? '')} onClose={() => setTrustOpen(false)} />
      )}
    </section>
  )
}
