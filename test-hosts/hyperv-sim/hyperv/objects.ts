/**
 * The objects Hyper-V cmdlets return, with the property names, .NET types and enum values of the Hyper-V module on
 * Windows Server 2019/2022 (Microsoft.HyperV.PowerShell.*, Microsoft.Vhd.PowerShell.VirtualHardDisk). They are strict:
 * reading a property the simulator does not model fails loudly instead of quietly giving $null.
 */
import { PsDate, PsEnum, PsGuid, PsObject, type PsValue } from './values'
import type { DiskFile } from './disks'
import { INTEGRATION_SERVICE_INFO, guestUp, integrationDisplayName, type IntegrationServiceName, type SWITCHES, type HyperVHost, type SimCheckpoint, type SimDrive, type SimNic, type SimVm } from './host'

export const ENUMS = {
  VMState: { Other: 1, Running: 2, Off: 3, Stopping: 4, Saved: 6, Paused: 9, Starting: 10, Reset: 11, Saving: 32773, Pausing: 32776, Resuming: 32777, FastSaved: 32779, FastSaving: 32780, ForceShutdown: 32781, ForceReboot: 32782, Hibernated: 32783, ComponentServicing: 32784, RunningCritical: 32785, OffCritical: 32786, StoppingCritical: 32787, SavedCritical: 32788, PausedCritical: 32789, StartingCritical: 32790, ResetCritical: 32791, SavingCritical: 32792, PausingCritical: 32793, ResumingCritical: 32794, FastSavedCritical: 32795, FastSavingCritical: 32796 },
  CheckpointType: { Disabled: 2, Production: 3, ProductionOnly: 4, Standard: 5 },
  ControllerType: { IDE: 0, SCSI: 1, PMEM: 2 },
  VhdFormat: { Unknown: 0, VHD: 2, VHDX: 3, VHDSet: 4 },
  VhdType: { Unknown: 0, Fixed: 2, Dynamic: 3, Differencing: 4 },
  SnapshotType: { Standard: 0, Recovery: 1, Planned: 2, Missing: 5, Replica: 6, AppConsistentReplica: 7, SyncedReplica: 8 },
  VMHeartbeatStatus: { Unknown: 0, Disabled: 1, NoContact: 2, Error: 3, LostCommunication: 4, OkApplicationsUnknown: 5, OkApplicationsHealthy: 6, OkApplicationsCritical: 7, Paused: 8 },
  VMIntegrationComponentOperationalStatus: { Ok: 2, Degraded: 3, Error: 6, NonRecoverableError: 7, NoContact: 12, LostCommunication: 13, ProtocolMismatch: 32775, ApplicationCritical: 32782, CommunicationTimedOut: 32783, CommunicationFailed: 32784, Disabled: 32896 },
  OnOffState: { On: 0, Off: 1 },
  VMOperationalStatus: { Ok: 2, Degraded: 3, PredictiveFailure: 5, InService: 11, Dormant: 15, SupportingEntityInError: 16, CreatingSnapshot: 32768, ApplyingSnapshot: 32769, DeletingSnapshot: 32770, WaitingToStart: 32771, MergingDisks: 32772, ExportingVirtualMachine: 32773, MigratingVirtualMachine: 32774 },
  VMSwitchType: { Private: 0, Internal: 1, External: 2 },
  FileSource: { Host: 0 },
} as const

const NS = 'Microsoft.HyperV.PowerShell'

export function enumValue<K extends keyof typeof ENUMS>(kind: K, name: keyof (typeof ENUMS)[K] & string): PsEnum {
  const members = ENUMS[kind] as Record<string, number>
  const value = members[name]
  if (value === undefined) throw new Error(`${kind} has no member ${name}`)
  const ns = kind === 'VhdFormat' || kind === 'VhdType' ? 'Microsoft.Vhd.PowerShell' : NS
  return new PsEnum(`${ns}.${kind}`, name, value)
}

const EMPTY_GUID = '00000000-0000-0000-0000-000000000000'


