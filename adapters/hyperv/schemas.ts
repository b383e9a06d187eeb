import { z } from 'zod'

/**
 * The JSON Hyper-V's cmdlets produce through `Select-Object … | ConvertTo-Json -Compress`, for Windows PowerShell 5.1
 * and PowerShell 7 alike: enums arrive as numbers (5.1 has no -EnumsAsStrings), DateTime as "\/Date(ms)\/" (5.1) or
 * ISO 8601 (7), one object where an array was meant (the single-object quirk). Every bound is explicit: the host is
 * not trusted to send sane sizes.
 */

/** Enum values of the Hyper-V module (Microsoft.HyperV.PowerShell.*, Microsoft.Vhd.PowerShell.*). */
export const ENUMS = {
  VMState: { Other: 1, Running: 2, Off: 3, Stopping: 4, Saved: 6, Paused: 9, Starting: 10, Reset: 11, Saving: 32773, Pausing: 32776, Resuming: 32777, FastSaved: 32779, FastSaving: 32780, ForceShutdown: 32781, ForceReboot: 32782, Hibernated: 32783, ComponentServicing: 32784, RunningCritical: 32785, OffCritical: 32786, StoppingCritical: 32787, SavedCritical: 32788, PausedCritical: 32789, StartingCritical: 32790, ResetCritical: 32791, SavingCritical: 32792, PausingCritical: 32793, ResumingCritical: 32794, FastSavedCritical: 32795, FastSavingCritical: 32796 },
  CheckpointType: { Disabled: 2, Production: 3, ProductionOnly: 4, Standard: 5 },
  ControllerType: { IDE: 0, SCSI: 1, PMEM: 2 },
  VhdFormat: { Unknown: 0, VHD: 2, VHDX: 3, VHDSet: 4 },
  VhdType: { Unknown: 0, Fixed: 2, Dynamic: 3, Differencing: 4 },
  SnapshotType: { Standard: 0, Recovery: 1, Planned: 2, Missing: 5, Replica: 6, AppConsistentReplica: 7, SyncedReplica: 8 },
  VMHeartbeatStatus: { Unknown: 0, Disabled: 1, NoContact: 2, Error: 3, LostCommunication: 4, OkApplicationsUnknown: 5, OkApplicationsHealthy: 6, OkApplicationsCritical: 7, Paused: 8 },
  OnOffState: { On: 0, Off: 1 },
  VMOperationalStatus: { Ok: 2, Degraded: 3, PredictiveFailure: 5, InService: 11, Dormant: 15, SupportingEntityInError: 16, CreatingSnapshot: 32768, ApplyingSnapshot: 32769, DeletingSnapshot: 32770, WaitingToStart: 32771, MergingDisks: 32772, ExportingVirtualMachine: 32773, MigratingVirtualMachine: 32774, BackingUpVirtualMachine: 32776, ModifyingUpVirtualMachine: 32777, StorageMigrationPhaseOne: 32778, StorageMigrationPhaseTwo: 32779, MigratingPlannedVm: 32780, CheckingCompatibility: 32781, ApplicationCriticalState: 32782, CommunicationTimedOut: 32783, CommunicationFailed: 32784, NoIommu: 32785, NoIovSupportInNic: 32786, SwitchNotInIovMode: 32787, IovBlockedByPolicy: 32788, IovNoAvailResources: 32789, IovGuestDriversNeeded: 32790, CriticalIoError: 32795 },
  VMIntegrationComponentOperationalStatus: { Ok: 2, Degraded: 3, Error: 6, NonRecoverableError: 7, NoContact: 12, LostCommunication: 13, ProtocolMismatch: 32775, ApplicationCritical: 32782, CommunicationTimedOut: 32783, CommunicationFailed: 32784, Disabled: 32896 },
} as const

/** A number (the enum's value) or a name (pwsh -EnumsAsStrings, or a .ToString()) → the member's name. */
function psEnum(table: Readonly<Record<string, number>>) {
  return z.union([z.number().int(), z.string().max(100)]).transform((v): string => {
    if (typeof v === 'string') return v
    return Object.entries(table).find(([, n]) => n === v)?.[0] ?? `Unknown(${v})`
  })
}

