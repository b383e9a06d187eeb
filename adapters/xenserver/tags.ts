/**
 * How Lifeboat marks what it creates on a pool: keys in other_config (VMs and VDIs), so leftovers are found after a
 * crash and "snapshot before patching" snapshots are told apart from the admin's own.
 */
export const TAG = {
  job: 'lifeboat:job',
  vm: 'lifeboat:vm',
  purpose: 'lifeboat:purpose',
  created: 'lifeboat:created',
  heartbeat: 'lifeboat:heartbeat',
  expires: 'lifeboat:expires',
  label: 'lifeboat:label',
  disk: 'lifeboat:disk',
  restoredFrom: 'lifeboat:restored-from',
} as const

/**
 * - backup: a snapshot (VM and VDIs) that exists only while a backup reads it
 * - pending: set on the VM itself just before VM.snapshot/checkpoint, so the new snapshot inherits the tags even if
 *   Lifeboat dies before it can tag it; removed right after
 * - cbt-base: a snapshot VDI reduced to changed-block metadata (VDI.data_destroy), the reference for the next backup
 * - delta-base: a full snapshot VDI kept for a VHD delta export (base=) where changed block tracking is unavailable
 * - before-patching: the admin's "Snapshot before patching"
 */
export type Purpose = 'backup' | 'pending' | 'cbt-base' | 'delta-base' | 'before-patching'

export function isLifeboat(other: Readonly<Record<string, string>>): boolean {
  return other[TAG.purpose] !== undefined
}

export function purposeOf(other: Readonly<Record<string, string>>): Purpose | undefined {
  const p = other[TAG.purpose]
  return p === 'backup' || p === 'pending' || p === 'cbt-base' || p === 'delta-base' || p === 'before-patching' ? p : undefined
}

export function tags(purpose: Purpose, fields: { job?: string; vm?: string; disk?: string; label?: string; expires?: string }, now = new Date()): Record<string, string> {
  return {
    [TAG.purpose]: purpose,
    [TAG.created]: now.toISOString(),
    ...(fields.job !== undefined ? { [TAG.job]: fields.job } : {}),
    ...(fields.vm !== undefined ? { [TAG.vm]: fields.vm } : {}),
    ...(fields.disk !== undefined ? { [TAG.disk]: fields.disk } : {}),
    ...(fields.label !== undefined ? { [TAG.label]: fields.label.slice(0, 500) } : {}),
    ...(fields.expires !== undefined ? { [TAG.expires]: fields.expires } : {}),
  }
}

/** other_config without Lifeboat's keys (for a restored VM, which must not look like a leftover). */
export function withoutTags(other: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(other).filter(([k]) => !k.startsWith('lifeboat:')))
}

/** ISO time from XAPI's datetime ("20240131T12:34:56Z"), or undefined. */
export function isoTime(xapi: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2}):?(\d{2}):?(\d{2})/.exec(xapi)
  if (m) {
    const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`
    return iso.startsWith('1970') ? undefined : iso
  }
  const d = new Date(xapi)
  return Number.isNaN(d.getTime()) || d.getTime() <= 0 ? undefined : d.toISOString()
}

/**
 * A health check's temporary VM and its VDIs. Not a `Purpose`: the flows above (snapshots, references) must never
 * mistake them for their own; only the health check and the leftovers check look for this mark.
 */
export const HEALTH_CHECK = 'health-check'

export function healthCheckMarks(job: string, now = new Date()): Record<string, string> {
  return { [TAG.purpose]: HEALTH_CHECK, [TAG.created]: now.toISOString(), [TAG.heartbeat]: now.toISOString(), [TAG.job]: job }
}

export function isHealthCheck(other: Readonly<Record<string, string>>): boolean {
  return other[TAG.purpose] === HEALTH_CHECK
}