export function vmObject(host: HyperVHost, vm: SimVm): PsObject {
  const parent = vm.parentCheckpointId !== null ? host.checkpoints.get(vm.parentCheckpointId) : undefined
  const heartbeatOn = vm.integration.get('Heartbeat') === true
  const o = new PsObject(
    `${NS}.VirtualMachine`,
    [
      ['Id', new PsGuid(vm.id)],
      ['VMId', new PsGuid(vm.id)],
      ['Name', vm.name],
      ['VMName', vm.name],
      ['State', enumValue('VMState', vm.state)],
      ['Generation', vm.generation],
      ['Version', vm.version],
      ['CheckpointType', enumValue('CheckpointType', vm.checkpointType)],
      ['ProcessorCount', vm.processorCount],
      ['MemoryStartup', vm.memoryStartup],
      ['MemoryMinimum', vm.memoryMinimum],
      ['MemoryMaximum', vm.memoryMaximum],
      ['DynamicMemoryEnabled', vm.dynamicMemory],
      ['MemoryAssigned', guestUp(vm) ? vm.memoryStartup : 0],
      ['Path', vm.configPath],
      ['ConfigurationLocation', vm.configPath],
      ['SnapshotFileLocation', vm.configPath],
      ['CheckpointFileLocation', vm.configPath],
      ['ParentSnapshotId', parent ? new PsGuid(parent.id) : null],
      ['ParentSnapshotName', parent ? parent.name : null],
      ['ParentCheckpointId', parent ? new PsGuid(parent.id) : null],
      ['ParentCheckpointName', parent ? parent.name : null],
      ['Notes', vm.notes],
      ['CreationTime', new PsDate(vm.creationTime)],
      ['Heartbeat', !heartbeatOn ? enumValue('VMHeartbeatStatus', 'Disabled') : guestUp(vm) ? enumValue('VMHeartbeatStatus', 'OkApplicationsHealthy') : vm.state === 'Running' ? enumValue('VMHeartbeatStatus', 'NoContact') : null],
      ['IntegrationServicesState', guestUp(vm) ? 'Up to date' : ''],
      ['Status', vm.busy !== null ? vm.busy : 'Operating normally'],
      ['OperationalStatus', vm.merging === true ? [enumValue('VMOperationalStatus', 'Ok'), enumValue('VMOperationalStatus', 'MergingDisks')] : [enumValue('VMOperationalStatus', 'Ok')]],
      ['PrimaryOperationalStatus', enumValue('VMOperationalStatus', 'Ok')],
      ['SecondaryOperationalStatus', vm.merging === true ? enumValue('VMOperationalStatus', 'MergingDisks') : null],
      ['IsClustered', false],
      ['AutomaticCheckpointsEnabled', false],
      ['CPUUsage', 0],
      ['ComputerName', host.computerName],
      ['IsDeleted', false],
      ['HardDrives', vm.drives.map((d) => driveObject(host, vm, d))],
      ['NetworkAdapters', vm.nics.map((n) => nicObject(host, vm, n))],
      ['DVDDrives', []],
    ],
    true,
    `VirtualMachine (Name = '${vm.name}') [Id = '${vm.id}']`,
  )
  return o
}

export function driveObject(host: HyperVHost, vm: SimVm, d: SimDrive, snapshot?: SimCheckpoint): PsObject {
  const path = snapshot ? (snapshot.files.get(d.id) ?? d.path) : d.path
  return new PsObject(
    `${NS}.HardDiskDrive`,
    [
      ['Path', path],
      ['ControllerType', enumValue('ControllerType', d.controllerType)],
      ['ControllerNumber', d.controllerNumber],
      ['ControllerLocation', d.controllerLocation],
      ['Name', 'Hard Drive'],
      ['Id', `Microsoft:${vm.id.toUpperCase()}\\${d.id}\\${d.controllerNumber}\\${d.controllerLocation}\\D`],
      ['VMId', new PsGuid(vm.id)],
      ['VMName', vm.name],
      ['VMSnapshotId', new PsGuid(snapshot?.id ?? EMPTY_GUID)],
      ['VMSnapshotName', snapshot?.name ?? ''],
      ['DiskNumber', d.diskNumber ?? null],
      ['PoolName', 'Primordial'],
      ['MaximumIOPS', 0],
      ['MinimumIOPS', 0],
      ['SupportPersistentReservations', false],
      ['ComputerName', host.computerName],
      ['IsDeleted', false],
    ],
    true,
    `HardDiskDrive (Name = 'Hard Drive on ${d.controllerType} controller number ${d.controllerNumber} at location ${d.controllerLocation}') [VMName = '${vm.name}']`,
  )
}

export function nicObject(host: HyperVHost, vm: SimVm, n: SimNic): PsObject {
  return new PsObject(
    `${NS}.VMNetworkAdapter`,
    [
      ['Name', n.name],
      ['Id', `Microsoft:${vm.id.toUpperCase()}\\${n.id}`],
      ['SwitchName', n.switchName],
      ['Connected', n.switchName !== null],
      ['MacAddress', n.mac],
      ['DynamicMacAddressEnabled', n.dynamicMac],
      ['IsLegacy', false],
      ['VMId', new PsGuid(vm.id)],
      ['VMName', vm.name],
      ['ComputerName', host.computerName],
      ['IsDeleted', false],
    ],
    true,
    `VMNetworkAdapter (Name = '${n.name}', VMName = '${vm.name}') [VMId = '${vm.id}']`,
  )
}

