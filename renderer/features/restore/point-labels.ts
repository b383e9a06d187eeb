import type { PointSummaryDto } from '../../../engine/api/contract'
import type { MessageKey } from '../../i18n/en'

export const modeKey: Record<PointSummaryDto['mode'], MessageKey> = { cold: 'mode.cold', warm: 'mode.warm', hot: 'mode.hot' }
export const consistencyKey: Record<PointSummaryDto['consistency'], MessageKey> = {
  offline: 'consistency.offline',
  app: 'consistency.app',
  crash: 'consistency.crash',
}
export const consistencyHintKey: Record<PointSummaryDto['consistency'], MessageKey> = {
  offline: 'consistency.offline.hint',
  app: 'consistency.app.hint',
  crash: 'consistency.crash.hint',
}

export function pointSize(p: PointSummaryDto): number {
  return p.disks.reduce((sum, d) => sum + d.size, 0)
}

/** Groups restore points by VM (newest point first in each), VMs by name. */
export function groupByVm(points: readonly PointSummaryDto[]): { vmId: string; vmName: string; points: PointSummaryDto[] }[] {
  const groups = new Map<string, { vmId: string; vmName: string; points: PointSummaryDto[] }>()
  for (const p of points) {
    let g = groups.get(p.vm.id)
    if (!g) {
      g = { vmId: p.vm.id, vmName: p.vm.name, points: [] }
      groups.set(p.vm.id, g)
    }
    g.points.push(p)
  }
  for (const g of groups.values()) {
    g.points.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))
    g.vmName = g.points[0]?.vm.name ?? g.vmName
  }
  return [...groups.values()].sort((a, b) => a.vmName.localeCompare(b.vmName, undefined, { numeric: true, sensitivity: 'base' }))
}

/** A folder name for restored files: "<vm> <date>" with characters no file system accepts removed. */
export function restoreFolderName(p: PointSummaryDto): string {
  return safeFolderName(p.vm.name, p.finishedAt)
}

/** "<vm> <YYYY-MM-DD HH-MM>" (or "<vm> <label>") with characters no file system accepts removed. */
export function safeFolderName(vmName: string, isoOrLabel: string): string {
  const when = /^\d{4}-\d\d-\d\dT/.test(isoOrLabel) ? isoOrLabel.slice(0, 16).replace('T', ' ').replace(':', '-') : isoOrLabel
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return `${vmName} ${when}`.replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_').slice(0, 120)
}