/**
 * "/Date(1700000000000)/" (Windows PowerShell; a "+0100" after the milliseconds names the writer's zone, the
 * milliseconds are UTC) or ISO 8601 (PowerShell 7) → ISO 8601; anything else → undefined. Windows PowerShell writes a
 * DateTime that carries ETS properties (one made by Get-Date) as {"value":"/Date(…)/","DisplayHint":2,"DateTime":"…"};
 * PowerShell 7.2 and later never do.
 */
export const psDate = z
  .union([z.string().max(100), z.object({ value: z.string().max(100) }).transform((o) => o.value)])
  .transform((s): string | undefined => {
    const m = /^\/Date\((-?\d{1,15})(?:[+-]\d{4})?\)\/$/.exec(s)
    const ms = m?.[1] !== undefined ? Number(m[1]) : Date.parse(s)
    return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined
  })

/**
 * What ConvertTo-Json made of a collection, as an array: a one-element pipeline arrives as the element itself, none as
 * $null, and Windows PowerShell writes an array that reaches it as one object (nested in another array, or wrapped in
 * a PSObject) as {"value":[…],"Count":n} — the ETS Count property of System.Array comes along (PowerShell 7 drops it).
 */
export function asArray(v: unknown): unknown[] {
  if (v === null || v === undefined) return []
  if (Array.isArray(v)) return v as unknown[]
  if (typeof v === 'object') {
    const keys = Object.keys(v)
    const { value, Count } = v as { value?: unknown; Count?: unknown }
    if (keys.length === 2 && Array.isArray(value) && Count === value.length) return value as unknown[]
  }
  return [v]
}

/** A collection of `item`s, whichever way ConvertTo-Json wrote it (see asArray); at most `max`. */
export function arrayOf<T extends z.ZodType>(item: T, max = 10_000) {
  return z.preprocess(asArray, z.array(item).max(max))
}

const Guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/).transform((s) => s.toLowerCase())
const Text = z.string().max(32_768)
const Path = z.string().min(1).max(32_767)
const Size = z.number().int().min(0).max(2 ** 53)

export const VmRecord = z.object({
  Id: Guid,
  Name: Text,
  State: psEnum(ENUMS.VMState),
  Generation: z.number().int().min(1).max(2),
  Version: Text.nullish(),
  CheckpointType: psEnum(ENUMS.CheckpointType),
  ProcessorCount: z.number().int().min(0).max(4096),
  MemoryStartup: Size,
  DynamicMemoryEnabled: z.boolean().nullish(),
  MemoryMinimum: Size.nullish(),
  MemoryMaximum: Size.nullish(),
  Heartbeat: psEnum(ENUMS.VMHeartbeatStatus).nullish(),
  IntegrationServicesState: Text.nullish(),
  ParentSnapshotId: Guid.nullish(),
  Notes: Text.nullish(),
  Status: Text.nullish(),
  /** VMOperationalStatus values; MergingDisks (32772) while a removed checkpoint is merged in the background. */
  OperationalStatus: arrayOf(psEnum(ENUMS.VMOperationalStatus), 16).optional(),
  SecondaryOperationalStatus: psEnum(ENUMS.VMOperationalStatus).nullish(),
})
export type VmRecord = z.infer<typeof VmRecord>
export const VM_FIELDS = 'Id, Name, State, Generation, Version, CheckpointType, ProcessorCount, MemoryStartup, DynamicMemoryEnabled, MemoryMinimum, MemoryMaximum, Heartbeat, IntegrationServicesState, ParentSnapshotId, Notes, Status, OperationalStatus, SecondaryOperationalStatus'

export const DriveRecord = z.object({
  VMId: Guid,
  // Empty (or no file) for a pass-through disk.
  Path: z.string().max(32_767).nullish(),
  ControllerType: psEnum(ENUMS.ControllerType),
  ControllerNumber: z.number().int().min(0).max(64),
  ControllerLocation: z.number().int().min(0).max(64),
  /** Set for a pass-through (physical) disk, whose Path is no file (HardDiskDrive.DiskNumber). */
  DiskNumber: z.number().int().min(0).max(1_000_000).nullish(),
})
export type DriveRecord = z.infer<typeof DriveRecord>
export const DRIVE_FIELDS = 'VMId, Path, ControllerType, ControllerNumber, ControllerLocation, DiskNumber'

