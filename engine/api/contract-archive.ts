import { z } from 'zod'
import { defineChannel } from './contract-core'

/**
 * A host's own whole-VM archives (XVA for XenServer/XCP-ng) moved to and from files on the machine Lifeboat runs on,
 * and one disk of a restore point attached to an existing VM. All three are jobs (progress, cancel, log).
 */
const HostRef = z.string().min(1).max(200)
const VmRef = z.string().min(1).max(300)
const LocalFile = z.string().min(1).max(4096)

export const archiveExport = defineChannel(
  'archive.export',
  z.object({
    host: HostRef,
    vm: VmRef,
    /** File on this machine to write (a running VM is exported through a temporary snapshot). */
    file: LocalFile,
    overwrite: z.boolean().default(false),
  }),
  z.object({ jobId: z.string() }),
  'Export a VM as the host\'s archive format (XVA) into a file on this machine (a job).',
)

export const archiveImport = defineChannel(
  'archive.import',
  z.object({
    host: HostRef,
    file: LocalFile,
    /** Storage for the new VM's disks (XenServer: an SR's uuid or name); default the pool's default SR. */
    storage: z.string().min(1).max(4096).optional(),
    start: z.boolean().default(false),
  }),
  z.object({ jobId: z.string() }),
  'Create a new VM from an archive file (XVA) on this machine (a job; its result names the VM).',
)

export const restoreDisk = defineChannel(
  'restore.disk',
  z.object({
    point: z.string().min(1).max(200),
    /** The restore point's disk (e.g. "xvda"). */
    disk: z.string().min(1).max(1024),
    repo: z.string().min(1).max(4096).optional(),
    toHost: HostRef,
    /** The existing VM the disk is attached to. */
    vm: VmRef,
    /** Name of the new disk; default the disk's name with the date. */
    as: z.string().min(1).max(500).optional(),
    storage: z.string().min(1).max(4096).optional(),
  }),
  z.object({ jobId: z.string() }),
  'Write one disk of a restore point as a new disk and attach it to an existing VM (a job).',
)
