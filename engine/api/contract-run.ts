import { z } from 'zod'
import { defineChannel } from './contract-core'
import { JobStartedSchema } from './contract-repository'

/**
 * Instant recovery (KVM/libvirt hosts): a VM started straight from a restore point, its disks served by Lifeboat
 * through the SSH connection under a writable overlay on the host. `points.run` is a job that serves for as long as the
 * VM needs it; cancelling it stops and discards the VM. "Make permanent" copies the disks to host storage while the VM
 * runs and cuts it loose; "discard" removes it and everything it wrote. XenServer and Hyper-V say why not (yet).
 */
export const InstantRunDtoSchema = z.object({
  name: z.string(),
  vmId: z.string(),
  runId: z.string(),
  pointId: z.string(),
  /** libvirt's word: running, paused (lost its server, or paused by the admin), shut off… */
  state: z.string(),
  permanent: z.boolean(),
  /** A Lifeboat serves its disks right now; false and not permanent: it waits for `--resume` or discard. */
  served: z.boolean(),
  /** Paused by an I/O error reading the backup (nobody served it); a serving Lifeboat resumes it. */
  stalled: z.boolean(),
  disks: z.array(z.object({ target: z.string(), overlay: z.string() })),
})
export type InstantRunDto = z.infer<typeof InstantRunDtoSchema>

export const PointRunResultDtoSchema = z.object({
  name: z.string(),
  vmId: z.string(),
  /** How serving ended: made permanent, discarded by this job (cancelled), or discarded by someone else (`runs.discard` in this or another Lifeboat, virsh). */
  outcome: z.enum(['permanent', 'discarded', 'discarded-elsewhere']),
  startedInMs: z.number(),
})
export type PointRunResultDto = z.infer<typeof PointRunResultDtoSchema>

const HostName = z.string().min(1).max(200)
const VmName = z.string().min(1).max(200).regex(/^[^/\n\0]+$/, 'A VM name has no "/" or line breaks.')

export const pointsRun = defineChannel(
  'points.run',
  z.object({
    point: z.string().min(1).max(200),
    repo: z.string().min(1).max(4096).optional(),
    host: HostName,
    /** Default `<original name>-from-backup`. */
    name: VmName.optional(),
    network: z.enum(['none', 'original']).default('none'),
    /** Serve this run again (its Lifeboat died) and resume it, instead of starting a new VM. */
    resume: VmName.optional(),
  }),
  JobStartedSchema,
  'Run a VM straight from a restore point on a KVM/libvirt host (a job: progress phase `running` with the VM name once it runs; it serves until the VM is made permanent or discarded; cancelling it discards the VM).',
)

export const runsList = defineChannel('runs.list', z.object({ host: HostName }), z.array(InstantRunDtoSchema), 'The VMs on a host that run (or ran) from a restore point.')

export const runsMakePermanent = defineChannel(
  'runs.makePermanent',
  z.object({ host: HostName, name: VmName }),
  JobStartedSchema,
  'Copy a running-from-backup VM\'s disks to host storage while it runs (a job with bytes, rate and ETA); afterwards it no longer needs Lifeboat.',
)

export const runsDiscard = defineChannel(
  'runs.discard',
  z.object({ host: HostName, name: VmName }),
  z.object({ leftBehind: z.array(z.string()) }),
  'Stop and discard a VM run from a restore point: turned off, undefined, its overlays (everything it wrote) and sockets removed. A job of this engine that serves it (or reconnects to serve it after a lost connection) stops serving first and ends with outcome `discarded-elsewhere`; a job of another Lifeboat ends so once it sees the VM gone.',
)
