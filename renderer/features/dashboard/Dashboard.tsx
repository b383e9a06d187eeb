import { useQueries, useQuery } from '@tanstack/react-query'
import { repoInfo, snapshotsList, type HostInventoryDto, type SnapshotDto } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { useJobs, usePoints } from '../../api/queries'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconPlus } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useNow } from '../../app/use-now'
import { useUi } from '../../stores/ui-store'
import { usePlans } from '../plans/PlansPanel'
import { reviewState } from '../snapshots/snapshot-model'
import { failedChecks, lastProvenBootable } from './boot-proof'
import { prePatchSnapshots, protection } from './protection'

const STALE_DAYS = 2

/** What is protected and what is not — the danger first. */
export function Dashboard({ hosts }: { readonly hosts: readonly HostInventoryDto[] }) {
  const t = useT()
  const fmt = useFormat()
  const api = useApi()
  const points = usePoints()
  const plans = usePlans()
  const jobs = useJobs()
  const repo = useQuery({ queryKey: queryKeys.repoInfo, queryFn: () => api.invoke(repoInfo, {}), retry: false })
  const select = useUi((s) => s.select)
  const openWizard = useUi((s) => s.openWizard)
  const now = useNow()
  const vms = protection(hosts, points.data ?? [], STALE_DAYS, now)
  const stale = vms.filter((v) => v.stale)
  const proven = lastProvenBootable(points.data ?? [])
  const failedBoots = failedChecks(points.data ?? [])
  const failedPlans = (plans.data ?? []).filter((p) => p.status.lastResult === 'failed' || p.status.lastResult === 'partial')
  const missed = (plans.data ?? []).filter((p) => p.status.missedRuns > 0)
  // Pre-patch snapshots still waiting for a decision (kept ones are not): details come from the host, the
  // inventory's list stands in until they arrive.
  const patchVms = [...new Map(prePatchSnapshots(hosts).filter((p) => p.host.status === 'online').map((p) => [`${p.host.hostId}/${p.vm.id}`, p])).values()]
  const details = useQueries({
    queries: patchVms.map((p) => ({ queryKey: queryKeys.snapshots(p.host.hostId, p.vm.id), queryFn: () => api.invoke(snapshotsList, { host: p.host.hostId, vm: p.vm.id }), staleTime: 15_000 })),
  })
  const snapshots = patchVms
    .flatMap((p, i) => {
      const known: readonly Pick<SnapshotDto, 'id' | 'name' | 'label' | 'createdAt' | 'lifeboat' | 'purpose' | 'expiresAt' | 'keptAt'>[] = details[i]?.data ?? p.vm.snapshots
      return known.map((snapshot) => ({ host: p.host, vm: p.vm, snapshot, state: reviewState(snapshot, now) }))
    })
    .filter((s) => s.state === 'due' || s.state === 'pending' || s.state === 'no-date')
    .sort((a, b) => Number(b.state === 'due') - Number(a.state === 'due') || (a.snapshot.createdAt ?? '').localeCompare(b.snapshot.createdAt ?? ''))
  const offline = hosts.filter((h) => h.status === 'error')
  const recentFailures = (jobs.data ?? []).filter((j) => j.state === 'failed' && now - Date.parse(j.createdAt) < 7 * 24 * 3600 * 1000)
  return (
    <section className="panel panel-wide" aria-labelledby="panel-title">
      <header className="panel-header">
        <div className="panel-titles">
          <h1 id="panel-title">{t('dash.title')}</h1>
          <p className="panel-subtitle">{t('dash.subtitle')}</p>
        </div>
        <div className="panel-actions">
          <Button variant="primary" icon={<IconPlus />} disabled={stale.length === 0} onClick={() => openWizard({ targets: stale.map((v) => ({ host: v.hostId, vm: v.vmId })) })}>
            {t('dash.backUp')}
          </Button>
        </div>
      </header>
      <div className="attention" aria-label={t('dash.attention')}>
        {stale.length > 0 && (
          <Alert tone="error" title={t('dash.stale', { count: stale.length, days: STALE_DAYS })}>
            {stale.slice(0, 6).map((v) => `${v.vmName} (${v.lastBackup ? fmt.relative(v.lastBackup) : t('dash.never')})`).join(' · ')}
          </Alert>
        )}
        {failedBoots.length > 0 && (
          <Alert tone="error" title={failedBoots.length === 1 ? t('dash.checkFailed.one') : t('dash.checkFailed', { count: failedBoots.length })}>
            <ul className="plain-list">
              {failedBoots.slice(0, 6).map((p) => (
                <li key={p.id}>
                  <button type="button" className="link-button" onClick={() => select({ kind: 'backups', vmId: p.vm.id })}>
                    {t('dash.checkFailed.item', { vm: p.vm.name, date: fmt.date(p.finishedAt) })}
                  </button>{' '}
                  — {p.lastCheck.reason} <span className="muted">({fmt.relative(p.lastCheck.checkedAt)})</span>
                </li>
              ))}
            </ul>
          </Alert>
        )}
        {failedPlans.map((p) => (
          <Alert key={p.plan.id} tone="error" title={t('dash.planFailed', { name: p.plan.name })} action={<Button size="sm" onClick={() => select({ kind: 'view', view: 'plans' })}>{t('dash.openPlans')}</Button>}>
            {p.status.lastRunAt ? fmt.date(p.status.lastRunAt) : ''}
          </Alert>
        ))}
        {missed.map((p) => (
          <Alert key={`m-${p.plan.id}`} tone="warning" title={t('plans.missed', { count: p.status.missedRuns, since: fmt.date(p.status.missedSince) })}>
            {p.plan.name}
          </Alert>
        ))}
        {snapshots.map(({ host, vm, snapshot, state }) => (
          <Alert
            key={`${host.hostId}/${vm.id}/${snapshot.id}`}
            tone={state === 'due' ? 'warning' : 'info'}
            title={state === 'due' ? t('dash.prePatchDue', { vm: vm.name, when: fmt.relative(snapshot.expiresAt) }) : t('dash.prePatch', { vm: vm.name, when: fmt.relative(snapshot.createdAt) })}
            action={<Button size="sm" onClick={() => select({ kind: 'vm', hostId: host.hostId, vmId: vm.id })}>{t('dash.review')}</Button>}
          >
            {snapshot.label ?? snapshot.name}
          </Alert>
        ))}
        {offline.map((h) => (
          <Alert key={h.hostId} tone="warning" title={t('dash.offline', { name: h.name })}>
            {h.error ? errorText(t, h.error) : ''}
          </Alert>
        ))}
        {stale.length + failedBoots.length + failedPlans.length + missed.length + snapshots.filter((s) => s.state === 'due').length + offline.length === 0 && vms.length > 0 && (
          <Alert tone="info" title={t('dash.allGood')}>
            {t('dash.allGood.detail', { count: vms.length, days: STALE_DAYS })}
          </Alert>
        )}
      </div>
      <div className="cards">
        <div className="card stat">
          <p className="stat-label">{t('dash.protected')}</p>
          <p className="stat-value">
            {vms.length - stale.length} / {vms.length}
          </p>
          <p className="stat-detail">{t('dash.protected.detail', { days: STALE_DAYS })}</p>
        </div>
        <div className="card stat">
          <p className="stat-label">{t('dash.repository')}</p>
          <p className="stat-value">{repo.data ? fmt.bytes(repo.data.storedBytes) : '—'}</p>
          <p className="stat-detail">
            {repo.data
              ? t('dash.repository.detail', { points: repo.data.points, free: repo.data.freeBytes !== undefined ? fmt.bytes(repo.data.freeBytes) : '—' })
              : repo.isError
                ? errorText(t, repo.error)
                : ''}
          </p>
        </div>
        <div className="card stat">
          <p className="stat-label">{t('dash.failures')}</p>
          <p className="stat-value">{recentFailures.length}</p>
          <p className="stat-detail">{t('dash.failures.detail')}</p>
        </div>
      </div>
      {vms.length > 0 && (
        <div className="card">
          <h2 className="card-title">{t('dash.vms')}</h2>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('vm.table.name')}</th>
                <th scope="col">{t('vm.host')}</th>
                <th scope="col">{t('dash.lastBackup')}</th>
                <th scope="col">{t('dash.lastBootable')}</th>
              </tr>
            </thead>
            <tbody>
              {vms.map((v) => (
                <tr key={`${v.hostId}/${v.vmId}`} className={v.stale ? 'is-stale' : undefined}>
                  <td>
                    <button type="button" className="link-button truncate" title={v.vmName} onClick={() => select({ kind: 'vm', hostId: v.hostId, vmId: v.vmId })}>
                      {v.vmName}
                    </button>
                  </td>
                  <td className="truncate">{v.hostName}</td>
                  <td>{v.lastBackup ? `${fmt.date(v.lastBackup)} (${fmt.relative(v.lastBackup)})` : <span className="field-error">{t('dash.never')}</span>}</td>
                  <td>{proven.has(v.vmId) ? `${fmt.date(proven.get(v.vmId))} (${fmt.relative(proven.get(v.vmId))})` : <span className="muted">{t('dash.neverProven')}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
