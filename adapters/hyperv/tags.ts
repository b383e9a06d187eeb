import { AdapterError } from '../host-adapter'

/**
 * Checkpoint names are Lifeboat's only tag on a Hyper-V host (checkpoints have no writable notes through the
 * cmdlets). Backup checkpoints carry the job id — and the checkpoint type the VM had when Lifeboat changed it — so
 * reconcile can find and undo them after a crash; "Before patching" checkpoints are the admin's and are never cleaned.
 */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
const BACKUP = new RegExp(`^Lifeboat backup lifeboat-(${UUID})(?: \\(was (Disabled|Production|ProductionOnly|Standard)\\))?$`)
const PATCH = /^Before patching (\d{4}-\d{2}-\d{2} \d{2}:\d{2})(?: - (.*))? \[Lifeboat(?: until (\d{4}-\d{2}-\d{2} \d{2}:\d{2}))?\]$/s

export type CheckpointTypeName = 'Disabled' | 'Production' | 'ProductionOnly' | 'Standard'

export function checkJobId(jobId: string): string {
  if (!new RegExp(`^${UUID}$`).test(jobId)) throw new AdapterError('BAD_RESPONSE', `"${jobId.slice(0, 80)}" is not a job id Lifeboat can tag checkpoints with (a lower-case UUID).`)
  return jobId
}

export function backupCheckpointName(jobId: string, originalType?: CheckpointTypeName): string {
  return `Lifeboat backup lifeboat-${checkJobId(jobId)}${originalType !== undefined ? ` (was ${originalType})` : ''}`
}

export function parseBackupCheckpoint(name: string): { jobId: string; originalType?: CheckpointTypeName } | undefined {
  const m = BACKUP.exec(name)
  if (m?.[1] === undefined) return undefined
  return { jobId: m[1], ...(m[2] !== undefined ? { originalType: m[2] as CheckpointTypeName } : {}) }
}

const minute = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ')

/**
 * "Before patching 2026-05-01 14:03 [Lifeboat]" (UTC), with the admin's label when it says more than that, and the
 * time after which it may be discarded when there is one ("[Lifeboat until 2026-05-08 14:03]").
 */
export function patchCheckpointName(label: string, now: Date, expiresAt?: Date): string {
  const text = label.replace(/[\r\n\t]+/g, ' ').trim().slice(0, 80)
  const extra = text === '' || /^before patching$/i.test(text) ? '' : ` - ${text}`
  return `Before patching ${minute(now)}${extra} [Lifeboat${expiresAt !== undefined ? ` until ${minute(expiresAt)}` : ''}]`
}

export function parsePatchCheckpoint(name: string): { label: string; stamp: string; expiresAt?: string } | undefined {
  const m = PATCH.exec(name)
  if (m?.[1] === undefined) return undefined
  return { stamp: m[1], label: m[2] ?? 'Before patching', ...(m[3] !== undefined ? { expiresAt: `${m[3].replace(' ', 'T')}:00.000Z` } : {}) }
}
