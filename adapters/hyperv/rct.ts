/**
 * Resilient Change Tracking (RCT) incrementals for hot backups, behind a capability flag (off by default): verified
 * only against test-hosts/hyperv-sim, not yet against a real Hyper-V host. See README.md in this folder.
 *
 * The documented WMI API (namespace root\virtualization\v2, Windows Server 2016 / configuration version 6.2 and later,
 * VHDX disks), through the CIM cmdlets:
 * - just before the backup checkpoint, Msvm_VirtualSystemReferencePointService.CreateReferencePoint(AffectedSystem,
 *   ReferencePointType 1 = RCT based) makes a reference point; its ResilientChangeTrackingIdentifiers (one per disk,
 *   paired with VirtualDiskIdentifiers, the disks' Msvm_StorageAllocationSettingData) go into the restore point's token.
 *   Made before the checkpoint, the reference point is never later than the data read, so the next incremental can
 *   only report more changes than there were, never fewer;
 * - on the next backup, Msvm_ImageManagementService.GetVirtualDiskChanges(Path = the file the checkpoint froze,
 *   LimitId = the previous RCT id, ByteOffset, ByteLength) lists the ranges changed since, and only those are read;
 * - once the new restore point is written, the previous reference point is destroyed
 *   (DestroyReferencePoint); when it is not written, the new one is.
 * An incremental is only taken when the chain is proven intact: the previous reference point must still be on the host,
 * belong to this VM and list the disk's RCT id from the token, and GetVirtualDiskChanges must answer cleanly. Anything
 * else (the point deleted or lost in a host crash, tracking reset so Hyper-V no longer knows the id, a return code, a
 * resized disk, a re-created VM, an answer outside the bounds) makes the disk a full read with its reason on the disk
 * (BackupDisk.fullReason): never a failed backup for it, never a silent wrong incremental. The new reference point made
 * for this backup re-arms the chain, and the stale previous one is removed once the restore point is written.
 */
import { z } from 'zod'
import { isAbortError } from '../abort'
import { AdapterError, throwIfAborted, type BackupOptions, type JsonValue } from '../host-adapter'
import type { UndoHandle, UndoStack } from '../undo-stack'
import type { HyperVContext } from './context'
import { ps, type PsRaw } from './powershell'
import { runJson } from './ps-runner'
import { arrayOf, asArray, parseJson } from './schemas'
import type { VmDetails } from './vm-details'

/** Environment variable that switches RCT on when the adapter is constructed ("1"); the adapter option `rct` wins. */
export const RCT_ENV = 'LIFEBOAT_HYPERV_RCT'
const NAMESPACE = 'root\\virtualization\\v2'
const METHOD_MS = 10 * 60_000
/** At most this many changed ranges per disk; more is treated as a hostile answer (full read). */
export const MAX_RANGES = 1_000_000
const MAX_QUERIES = 10_000

export function rctFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[RCT_ENV] === '1'
}

type Range = { readonly offset: number; readonly length: number }

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) < 0x20) return true
  return false
}

