import { useEffect, useState } from 'react'
import { useApi, type ConnectionStatus } from '../api/api-client'
import { useHosts, useInventory, useLiveUpdates } from '../api/queries'
import { Alert, EmptyState } from '../components/bits'
import { Button } from '../components/Button'
import { IconCalendar, IconHome, IconPlus, IconServer, IconSettings } from '../components/icons'
import { Toasts } from '../components/Toasts'
import { errorText, useT } from '../i18n/i18n'
import { useUi } from '../stores/ui-store'
import { AddHostDialog } from '../features/hosts/AddHostDialog'
import { BackupWizard } from '../features/backup/BackupWizard'
import { PatchSnapshotDialog } from '../features/snapshots/PatchSnapshotDialog'
import { Dashboard } from '../features/dashboard/Dashboard'
import { PlansPanel } from '../features/plans/PlansPanel'
import { SettingsPanel } from '../features/settings/SettingsPanel'
import { useAlertLanguage } from '../features/settings/use-alert-language'
import { HostPanel } from '../features/inventory/HostPanel'
import { HostTree } from '../features/inventory/HostTree'
import { VmPanel } from '../features/inventory/VmPanel'
import { Welcome } from '../features/inventory/Welcome'
import { JobsDrawer } from '../features/jobs/JobsDrawer'
import { BackupsList } from '../features/restore/BackupsList'
import { BackupsPanel } from '../features/restore/BackupsPanel'
import { RunsBanner } from '../features/runs/RunsBanner'
import { TopBar } from './TopBar'

function useConnectionStatus(): ConnectionStatus {
  const api = useApi()
  const [status, setStatus] = useState(api.status)
  useEffect(() => api.onStatus(setStatus), [api])
  return status
}

function useThemeAttribute(): void {
  const theme = useUi((s) => s.theme)
  const language = useUi((s) => s.language)
  useEffect(() => {
    const root = document.documentElement
    if (theme === 'system') delete root.dataset.theme
    else root.dataset.theme = theme
    root.lang = language
  }, [theme, language])
}

function MainPanel() {
  const t = useT()
  const inventory = useInventory()
  const hosts = useHosts()
  const selection = useUi((s) => s.selection)
  if (inventory.isError) return <Alert title={t('common.retry')}>{errorText(t, inventory.error)}</Alert>
  if (!inventory.data) return <p className="muted panel">{t('common.loading')}</p>
  const tree = inventory.data.hosts
  if (selection?.kind === 'backups') return <BackupsPanel vmId={selection.vmId} />
  if (selection?.kind === 'view') {
    if (selection.view === 'plans') return <PlansPanel />
    if (selection.view === 'settings') return <SettingsPanel />
  }
  if (selection && selection.kind !== 'view') {
    const host = tree.find((h) => h.hostId === selection.hostId)
    if (host && selection.kind === 'host') return <HostPanel inventory={host} host={hosts.data?.find((h) => h.id === host.hostId)} />
    const vm = host?.vms.find((v) => selection.kind === 'vm' && v.id === selection.vmId)
    if (host && vm) return <VmPanel inventory={host} vm={vm} />
  }
  return tree.length === 0 ? <Welcome hosts={tree} /> : <Dashboard hosts={tree} />
}

function MainNav() {
  const t = useT()
  const selection = useUi((s) => s.selection)
  const select = useUi((s) => s.select)
  const current = selection === null ? 'dashboard' : selection.kind === 'view' ? selection.view : undefined
  const items = [
    ['dashboard', t('nav.dashboard'), <IconHome key="i" size={16} />],
    ['plans', t('nav.plans'), <IconCalendar key="i" size={16} />],
    ['settings', t('nav.settings'), <IconSettings key="i" size={16} />],
  ] as const
  return (
    <ul className="nav-list main-nav">
      {items.map(([view, label, icon]) => (
        <li key={view}>
          <button type="button" className={`nav-item${current === view ? ' is-selected' : ''}`} aria-current={current === view ? 'page' : undefined} onClick={() => select(view === 'dashboard' ? null : { kind: 'view', view })}>
            {icon}
            <span className="nav-name">{label}</span>
          </button>
        </li>
      ))}
    </ul>
  )
}

function Sidebar() {
  const t = useT()
  const inventory = useInventory()
  const openAdd = useUi((s) => s.setAddHostOpen)
  const hosts = inventory.data?.hosts ?? []
  return (
    <nav className="sidebar" aria-label={t('nav.label')}>
      <MainNav />
      <h2 id="sidebar-title" className="sidebar-title">
        {t('tree.title')}
      </h2>
      {inventory.data && hosts.length === 0 ? (
        <EmptyState icon={<IconServer size={28} />} title={t('tree.empty')} action={<Button size="sm" icon={<IconPlus />} onClick={() => openAdd(true)}>{t('topbar.addHost')}</Button>}>
          <p>{t('tree.empty.hint')}</p>
        </EmptyState>
      ) : (
        <HostTree hosts={hosts} />
      )}
      <h2 className="sidebar-title">{t('backups.title')}</h2>
      <BackupsList />
    </nav>
  )
}

export function App() {
  const t = useT()
  useLiveUpdates()
  useThemeAttribute()
  useAlertLanguage()
  const status = useConnectionStatus()
  const jobsOpen = useUi((s) => s.jobsOpen)
  const addHostOpen = useUi((s) => s.addHostOpen)
  const wizard = useUi((s) => s.wizard)
  const patchTarget = useUi((s) => s.patchSnapshot)
  if (status === 'unauthorized') {
    return (
      <main className="gate">
        <EmptyState title={t('connection.refused.title')}>
          <p>{t('connection.refused.body')}</p>
        </EmptyState>
      </main>
    )
  }
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        {t('app.skipToContent')}
      </a>
      <TopBar />
      <div className="app-banners">
        {status === 'reconnecting' && (
          <div className="connection-banner" role="status">
            {t('connection.lost')}
          </div>
        )}
        <RunsBanner />
      </div>
      <Sidebar />
      <main id="main" className="main" tabIndex={-1}>
        <MainPanel />
      </main>
      {jobsOpen && <JobsDrawer />}
      {addHostOpen && <AddHostDialog />}
      {wizard && <BackupWizard start={wizard} />}
      {patchTarget && <PatchSnapshotDialog target={patchTarget} />}
      <Toasts />
    </div>
  )
}

export function NoToken() {
  const t = useT()
  return (
    <main className="gate">
      <EmptyState title={t('connection.noToken.title')}>
        <p>{t('connection.noToken.body')}</p>
      </EmptyState>
    </main>
  )
}
