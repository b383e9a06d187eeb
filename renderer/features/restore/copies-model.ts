import type { VmCopiesDto } from '../../../engine/api/contract-copies'
import type { MessageKey } from '../../i18n/en'

/** What the badge says for a VM: "2 copies · 1 off this machine", and whether that is worth a warning colour. */
export function copiesBadge(row: VmCopiesDto | undefined): { key: MessageKey; params: { copies: number; off: number }; weak: boolean; places: string[] } | undefined {
  if (row === undefined) return undefined
  const key: MessageKey = row.copies === 1 ? 'copies.badge.one' : 'copies.badge'
  // One place only, or nothing away from this machine: one fire, theft or dead disk from losing everything.
  return { key, params: { copies: row.copies, off: row.offMachine }, weak: row.copies < 2 || row.offMachine === 0, places: row.places.map((p) => p.location) }
}