/** A disk file Get-VHD could not read (deleted, on a volume that is gone, damaged), as the VHD script reports it. */
export const VhdErrorRecord = z.object({ Path: z.string().max(32_767), Message: z.string().max(32_768), Id: z.string().max(2000) })
export type VhdErrorRecord = z.infer<typeof VhdErrorRecord>

export const VhdRecord = z.object({
  Path: Path,
  VhdFormat: psEnum(ENUMS.VhdFormat),
  VhdType: psEnum(ENUMS.VhdType),
  Size: Size,
  FileSize: Size,
  ParentPath: z.string().max(32_767).nullish(),
  LogicalSectorSize: z.number().int().min(0).max(65_536),
  PhysicalSectorSize: z.number().int().min(0).max(65_536),
  BlockSize: Size.nullish(),
})
export type VhdRecord = z.infer<typeof VhdRecord>
export const VHD_FIELDS = 'Path, VhdFormat, VhdType, Size, FileSize, ParentPath, LogicalSectorSize, PhysicalSectorSize, BlockSize'

export const SnapshotRecord = z.object({
  Id: Guid,
  Name: Text,
  VMId: Guid,
  VMName: Text.nullish(),
  CreationTime: psDate.nullish(),
  ParentSnapshotId: Guid.nullish(),
  SnapshotType: psEnum(ENUMS.SnapshotType),
  State: psEnum(ENUMS.VMState),
})
export type SnapshotRecord = z.infer<typeof SnapshotRecord>
export const SNAPSHOT_FIELDS = 'Id, Name, VMId, VMName, CreationTime, ParentSnapshotId, SnapshotType, State'

/**
 * An integration service. Name and PrimaryStatusDescription are in the host's language (shown only); Id
 * (`Microsoft:<VM id>\<service GUID>`) and PrimaryOperationalStatus are what Lifeboat decides by (integration-services.ts).
 */
export const IntegrationRecord = z.object({
  VMId: Guid,
  Id: Text.nullish(),
  Name: Text,
  Enabled: z.boolean(),
  PrimaryStatusDescription: Text.nullish(),
  PrimaryOperationalStatus: psEnum(ENUMS.VMIntegrationComponentOperationalStatus).nullish(),
})
export type IntegrationRecord = z.infer<typeof IntegrationRecord>
export const INTEGRATION_FIELDS = 'VMId, Id, Name, Enabled, PrimaryStatusDescription, PrimaryOperationalStatus'

/** A VM's state with its Heartbeat integration service (found by its Id among the VM's services) — null when the VM has none. */
export const HeartbeatRecord = z.object({
  State: psEnum(ENUMS.VMState),
  Heartbeat: z.object({ Enabled: z.boolean(), PrimaryStatusDescription: Text.nullish(), PrimaryOperationalStatus: psEnum(ENUMS.VMIntegrationComponentOperationalStatus).nullish() }).nullish(),
})
export type HeartbeatRecord = z.infer<typeof HeartbeatRecord>

export const NicRecord = z.object({ Name: Text, SwitchName: Text.nullish(), MacAddress: Text.nullish(), DynamicMacAddressEnabled: z.boolean().nullish() })
export type NicRecord = z.infer<typeof NicRecord>
export const NIC_FIELDS = 'Name, SwitchName, MacAddress, DynamicMacAddressEnabled'

export const FirmwareRecord = z.object({ SecureBoot: psEnum(ENUMS.OnOffState), SecureBootTemplate: Text.nullish() })
export type FirmwareRecord = z.infer<typeof FirmwareRecord>

export const VolumeRecord = z.object({ DeviceID: Text, Size: Size.nullish(), FreeSpace: Size.nullish() })
export const HostRecord = z.object({ name: Text, os: Text.nullish(), version: Text.nullish(), ps: Text.nullish(), edition: Text.nullish() })

export function parseJson<T extends z.ZodType>(text: string, schema: T): { ok: true; value: z.infer<T> } | { ok: false; problem: string } {
  let value: unknown
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, '').trim())
  } catch {
    return { ok: false, problem: 'not JSON' }
  }
  const parsed = schema.safeParse(value)
  if (parsed.success) return { ok: true, value: parsed.data }
  const issue = parsed.error.issues[0]
  return { ok: false, problem: issue ? `${issue.path.join('.') || 'value'}: ${issue.message}` : 'unexpected shape' }
}