/** A WQL equality on a string property; WQL string literals escape \ and '. The result is then quoted for PowerShell. */
export function wqlEquals(property: 'Name' | 'InstanceID', value: string): string {
  if (value.length === 0 || value.length > 256 || hasControl(value)) throw new AdapterError('BAD_RESPONSE', 'A WMI identifier from the host is empty, too long or has control characters.')
  return `${property} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

const Size = z.number().int().min(0).max(2 ** 53)
const Identifier = z.string().min(1).max(256)
const Guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/).transform((s) => s.toLowerCase())
const strings = (max: number) => z.preprocess(asArray, z.array(Identifier).max(max))
const numbers = (max: number) => z.preprocess(asArray, z.array(Size).max(max))

/** What a restore point keeps: the reference point and each disk's RCT id at the time of the backup. */
export const RctToken = z.object({
  kind: z.literal('rct'),
  vmId: Guid,
  referencePoint: Identifier,
  disks: z.array(z.object({ id: z.string().min(1).max(64), rctId: Identifier, size: Size })).max(256),
})
export type RctToken = z.infer<typeof RctToken>

const MethodAnswer = z.object({
  Systems: z.number().int().min(0).max(1_000_000).nullish(),
  ReturnValue: z.number().int().nullish(),
  Point: Identifier.nullish(),
  Job: Identifier.nullish(),
})
const JobAnswer = z.object({ JobState: z.number().int(), ErrorCode: z.number().int().nullish(), ErrorDescription: z.string().max(4000).nullish() })
const PointAnswer = z.object({
  points: z.preprocess(
    asArray,
    z.array(z.object({ InstanceID: Identifier, VirtualSystemIdentifier: z.string().max(256).nullish(), ReferencePointType: z.number().int().nullish(), VirtualDiskIdentifiers: strings(256), ResilientChangeTrackingIdentifiers: strings(256) })).max(16),
  ),
  disks: z.preprocess(asArray, z.array(z.object({ InstanceID: Identifier, HostResource: z.preprocess(asArray, z.array(z.string().max(32_767)).max(16)) })).max(100_000)),
})
const ChangesAnswer = z.object({ ReturnValue: z.number().int(), Job: Identifier.nullish(), ProcessedByteLength: Size.nullish(), ChangedByteOffsets: numbers(MAX_RANGES), ChangedByteLengths: numbers(MAX_RANGES) })

/** The documented return values of GetVirtualDiskChanges, and of the reference point methods (0…6, 4096). */
const CHANGES_CODES: Readonly<Record<number, string>> = {
  4096: 'job started',
  32768: 'failed',
  32769: 'access denied',
  32770: 'not supported',
  32771: 'status unknown',
  32772: 'timeout',
  32773: 'invalid parameter (for example an RCT id the disk no longer knows)',
  32774: 'system in use',
  32775: 'invalid state for this operation',
  32776: 'incorrect data type',
  32777: 'system not available',
  32778: 'out of memory',
  32779: 'file not found',
}
const POINT_CODES: Readonly<Record<number, string>> = { 1: 'not supported', 2: 'failed', 3: 'timeout', 4: 'invalid parameter', 5: 'invalid state', 6: 'invalid type' }

function describeCode(code: number, table: Readonly<Record<number, string>>): string {
  return `return value ${code}${table[code] !== undefined ? ` (${table[code]})` : ''}`
}

const prelude = (): PsRaw => ps`$ns = ${NAMESPACE}`

/** Why RCT cannot be used for this VM at all (configuration version below 6.2, a disk that is not VHDX), or undefined. */
export function rctIneligible(d: VmDetails): string | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(d.vm.Version ?? '')
  if (!m) return `its configuration version is unknown (${d.vm.Version ?? 'none'})`
  const major = Number(m[1])
  const minor = Number(m[2])
  if (major < 6 || (major === 6 && minor < 2)) return `its configuration version ${d.vm.Version ?? ''} is older than 6.2 (Windows Server 2016)`
  for (const drive of d.drives) {
    const v = d.vhds.get((drive.Path ?? '').toLowerCase())
    if (v?.VhdFormat !== 'VHDX') return `${drive.Path ?? 'a disk'} is not a VHDX`
  }
  return undefined
}

async function waitForJob(ctx: HyperVContext, jobId: string, what: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + METHOD_MS
  for (;;) {
    const script = ps`${prelude()}
$j = @(CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_ConcreteJob' -Filter ${wqlEquals('InstanceID', jobId)})
$j | Select-Object JobState, ErrorCode, ErrorDescription | ConvertTo-Json -Compress`
    const job = await runJson(ctx.runner, script, JobAnswer, { signal, what: `${what}: waiting for the WMI job` })
    if (job.JobState === 7) return
    // New, Starting, Running, Suspended, Shutting Down: still going. Anything else ended without success.
    if (![2, 3, 4, 5, 6].includes(job.JobState)) throw new AdapterError('COMMAND_FAILED', `${what}: the WMI job ended in state ${job.JobState} (error ${job.ErrorCode ?? '?'}: ${(job.ErrorDescription ?? '').slice(0, 300)})`)
    if (Date.now() > deadline) throw new AdapterError('COMMAND_FAILED', `${what}: the WMI job did not finish in time.`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

export interface ReferencePoint {
  readonly instanceId: string
  /** Lower-case VHD path (as the VM's drive had it when the point was made) → RCT id. */
  readonly byPath: ReadonlyMap<string, string>
  /** Every RCT id the point lists, also of disks the VM no longer has. */
  readonly rctIds: readonly string[]
}

/** CreateReferencePoint (RCT based) for the VM, then its RCT ids by disk path. */
export async function createReferencePoint(ctx: HyperVContext, vmId: string, signal: AbortSignal, onMade: (instanceId: string) => void = () => undefined): Promise<ReferencePoint> {
  const what = 'Creating an RCT reference point'
  const script = ps`${prelude()}
$cs = @(CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_ComputerSystem' -Filter ${wqlEquals('Name', vmId)})
if ($cs.Count -ne 1) {
  [pscustomobject]@{ Systems = $cs.Count } | ConvertTo-Json -Compress
} else {
  $svc = CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_VirtualSystemReferencePointService'
  $r = CimCmdlets\\Invoke-CimMethod -InputObject $svc -MethodName 'CreateReferencePoint' -Arguments @{ AffectedSystem = $cs[0]; ReferencePointSettings = ''; ReferencePointType = 1 }
  [pscustomobject]@{ Systems = 1; ReturnValue = $r.ReturnValue; Point = $r.ResultingReferencePoint.InstanceID; Job = $r.Job.InstanceID } | ConvertTo-Json -Compress
}`
  const answer = await runJson(ctx.runner, script, MethodAnswer, { signal, what, timeoutMs: METHOD_MS })
  if (answer.Systems !== 1) throw new AdapterError('NOT_FOUND', `${what}: WMI lists ${answer.Systems ?? 0} virtual machines with this id.`)
  let pointId = answer.Point ?? undefined
  if (answer.ReturnValue === 4096) {
    if (answer.Job === undefined || answer.Job === null) throw new AdapterError('BAD_RESPONSE', `${what}: return value 4096 (job started) without a job.`)
    await waitForJob(ctx, answer.Job, what, signal)
    // The new reference point is associated with the finished job (CIM_AffectedJobElement).
    const found = await runJson(
      ctx.runner,
      ps`${prelude()}
$j = @(CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_ConcreteJob' -Filter ${wqlEquals('InstanceID', answer.Job)})
ConvertTo-Json -Compress -InputObject @($j | CimCmdlets\\Get-CimAssociatedInstance -ResultClassName 'Msvm_VirtualSystemReferencePoint' | Select-Object -ExpandProperty InstanceID)`,
      arrayOf(Identifier, 4),
      { signal, what },
    )
    if (found.length !== 1) throw new AdapterError('BAD_RESPONSE', `${what}: the finished job names ${found.length} reference points.`)
    pointId = found[0]
  } else if (answer.ReturnValue !== 0) {
    throw new AdapterError('COMMAND_FAILED', `${what}: ${describeCode(answer.ReturnValue ?? -1, POINT_CODES)}.`)
  }
  if (pointId === undefined) throw new AdapterError('BAD_RESPONSE', `${what}: the host did not name the new reference point.`)
  // Known from here on: the caller registers its removal before anything else can fail.
  onMade(pointId)
  return await describePoint(ctx, vmId, pointId, signal)
}

async function describePoint(ctx: HyperVContext, vmId: string, instanceId: string, signal: AbortSignal): Promise<ReferencePoint> {
  const point = await findPoint(ctx, vmId, instanceId, signal)
  if (point === undefined) throw new AdapterError('BAD_RESPONSE', 'Reading the RCT reference point: WMI does not list it.')
  return point
}

/** The reference point with this id, or undefined when the host no longer lists it; throws when it is not this VM's. */
async function findPoint(ctx: HyperVContext, vmId: string, instanceId: string, signal: AbortSignal): Promise<ReferencePoint | undefined> {
  const what = 'Reading the RCT reference point'
  const script = ps`${prelude()}
$p = @(CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_VirtualSystemReferencePoint' -Filter ${wqlEquals('InstanceID', instanceId)})
$d = @(CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_StorageAllocationSettingData')
[pscustomobject]@{ points = @($p | Select-Object InstanceID, VirtualSystemIdentifier, ReferencePointType, VirtualDiskIdentifiers, ResilientChangeTrackingIdentifiers); disks = @($d | Select-Object InstanceID, HostResource) } | ConvertTo-Json -Compress -Depth 4`
  const answer = await runJson(ctx.runner, script, PointAnswer, { signal, what, maxOutputBytes: 64 * 1024 * 1024 })
  const point = answer.points[0]
  if (answer.points.length === 0) return undefined
  if (answer.points.length !== 1 || point === undefined) throw new AdapterError('BAD_RESPONSE', `${what}: WMI lists ${answer.points.length} reference points with its id.`)
  if ((point.VirtualSystemIdentifier ?? '').toLowerCase() !== vmId.toLowerCase()) throw new AdapterError('BAD_RESPONSE', `${what}: it belongs to another virtual machine.`)
  if (point.ReferencePointType !== 2) throw new AdapterError('BAD_RESPONSE', `${what}: it is not RCT based (type ${point.ReferencePointType ?? 'none'}).`)
  if (point.VirtualDiskIdentifiers.length !== point.ResilientChangeTrackingIdentifiers.length) throw new AdapterError('BAD_RESPONSE', `${what}: it names ${point.VirtualDiskIdentifiers.length} disks but ${point.ResilientChangeTrackingIdentifiers.length} RCT ids.`)
  const byPath = new Map<string, string>()
  point.VirtualDiskIdentifiers.forEach((diskId, i) => {
    const disk = answer.disks.find((x) => x.InstanceID.toLowerCase() === diskId.toLowerCase())
    const path = disk?.HostResource[0]
    const rctId = point.ResilientChangeTrackingIdentifiers[i]
    if (path !== undefined && rctId !== undefined) byPath.set(path.toLowerCase(), rctId)
  })
  return { instanceId: point.InstanceID, byPath, rctIds: point.ResilientChangeTrackingIdentifiers }
}

/** DestroyReferencePoint; a point that is gone already counts as destroyed. */
export async function destroyReferencePoint(ctx: HyperVContext, instanceId: string, signal: AbortSignal): Promise<void> {
  const what = 'Removing an RCT reference point'
  const script = ps`${prelude()}
$svc = CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_VirtualSystemReferencePointService'
foreach ($p in @(CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_VirtualSystemReferencePoint' -Filter ${wqlEquals('InstanceID', instanceId)})) {
  $r = CimCmdlets\\Invoke-CimMethod -InputObject $svc -MethodName 'DestroyReferencePoint' -Arguments @{ AffectedReferencePoint = $p }
  [pscustomobject]@{ ReturnValue = $r.ReturnValue; Job = $r.Job.InstanceID } | ConvertTo-Json -Compress
}`
  const out = await ctx.runner(script, { signal, what, timeoutMs: METHOD_MS })
  if (out.trim() === '') return
  const answer = parseJson(out, MethodAnswer)
  if (!answer.ok) throw new AdapterError('BAD_RESPONSE', `${what}: unexpected answer (${answer.problem}).`)
  if (answer.value.ReturnValue === 4096 && answer.value.Job) return await waitForJob(ctx, answer.value.Job, what, signal)
  if (answer.value.ReturnValue !== 0) throw new AdapterError('COMMAND_FAILED', `${what}: ${describeCode(answer.value.ReturnValue ?? -1, POINT_CODES)}.`)
}

/**
 * Checks one answer of GetVirtualDiskChanges as hostile: as many offsets as lengths, every range non-empty, inside
 * [offset, offset + processed), sorted and not overlapping. Returns the ranges or why they are unusable.
 */
export function checkChanges(offsets: readonly number[], lengths: readonly number[], from: number, processed: number): Range[] | string {
  if (offsets.length !== lengths.length) return `${offsets.length} offsets but ${lengths.length} lengths`
  const out: Range[] = []
  let end = from
  for (let i = 0; i < offsets.length; i++) {
    const offset = offsets[i] ?? -1
    const length = lengths[i] ?? 0
    if (length <= 0) return `an empty range at ${offset}`
    if (offset < end) return offset < from ? `a range at ${offset} before the queried region` : `ranges out of order or overlapping at ${offset}`
    if (offset + length > from + processed) return `a range ${offset}+${length} beyond the processed region`
    const last = out[out.length - 1]
    if (last !== undefined && last.offset + last.length === offset) out[out.length - 1] = { offset: last.offset, length: last.length + length }
    else out.push({ offset, length })
    end = offset + length
  }
  return out
}

/** GetVirtualDiskChanges over the whole disk (in as many calls as the host needs); throws with the reason on any doubt. */
export async function virtualDiskChanges(ctx: HyperVContext, path: string, limitId: string, size: number, signal: AbortSignal): Promise<Range[]> {
  const what = 'Asking Hyper-V for the changed ranges (GetVirtualDiskChanges)'
  const ranges: Range[] = []
  let offset = 0
  for (let call = 0; offset < size; call++) {
    if (call >= MAX_QUERIES) throw new AdapterError('BAD_RESPONSE', `${what}: the host processed the disk in too many small pieces.`)
    const length = size - offset
    // A failed call (and, on real hosts, a call with no changes) leaves the out arrays null: @($null) is a one-element
    // array in real PowerShell ([null] in JSON), which the answer's schema rightly refuses; the filter keeps [] empty.
    const script = ps`${prelude()}
$svc = CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_ImageManagementService'
$r = CimCmdlets\\Invoke-CimMethod -InputObject $svc -MethodName 'GetVirtualDiskChanges' -Arguments @{ Path = ${path}; LimitId = ${limitId}; TargetSnapshotId = ''; ByteOffset = ${offset}; ByteLength = ${length} }
[pscustomobject]@{ ReturnValue = $r.ReturnValue; Job = $r.Job.InstanceID; ProcessedByteLength = $r.ProcessedByteLength; ChangedByteOffsets = @($r.ChangedByteOffsets | Where-Object { $null -ne $_ }); ChangedByteLengths = @($r.ChangedByteLengths | Where-Object { $null -ne $_ }) } | ConvertTo-Json -Compress -Depth 3`
    const answer = await runJson(ctx.runner, script, ChangesAnswer, { signal, what, timeoutMs: METHOD_MS, maxOutputBytes: 64 * 1024 * 1024 })
    if (answer.ReturnValue !== 0) throw new AdapterError('COMMAND_FAILED', `${what}: ${describeCode(answer.ReturnValue, CHANGES_CODES)}.`)
    const processed = answer.ProcessedByteLength ?? 0
    if (processed <= 0 || processed > length) throw new AdapterError('BAD_RESPONSE', `${what}: processed ${processed} of ${length} bytes.`)
    const checked = checkChanges(answer.ChangedByteOffsets, answer.ChangedByteLengths, offset, processed)
    if (typeof checked === 'string') throw new AdapterError('BAD_RESPONSE', `${what}: the answer is unusable (${checked}).`)
    const last = ranges[ranges.length - 1]
    const first = checked[0]
    if (last !== undefined && first !== undefined && last.offset + last.length === first.offset) ranges[ranges.length - 1] = { offset: last.offset, length: last.length + first.length }
    else if (first !== undefined) ranges.push(first)
    ranges.push(...checked.slice(1))
    if (ranges.length > MAX_RANGES) throw new AdapterError('BAD_RESPONSE', `${what}: more than ${MAX_RANGES} changed ranges.`)
    offset += processed
  }
  return ranges
}

/** RCT for one hot backup: the reference point made for it and the previous restore point's token. */
export interface RctSession {
  readonly vmId: string
  /** The removal of the new reference point, registered on the backup's stack; done() once a restore point refers to it. */
  readonly pointUndo: UndoHandle | undefined
  readonly point: ReferencePoint | undefined
  readonly previous: RctToken | undefined
  /**
   * The previous restore point's reference point as the host lists it now (undefined: gone), or why it cannot be
   * trusted; not looked at when there is no previous token.
   */
  readonly previousPoint: ReferencePoint | undefined | { readonly unusable: string }
  /** Disk id → its RCT id in the new reference point, filled as the disks are opened. */
  readonly disks: { id: string; rctId: string; size: number }[]
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err))

/**
 * Before the checkpoint: makes the reference point (or says why not) and reads the previous token. The new point's
 * removal goes on `undo` as soon as the host names it: a backup that fails or writes no restore point removes it.
 */
export async function beginRct(ctx: HyperVContext, d: VmDetails, options: BackupOptions, undo: UndoStack, signal: AbortSignal): Promise<RctSession | undefined> {
  if (ctx.rct !== true) return undefined
  const why = rctIneligible(d)
  if (why !== undefined) {
    options.log('info', `Resilient Change Tracking is not used for ${d.vm.Name}: ${why}. Every backup reads the whole disks (the repository stores only new chunks).`)
    return undefined
  }
  let previous: RctToken | undefined
  const token: JsonValue | undefined = options.previous?.token
  if (token !== undefined && token !== null && typeof token === 'object' && !Array.isArray(token) && (token as { kind?: unknown }).kind === 'rct') {
    const parsed = RctToken.safeParse(token)
    if (parsed.success) previous = parsed.data
    else options.log('warn', `Resilient Change Tracking: the previous restore point's RCT token is not readable; ${d.vm.Name}'s disks are read in full.`)
  }
  let previousPoint: RctSession['previousPoint']
  if (previous !== undefined && options.incremental !== false) {
    try {
      previousPoint = await findPoint(ctx, previous.vmId, previous.referencePoint, signal)
    } catch (err) {
      if (isAbortError(err)) throw err
      previousPoint = { unusable: message(err) }
    }
  }
  let point: ReferencePoint | undefined
  let pointUndo: UndoHandle | undefined
  try {
    // A change on the host: not interrupted half-way, so that Lifeboat always learns the point it has to remove.
    point = await createReferencePoint(ctx, d.vm.Id, AbortSignal.timeout(METHOD_MS), (id) => {
      pointUndo = undo.push(`remove the unused RCT reference point ${id}`, async (s) => {
        await dropPoint(ctx, id, 'unused', options, s)
      })
    })
  } catch (err) {
    options.log('warn', `Resilient Change Tracking: could not create a reference point for ${d.vm.Name} (${message(err)}); this backup and the next one read the disks in full.`)
  }
  throwIfAborted(signal, 'The backup')
  return { vmId: d.vm.Id, pointUndo, point, previous, previousPoint, disks: [] }
}

/** What a disk's own read looks like: the changed ranges, or a full read and (when an incremental was possible) why. */
export type DiskChanges = { readonly ranges: Range[] } | { readonly ranges?: undefined; readonly fullReason?: string }

/**
 * For one disk of the checkpoint: records its RCT id for the token, and returns the ranges changed since the previous
 * restore point — or a full read, with the reason in plain words whenever an incremental was possible but the chain is
 * not proven intact.
 */
export async function diskChanges(
  ctx: HyperVContext,
  s: RctSession,
  disk: { readonly id: string; readonly name: string; readonly drivePath: string; readonly frozenPath: string; readonly size: number },
  options: BackupOptions,
  signal: AbortSignal,
): Promise<DiskChanges> {
  const rctId = s.point?.byPath.get(disk.drivePath.toLowerCase())
  if (s.point !== undefined && rctId === undefined) options.log('warn', `Resilient Change Tracking: the reference point has no RCT id for ${disk.name} (${disk.drivePath}); its next backup is a full read.`)
  if (rctId !== undefined) s.disks.push({ id: disk.id, rctId, size: disk.size })
  const prev = s.previous
  if (prev === undefined || options.incremental === false) return {}
  const next = rctId !== undefined ? 'the next backup is incremental again' : 'the next backup reads it whole too (no new reference point for it)'
  const full = (why: string): DiskChanges => ({ fullReason: `${disk.name}: Resilient Change Tracking: ${why}. This backup reads the whole disk; ${next}.` })
  if (prev.vmId !== s.vmId) return full('the previous restore point is of another VM (re-created?)')
  const before = prev.disks.find((x) => x.id === disk.id)
  if (before === undefined) return full('the previous restore point has no RCT id for this disk')
  if (before.size !== disk.size) return full(`the disk was resized (${before.size} → ${disk.size} bytes)`)
  const point = s.previousPoint
  if (point === undefined) return full(`the reference point of the previous backup (${prev.referencePoint}) is gone from the host (deleted, or lost when the host crashed), so the changes since then cannot be proven`)
  if ('unusable' in point) return full(`the reference point of the previous backup cannot be trusted (${point.unusable})`)
  if (!point.rctIds.includes(before.rctId)) return full(`the reference point of the previous backup no longer lists this disk's RCT id (its change tracking was reset)`)
  try {
    const ranges = await virtualDiskChanges(ctx, disk.frozenPath, before.rctId, disk.size, signal)
    options.log('info', `Resilient Change Tracking: ${disk.name}: ${ranges.reduce((n, r) => n + r.length, 0)} bytes in ${ranges.length} ranges changed since the previous restore point.`)
    return { ranges }
  } catch (err) {
    if (isAbortError(err)) throw err
    return full(`Hyper-V could not list the changes since the previous backup (${message(err)}): the disk's change tracking was reset or became invalid, for example after a host crash; the stale reference point is removed`)
  }
}

/** The token saved with the restore point: RCT ids when every disk has one, else hash-and-dedup. */
export function rctToken(s: RctSession | undefined, diskCount: number): JsonValue {
  if (s?.point === undefined || s.disks.length !== diskCount) return { kind: 'hash-dedup' }
  return { kind: 'rct', vmId: s.vmId, referencePoint: s.point.instanceId, disks: s.disks.map((x) => ({ ...x })) }
}

/**
 * After the backup: a written restore point keeps the new reference point (its removal is taken off the stack) and
 * makes the previous one unneeded; an unwritten one leaves the new point's removal to the stack's unwind (the previous
 * restore point still refers to the old one). Failures are logged, never thrown.
 */
export async function finishRct(ctx: HyperVContext, s: RctSession | undefined, committed: boolean, options: BackupOptions, signal: AbortSignal): Promise<void> {
  if (s === undefined || !committed) return
  s.pointUndo?.done()
  const drop = s.previous?.referencePoint
  if (drop === undefined || drop === s.point?.instanceId) return
  // A point that failed the checks (another VM's, an unreadable answer) is not Lifeboat's to remove.
  if (s.previousPoint !== undefined && 'unusable' in s.previousPoint) return
  await dropPoint(ctx, drop, 'previous', options, signal)
}

async function dropPoint(ctx: HyperVContext, id: string, which: 'previous' | 'unused', options: BackupOptions, signal: AbortSignal): Promise<void> {
  try {
    await destroyReferencePoint(ctx, id, signal)
  } catch (err) {
    options.log('warn', `Resilient Change Tracking: could not remove the ${which} reference point ${id} (${message(err)}); it costs only a little tracking on the host.`)
  }
}
