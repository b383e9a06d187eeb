import { z } from 'zod'
import { defineChannel } from './contract-core'

/**
 * Where the disks to browse come from. `image`: disk image files on the machine running the engine (several
 * for a VM whose LVM spans disks). `point`: a restore point in a repository. `snapshot`: a live snapshot on a host.
 */
export const DiskSourceRefSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('image'), paths: z.array(z.string().min(1).max(4096)).min(1).max(32) }),
  /** A restore point's disks (all of them, or the named ones), read from the repository. */
  z.object({
    kind: z.literal('point'),
    /** The repository's location (folder, sftp://HOST/FOLDER, s3://…; see RepoRefSchema in contract-repository). */
    repo: z.string().min(1).max(4096).optional(),
    pointId: z.string().min(1).max(200),
    disks: z.array(z.string().min(1).max(200)).min(1).max(32).optional(),
  }),
  /** A snapshot (Hyper-V checkpoint) that still exists on a saved host, read in place: host and VM by id or name. */
  z.object({
    kind: z.literal('snapshot'),
    host: z.string().min(1).max(200),
    vm: z.string().min(1).max(300),
    snapshot: z.string().min(1).max(300),
    disks: z.array(z.string().min(1).max(200)).min(1).max(32).optional(),
  }),
])
export type DiskSourceRef = z.infer<typeof DiskSourceRefSchema>

export const FsEntryDtoSchema = z.object({
  name: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'block-device', 'char-device', 'fifo', 'socket', 'other']),
  size: z.number(),
  mtime: z.string().optional(),
  ctime: z.string().optional(),
  birthtime: z.string().optional(),
  mode: z.number().optional(),
  uid: z.number().optional(),
  gid: z.number().optional(),
  attributes: z.number().optional(),
  symlinkTarget: z.string().optional(),
  streams: z.array(z.object({ name: z.string(), size: z.number() })).optional(),
})
export type FsEntryDto = z.infer<typeof FsEntryDtoSchema>

export const VolumeDtoSchema = z.object({
  locator: z.string(),
  disk: z.number(),
  kind: z.enum(['whole-disk', 'partition', 'logical-volume']),
  size: z.number(),
  content: z.string(),
  filesystem: z.object({ type: z.string(), label: z.string(), uuid: z.string(), size: z.number(), warnings: z.array(z.string()) }).optional(),
  partitionName: z.string().optional(),
  lvm: z.object({ vg: z.string(), lv: z.string().optional() }).optional(),
  /** Why this volume cannot be browsed, in plain words. */
  problem: z.string().optional(),
})
export type VolumeDto = z.infer<typeof VolumeDtoSchema>

export const DiskTreeDtoSchema = z.object({
  disks: z.array(z.object({ label: z.string(), size: z.number(), format: z.string(), table: z.string().optional() })),
  volumes: z.array(VolumeDtoSchema),
})
export type DiskTreeDto = z.infer<typeof DiskTreeDtoSchema>

const PathSchema = z.string().max(4096).default('/')
const Target = z.object({ source: DiskSourceRefSchema, volume: z.string().max(300).optional() })

export const filesProbe = defineChannel(
  'files.probe',
  z.object({ source: DiskSourceRefSchema }),
  DiskTreeDtoSchema,
  'The disks of a source: partition tables, LVM volumes and the filesystem on each volume.',
)

export const filesList = defineChannel(
  'files.list',
  Target.extend({ path: PathSchema, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(10_000).default(2000) }),
  z.object({ path: z.string(), entries: z.array(FsEntryDtoSchema), total: z.number() }),
  'One folder of a volume (a page of it for very large folders), sorted folders first, then by name.',
)

export const filesStat = defineChannel('files.stat', Target.extend({ path: PathSchema }), FsEntryDtoSchema, 'One file or folder of a volume.')

export const filesSearch = defineChannel(
  'files.search',
  Target.extend({ root: PathSchema, pattern: z.string().min(1).max(300), limit: z.number().int().min(1).max(10_000).default(500) }),
  z.object({ hits: z.array(z.object({ path: z.string(), entry: FsEntryDtoSchema })), truncated: z.boolean() }),
  'Find files by name (glob such as *.docx) below a folder.',
)

export const filesRestore = defineChannel(
  'files.restore',
  Target.extend({
    paths: z.array(z.string().max(4096)).min(1).max(1000),
    toDirectory: z.string().min(1).max(4096),
    /** Also restore NTFS alternate data streams, each as a file NAME:STREAM beside its file. */
    streams: z.boolean().optional(),
  }),
  z.object({ jobId: z.string() }),
  'Copy files or folders out of a volume into a local folder (as a job with progress); names never escape it.',
)

export const filesRestoreToGuest = defineChannel(
  'files.restoreToGuest',
  Target.extend({
    path: z.string().min(1).max(4096),
    /** The running VM to put the file into, on a saved host (by id or name). */
    host: z.string().min(1).max(200),
    vm: z.string().min(1).max(300),
    /** Absolute path inside the guest (C:\\… or /…). */
    guestPath: z.string().min(1).max(4096),
    overwrite: z.boolean().default(false),
  }),
  z.object({ jobId: z.string() }),
  'Copy one file out of a volume back into a running VM through the hypervisor\'s guest channel (Hyper-V: Guest Service Interface), as a job.',
)
