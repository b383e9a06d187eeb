import { usePoints } from '../../api/queries'
import { IconDisk } from '../../components/icons'
import { useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { groupByVm } from './point-labels'

/** Sidebar section: every VM the repository has restore points of, including VMs no host has any more. */
export function BackupsList() {
  const t = useT()
  const fmt = useFormat()
  const points = usePoints()
  const selection = useUi((s) => s.selection)
  const select = useUi((s) => s.select)
  const groups = groupByVm(points.data ?? [])
  if (groups.length === 0) return <p className="sidebar-note">{points.isLoading ? t('common.loading') : t('backups.none')}</p>
  return (
    <ul className="nav-list" aria-label={t('backups.title')}>
      {groups.map((g) => {
        const latest = g.points[0]
        const selected = selection?.kind === 'backups' && selection.vmId === g.vmId
        return (
          <li key={g.vmId}>
            <button type="button" className={`nav-item${selected ? ' is-selected' : ''}`} aria-current={selected ? 'true' : undefined} onClick={() => select({ kind: 'backups', vmId: g.vmId })}>
              <IconDisk size={15} />
              <span className="nav-name truncate" title={g.vmName}>
                {g.vmName}
              </span>
              <span className="nav-meta">{latest ? fmt.relative(latest.finishedAt) : ''}</span>
            </button>
          </li>
        )
      })}
    </ul>
  )
}
