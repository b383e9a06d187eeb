import { z } from 'zod'
import { defineChannel } from './contract-core'

/**
 * Backups, full restores, "snapshot before patching" and leftovers of VMs on saved hosts. Hosts are named by id or
 * name, VMs by id or (unique) name. Long operations are jobs: the start channels return the job id, the job record's
 * `result` holds the restore point (backup) or the restored VM (restore).
 */
const HostRef = z.string().min(1).max(200)
const VmRef = z.string().min(1).max(300)
const HookCommand = z.string().min(1).max(8192)

export const BackupModeSchema = z.enum(['cold', 'warm', 'hot'])
export const ConsistencySchema = z.enum(['offline', 'app', 'crash'])

export const ModeSupportDtoSchema = z.object({
  mode: BackupModeSchema,
  available: z.boolean(),
  reason: z.string().optional(),
  downtime: z.enum(['none', 'pause', 'shutdown']),
  consistency: ConsistencySchema,
})

export const backupModes = defineChannel(
  'backup.modes',
  z.object({ host: HostRef, vm: VmRef }),
  z.array(ModeSupportDtoSchema),
  'Which backup modes a VM allows now, with downtime and consistency (and why a mode is unavailable).',
)

export const backupStart = defineChannel(
  'backup.start',
  z.object({
    host: HostRef,
    vm: VmRef,
    mode: BackupModeSchema,
    /** Repository location (folder, sftp://HOST/FOLDER, s3://…; see RepoRefSchema); default $LIFEBOAT_HOME/repository. */
    repo: z.string().min(1).max(4096).optional(),
    /** Freeze the guest's filesystems through its agent when it answers (app-consistent); else crash-consistent. */
    quiesce: z.boolean().default(true),
    /** With quiesce: fail rather than fall back to crash-consistent (Hyper-V: checkpoint type ProductionOnly). */
    requireQuiesce: z.boolean().default(false),
    /** Cold: how long a clean shutdown may take. */
    shutdownTimeoutSec: z.number().int().min(5).max(24 * 3600).default(300),
    /** Cold: force the VM off after the timeout. Never implied. */
    forceOffAfterTimeout: z.boolean().default(false),
    /** Read only changed blocks when the host can tell (libvirt checkpoints). */
    incremental: z.boolean().default(true),
    /** LVM snapshots: the change they may absorb while read, as a share of the volume. */
    changeBudgetPercent: z.number().min(1).max(100).optional(),
    /** Shell command run on the host before the backup (failing stops it) and after it (always). */
    preHook: HookCommand.optional(),
    postHook: HookCommand.optional(),
  }),
  z.object({ jobId: z.string() }),
  'Back up a VM of a saved host into a repository (a job; its result is the restore point).',
)

export const restoreStart = defineChannel(
  'restore.start',
  z.object({
    point: z.string().min(1).max(200),
    repo: z.string().min(1).max(4096).optional(),
    toHost: HostRef,
    /** Name of the new VM; default "<name>-restored-<date>". */
    as: z.string().min(1).max(200).optional(),
    start: z.boolean().default(false),
    /** Overwrite the original VM's disks (it must be shut off). Needs confirm. */
    inPlace: z.boolean().default(false),
    confirm: z.boolean().default(false),
    /** Folder on the host for the new disk files. */
    storageDir: z.string().min(1).max(4096).optional(),
  }),
  z.object({ jobId: z.string() }),
  'Restore a whole VM from a restore point to a saved host, as a new VM (default) or in place (a job).',
)

export const SnapshotDtoSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string().optional(),
  lifeboat: z.boolean(),
  purpose: z.string().optional(),
  label: z.string().optional(),
  kind: z.enum(['internal', 'external']),
  vmState: z.string().optional(),
  current: z.boolean().optional(),
  /**
   * Its review date (ISO time), if the admin gave one: after it Lifeboat reminds the admin to keep or discard
   * the snapshot. Lifeboat never deletes a snapshot by itself.
   */
  expiresAt: z.string().optional(),
  /** When the admin chose to keep it after all (no more reminders). */
  keptAt: z.string().optional(),
  /** Found while taking it: a long disk chain, a nearly full storage repository. */
  warnings: z.array(z.string()).optional(),
})
export type SnapshotDto = z.infer<typeof SnapshotDtoSchema>

