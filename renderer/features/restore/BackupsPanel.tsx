import { usePoints } from '../../api/queries'
import { IconDisk } from '../../components/icons'
import { useT } from '../../i18n/i18n'
import { groupByVm } from './point-labels'
import { RestorePoints } from './RestorePoints'
import { CopiesBadge } from './CopiesBadge'

/** A VM as the repository knows it: its restore points, even if no host has the VM any more. */
export function BackupsPanel({ vmId }: { readonly vmId: string }) {
  const t = useT()
  const points = usePoints()
  const group = groupByVm(points.data ?? []).find((g) => g.vmId === vmId)
  const name = group?.vmName ?? vmId
  return (
    <section className="panel panel-wide" aria-labelledby="panel-title">
      <header className="panel-header">
        <div className="panel-heading">
          <span className="panel-icon">
            <IconDisk size={22} />
          </span>
          <div className="panel-titles">
            <h1 id="panel-title" className="truncate" title={name}>
              {name}
            </h1>
            <p className="panel-subtitle">
              {(group?.points.length ?? 0) === 1 ? t('backups.subtitle.one') : t('backups.subtitle', { count: group?.points.length ?? 0 })} <CopiesBadge vmId={vmId} />
            </p>
          </div>
        </div>
      </header>
      <RestorePoints vmId={vmId} vmName={name} />
    </section>
  )
}