export function vhdObject(host: HyperVHost, f: DiskFile, fileSize: number): PsObject {
  return new PsObject(
    'Microsoft.Vhd.PowerShell.VirtualHardDisk',
    [
      ['ComputerName', host.computerName],
      ['Path', f.path],
      ['VhdFormat', enumValue('VhdFormat', f.format === 'vhdx' ? 'VHDX' : 'VHD')],
      ['VhdType', enumValue('VhdType', f.type === 'differencing' ? 'Differencing' : f.type === 'fixed' ? 'Fixed' : 'Dynamic')],
      ['FileSize', fileSize],
      ['Size', f.size],
      ['MinimumSize', null],
      ['LogicalSectorSize', 512],
      ['PhysicalSectorSize', 4096],
      ['BlockSize', f.blockSize],
      ['ParentPath', f.parent ?? null],
      ['DiskIdentifier', f.diskIdentifier],
      ['FragmentationPercentage', 0],
      ['Alignment', 1],
      ['Attached', host.inUse(f.path)],
      ['DiskNumber', null],
      ['IsPMEMCompatible', false],
      ['AddressAbstractionType', 0],
      ['Number', null],
    ],
    true,
    'Microsoft.Vhd.PowerShell.VirtualHardDisk',
  )
}

export function snapshotObject(host: HyperVHost, c: SimCheckpoint): PsObject {
  const vm = host.vms.get(c.vmId)
  const parent = c.parentId !== null ? host.checkpoints.get(c.parentId) : undefined
  return new PsObject(
    `${NS}.VMSnapshot`,
    [
      ['Id', new PsGuid(c.id)],
      ['Name', c.name],
      ['VMId', new PsGuid(c.vmId)],
      ['VMName', vm?.name ?? ''],
      ['SnapshotType', enumValue('SnapshotType', 'Standard')],
      ['State', enumValue('VMState', c.saved ? 'Saved' : 'Off')],
      ['CreationTime', new PsDate(c.created)],
      ['ParentSnapshotId', parent ? new PsGuid(parent.id) : null],
      ['ParentSnapshotName', parent?.name ?? null],
      ['ParentCheckpointId', parent ? new PsGuid(parent.id) : null],
      ['ParentCheckpointName', parent?.name ?? null],
      ['Path', vm?.configPath ?? ''],
      ['IsAutomaticCheckpoint', false],
      ['Notes', ''],
      ['ProcessorCount', c.config.processorCount],
      ['MemoryStartup', c.config.memoryStartup],
      ['Generation', vm?.generation ?? 2],
      ['ComputerName', host.computerName],
      ['IsDeleted', false],
      ['HardDrives', vm ? vm.drives.map((d) => driveObject(host, vm, d, c)) : []],
    ],
    true,
    `VMSnapshot (Name = '${c.name}', VMName = '${vm?.name ?? ''}') [Id = '${c.id}']`,
  )
}

export function integrationObject(host: HyperVHost, vm: SimVm, service: IntegrationServiceName): PsObject {
  const enabled = vm.integration.get(service) === true
  const up = enabled && guestUp(vm)
  const name = integrationDisplayName(host, service)
  const noContact = host.culture === 'de-DE' ? 'Kein Kontakt' : 'No Contact'
  return new PsObject(
    `${NS}.VMIntegrationComponent`,
    [
      ['Name', name],
      ['Enabled', enabled],
      ['PrimaryStatusDescription', !enabled ? '' : up ? 'OK' : noContact],
      ['PrimaryOperationalStatus', !enabled ? null : up ? enumValue('VMIntegrationComponentOperationalStatus', 'Ok') : enumValue('VMIntegrationComponentOperationalStatus', 'NoContact')],
      // As Hyper-V builds it: the VM's id, a backslash, the service's GUID — the same in every language.
      ['Id', `Microsoft:${vm.id.toUpperCase()}\\${INTEGRATION_SERVICE_INFO[service].guid}`],
      ['VMId', new PsGuid(vm.id)],
      ['VMName', vm.name],
      ['ComputerName', host.computerName],
      ['IsDeleted', false],
    ],
    true,
    `VMIntegrationComponent (Name = '${name}') [VMName = '${vm.name}']`,
  )
}

export function switchObject(host: HyperVHost, s: (typeof SWITCHES)[number]): PsObject {
  return new PsObject(
    `${NS}.VMSwitch`,
    [
      ['Name', s.name],
      ['Id', new PsGuid(s.id)],
      ['SwitchType', enumValue('VMSwitchType', s.type)],
      ['ComputerName', host.computerName],
      ['IsDeleted', false],
    ],
    true,
    `VMSwitch (Name = '${s.name}') [Id = '${s.id}']`,
  )
}

export function firmwareObject(host: HyperVHost, vm: SimVm): PsObject {
  return new PsObject(
    `${NS}.VMFirmware`,
    [
      ['SecureBoot', enumValue('OnOffState', vm.secureBoot ? 'On' : 'Off')],
      ['SecureBootTemplate', vm.secureBootTemplate],
      ['VMName', vm.name],
      ['VMId', new PsGuid(vm.id)],
      ['ComputerName', host.computerName],
      ['IsDeleted', false],
    ],
    true,
    `VMFirmware (VMName = '${vm.name}') [VMId = '${vm.id}']`,
  )
}

/** Reads the id out of a VirtualMachine / VMSnapshot / drive object a script passes back in. */
export function idOf(v: PsValue, prop = 'Id'): string | undefined {
  if (!(v instanceof PsObject) || !v.has(prop)) return undefined
  const id = v.get(prop)
  return id instanceof PsGuid ? id.value : typeof id === 'string' ? id : undefined
}