const SnapshotTarget = z.object({ host: HostRef, vm: VmRef })

export const snapshotsList = defineChannel('snapshots.list', SnapshotTarget, z.array(SnapshotDtoSchema), 'Snapshots of a VM (Lifeboat\'s are marked).')

export const snapshotsCreate = defineChannel(
  'snapshots.create',
  SnapshotTarget.extend({
    label: z.string().min(1).max(500),
    /** Its review date (ISO 8601), e.g. a week after patching: Lifeboat then asks the admin to keep or discard it. */
    expiresAt: z.string().min(1).max(64).refine((v) => !Number.isNaN(Date.parse(v)), 'not a time').optional(),
  }),
  SnapshotDtoSchema,
  'Take a named snapshot of a VM ("snapshot before patching"), tagged as Lifeboat\'s.',
)

export const snapshotsRevert = defineChannel(
  'snapshots.revert',
  SnapshotTarget.extend({
    snapshot: z.string().min(1).max(300),
    /** true: running afterwards; false: shut off; omitted: as captured. */
    start: z.boolean().optional(),
    /** Reverting discards everything since the snapshot; the caller must have asked the admin. */
    confirm: z.literal(true),
  }),
  z.object({}),
  'Return a VM to a snapshot (discards every change since). Needs confirm: true.',
)

export const snapshotsKeep = defineChannel(
  'snapshots.keep',
  SnapshotTarget.extend({ snapshot: z.string().min(1).max(300) }),
  SnapshotDtoSchema,
  'Keep a "snapshot before patching" past its review date: Lifeboat stops reminding about it (the snapshot is not changed).',
)

export const snapshotsRemove = defineChannel('snapshots.remove', SnapshotTarget.extend({ snapshot: z.string().min(1).max(300) }), z.object({}), 'Discard a snapshot (the VM keeps its current state).')

export const LeftoverDtoSchema = z.object({
  id: z.string(),
  kind: z.string(),
  description: z.string(),
  vmId: z.string().optional(),
  vmName: z.string().optional(),
  jobId: z.string().optional(),
  safeToClean: z.boolean(),
})

export const leftoversList = defineChannel(
  'leftovers.list',
  z.object({ host: HostRef }),
  z.array(LeftoverDtoSchema),
  'Snapshots, overlays, checkpoints, block jobs and files earlier Lifeboat jobs left on a host.',
)

export const leftoversClean = defineChannel(
  'leftovers.clean',
  z.object({ host: HostRef, ids: z.array(z.string().min(1).max(5000)).min(1).max(1000) }),
  z.object({ cleaned: z.array(z.string()), failed: z.array(z.object({ id: z.string(), reason: z.string() })) }),
  'Clean up leftovers by id (merges overlays back, ends block jobs, deletes tagged snapshots and files).',
)

const ManualCommand = z.string().min(1).max(4096)
export const ManualVmDtoSchema = z.object({
  id: z.string(),
  name: z.string().min(1).max(200),
  disks: z.array(z.object({ name: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/), path: z.string().min(2).max(4096) })).min(1).max(64),
  commands: z
    .object({ start: ManualCommand.optional(), stop: ManualCommand.optional(), suspend: ManualCommand.optional(), resume: ManualCommand.optional(), status: ManualCommand.optional() })
    .optional(),
})

export const manualVmsList = defineChannel('manualVms.list', z.object({ host: HostRef }), z.array(ManualVmDtoSchema), 'VMs registered by hand on a Linux host (LVs, btrfs or image files, with their commands).')

export const manualVmsRegister = defineChannel(
  'manualVms.register',
  ManualVmDtoSchema.omit({ id: true }).extend({ host: HostRef }),
  z.object({ id: z.string() }),
  'Register (or replace) a VM Lifeboat cannot discover: its disks and the shell commands that start, stop, suspend and resume it.',
)

export const manualVmsUnregister = defineChannel('manualVms.unregister', z.object({ host: HostRef, vm: VmRef }), z.object({}), 'Forget a registered VM (its disks are not touched).')
