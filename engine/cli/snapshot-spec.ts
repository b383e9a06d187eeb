import type { DiskSourceRef } from '../api/contract-files'
import { UsageError } from './cli-io'

export const SNAPSHOT_PREFIX = 'snapshot:'

/** Does a files command's first argument name a live snapshot (rather than a restore point)? */
export function isSnapshotSpec(spec: string): boolean {
  return spec.startsWith(SNAPSHOT_PREFIX)
}

function part(text: string, what: string): string {
  let decoded: string
  try {
    decoded = decodeURIComponent(text)
  } catch {
    throw new UsageError(`The ${what} "${text}" has a broken %-escape (write % as %25).`)
  }
  if (decoded === '') throw new UsageError(`The ${what} is missing: use snapshot:HOST/VM/SNAPSHOT.`)
  return decoded
}

/**
 * `snapshot:HOST/VM/SNAPSHOT[#DISK][#VOLUME]`: a snapshot that still exists on a saved host, read in place. HOST and
 * VM by name or id, SNAPSHOT by name or id; a `/`, `#` or `%` inside a name is written %2F, %23, %25 (any %-escape
 * works). `#VOLUME` alone names a volume (p2, a label, lvm:vg/lv, d2:p1); `#DISK#VOLUME` first picks one disk.
 */
export function parseSnapshotSpec(spec: string): { source: Extract<DiskSourceRef, { kind: 'snapshot' }>; volume?: string } {
  if (!isSnapshotSpec(spec)) throw new UsageError(`A live snapshot is named ${SNAPSHOT_PREFIX}HOST/VM/SNAPSHOT.`)
  const [ref = '', ...parts] = spec.slice(SNAPSHOT_PREFIX.length).split('#')
  if (parts.length > 2) throw new UsageError('Use snapshot:HOST/VM/SNAPSHOT, …#VOLUME or …#DISK#VOLUME (write a # inside a name as %23).')
  const names = ref.split('/')
  if (names.length !== 3) throw new UsageError(`"${ref}" is not HOST/VM/SNAPSHOT (write a / inside a name as %2F).`)
  const [host = '', vm = '', snapshot = ''] = names
  const source = { kind: 'snapshot' as const, host: part(host, 'host'), vm: part(vm, 'VM'), snapshot: part(snapshot, 'snapshot') }
  const disk = parts.length === 2 ? part(parts[0] ?? '', 'disk') : undefined
  const volumeText = parts.length === 2 ? parts[1] : parts[0]
  const volume = volumeText === undefined || volumeText === '' ? undefined : part(volumeText, 'volume')
  return { source: { ...source, ...(disk !== undefined ? { disks: [disk] } : {}) }, ...(volume !== undefined ? { volume } : {}) }
}
