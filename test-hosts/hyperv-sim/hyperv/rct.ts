/**
 * Resilient Change Tracking and the WMI side of it (namespace root\virtualization\v2), as Microsoft documents it for
 * Windows Server 2016 and later:
 * - Msvm_VirtualSystemReferencePointService.CreateReferencePoint(AffectedSystem, ReferencePointSettings,
 *   ReferencePointType 1 = RCT based, [out] ResultingReferencePoint, [out] Job) and DestroyReferencePoint(AffectedReferencePoint, [out] Job);
 * - Msvm_VirtualSystemReferencePoint (InstanceID, ReferencePointType 2 = RCT based, ConsistencyLevel, VirtualSystemIdentifier,
 *   HasAssociatedData, VirtualDiskIdentifiers[], ResilientChangeTrackingIdentifiers[]);
 * - Msvm_ImageManagementService.GetVirtualDiskChanges(Path, LimitId, TargetSnapshotId, ByteOffset, ByteLength,
 *   [out] ProcessedByteLength, ChangedByteOffsets[], ChangedByteLengths[], Job), return codes 0, 32768…32779;
 * - Msvm_ComputerSystem (Name = the VM's GUID) and Msvm_StorageAllocationSettingData (InstanceID, HostResource[]) of the
 *   VMs' virtual disks, so reference points can name their disks.
 * Every VHDX keeps a change log in RCT_BLOCK granules, fed by guest writes and checkpoint merges; an RCT id is
 * `rctX:<file guid>:<sequence>`, and the changes since an id are the granules written after that sequence. Methods
 * answer synchronously (return value 0, no job), which the documentation allows.
 */
import { randomUUID } from 'node:crypto'
import { str, type Bound, type CmdletDef } from './cmdlet-def'
import { PsError, PsHashtable, PsObject, SimulatorLimit, psToString, single, type PsValue } from './values'
import type { DiskFile } from './disks'
import type { HyperVHost, SimVm } from './host'
import { getVirtualSystemThumbnailImage, isThumbnailClass, thumbnailInstances } from './thumbnail'

/** Granularity of the simulated change tracking (Microsoft does not document the real one). */
export const RCT_BLOCK = 256 * 1024
export const NAMESPACE = 'root\\virtualization\\v2'
const CIM = 'Microsoft.Management.Infrastructure.CimInstance'

interface Tracking {
  readonly guid: string
  seq: number
  /** Granule → the sequence it was last written in. */
  readonly written: Map<number, number>
}

export interface SimReferencePoint {
  readonly instanceId: string
  readonly vmId: string
  readonly diskIds: readonly string[]
  readonly rctIds: readonly string[]
}

export class RctTracker {
  private readonly byFile = new WeakMap<DiskFile, Tracking>()
  readonly points = new Map<string, SimReferencePoint>()
  /** Every WMI method call, for tests: "Class.Method". */
  readonly calls: string[] = []
  /**
   * Fault: the next GetVirtualDiskChanges answers this documented return value (32768 failed, 32775 invalid state, …)
   * instead of the changes (one-shot).
   */
  failChanges: number | undefined

  private tracking(file: DiskFile): Tracking {
    let t = this.byFile.get(file)
    if (!t) {
      t = { guid: randomUUID(), seq: 1, written: new Map() }
      this.byFile.set(file, t)
    }
    return t
  }

  changed(file: DiskFile, offset: number, length: number): void {
    if (file.format !== 'vhdx' || length <= 0) return
    const t = this.tracking(file)
    for (let g = Math.floor(offset / RCT_BLOCK); g * RCT_BLOCK < offset + length; g++) t.written.set(g, t.seq)
  }

  /** The file's current RCT id; later writes belong to the next sequence. */
  snapshotId(file: DiskFile): string {
    const t = this.tracking(file)
    const id = `rctX:${t.guid.replace(/-/g, ':')}:${t.seq.toString(16).padStart(8, '0')}`
    t.seq++
    return id
  }

  /**
   * Starts the file's tracking over (a new RCT id series; older ids become unknown: GetVirtualDiskChanges answers
   * 32773), as Hyper-V does when a disk was changed where RCT could not follow it (edited offline, replaced, moved by a
   * tool that is not RCT-aware) or when its change tracking files were found inconsistent after a host crash; the
   * reference points made before stay listed but their RCT ids are no longer valid.
   */
  reset(file: DiskFile): void {
    this.byFile.delete(file)
  }

  /**
   * Fault: the VM's reference points are gone — deleted by someone (another backup product cleaning up, an admin), or
   * lost when the host crashed before it saved them — while the disks' change tracking goes on. Returns how many.
   */
  losePoints(vmId: string): number {
    let n = 0
    for (const [key, p] of this.points) if (p.vmId === vmId && this.points.delete(key)) n++
    return n
  }

  /** Changed granules since `limitId`, or undefined when the id is not one of this file's. */
  changesSince(file: DiskFile, limitId: string): number[] | undefined {
    const t = this.tracking(file)
    const m = /^rctX:([0-9a-f:]{36}):([0-9a-f]{8})$/i.exec(limitId)
    if (m?.[1] === undefined || m[2] === undefined || m[1].replace(/:/g, '-').toLowerCase() !== t.guid) return undefined
    const seq = parseInt(m[2], 16)
    if (seq >= t.seq) return undefined
    return [...t.written].filter(([, s]) => s > seq).map(([g]) => g).sort((a, b) => a - b)
  }
}

function cim(className: string, entries: readonly (readonly [string, PsValue])[]): PsObject {
  return new PsObject(CIM, [...entries], true, className)
}

function computerSystem(vm: SimVm): PsObject {
  return cim('Msvm_ComputerSystem', [['Name', vm.id.toUpperCase()], ['ElementName', vm.name], ['CreationClassName', 'Msvm_ComputerSystem']])
}

function sasdId(vm: SimVm, driveId: string): string {
  return `Microsoft:${vm.id.toUpperCase()}\\${driveId}\\L`
}

function pointObject(p: SimReferencePoint, keysOnly: boolean): PsObject {
  const v = (x: PsValue): PsValue => (keysOnly ? null : x)
  return cim('Msvm_VirtualSystemReferencePoint', [
    ['InstanceID', p.instanceId],
    ['ReferencePointType', v(2)],
    ['ConsistencyLevel', v(2)],
    ['VirtualSystemIdentifier', v(p.vmId.toUpperCase())],
    ['HasAssociatedData', v(false)],
    ['VirtualDiskIdentifiers', v([...p.diskIds])],
    ['ResilientChangeTrackingIdentifiers', v([...p.rctIds])],
  ])
}

function service(className: string): PsObject {
  return cim(className, [['Name', className.replace('Msvm_', '')], ['CreationClassName', className], ['SystemName', 'HV01']])
}

/** Parses the one WQL filter shape the simulator understands: `Prop = 'literal'` (WQL escapes \\ and \'). */
function parseFilter(filter: string): { prop: string; value: string } {
  const m = /^\s*(\w+)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$/.exec(filter)
  if (m?.[1] === undefined || m[2] === undefined) throw new SimulatorLimit(`the WQL filter "${filter}"`)
  return { prop: m[1], value: m[2].replace(/\\(.)/g, '$1') }
}

function instancesOf(host: HyperVHost, className: string): PsObject[] {
  if (isThumbnailClass(className)) return thumbnailInstances(host, className)
  switch (className.toLowerCase()) {
    case 'msvm_computersystem':
      return [...host.vms.values()].map(computerSystem)
    case 'msvm_virtualsystemreferencepointservice':
      return [service('Msvm_VirtualSystemReferencePointService')]
    case 'msvm_imagemanagementservice':
      return [service('Msvm_ImageManagementService')]
    case 'msvm_virtualsystemreferencepoint':
      return [...host.rct.points.values()].map((p) => pointObject(p, false))
    case 'msvm_storageallocationsettingdata':
      return [...host.vms.values()].flatMap((vm) => vm.drives.map((d) => cim('Msvm_StorageAllocationSettingData', [['InstanceID', sasdId(vm, d.id)], ['ResourceType', 31], ['HostResource', [d.path]]])))
    default:
      throw new SimulatorLimit(`the CIM class ${className} in ${NAMESPACE}`)
  }
}

/** Get-CimInstance -Namespace root\virtualization\v2 -ClassName X [-Filter "P = 'v'"] | -InputObject (re-read). */
export function cimQuery(host: HyperVHost, args: Bound): PsObject[] {
  const input = args.get('InputObject')
  if (input !== undefined) {
    const obj = single(input ?? null)
    if (!(obj instanceof PsObject) || obj.typeName !== CIM) throw new SimulatorLimit('Get-CimInstance -InputObject with something other than a CIM instance')
    const cls = obj.toString()
    const key = cls === 'Msvm_ComputerSystem' ? 'Name' : 'InstanceID'
    const hit = instancesOf(host, cls).find((i) => psToString(i.get(key)).toLowerCase() === psToString(obj.get(key)).toLowerCase())
    if (!hit) throw new PsError({ message: 'Not found ', fqid: 'HRESULT 0x80041002,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand', category: 'ObjectNotFound', exceptionType: 'Microsoft.Management.Infrastructure.CimException' })
    return [hit]
  }
  const ns = (str(args, 'Namespace') ?? '').replace(/\//g, '\\').toLowerCase()
  if (ns !== NAMESPACE) throw new SimulatorLimit(`Get-CimInstance -Namespace ${str(args, 'Namespace') ?? ''}`)
  const all = instancesOf(host, str(args, 'ClassName') ?? '')
  const filter = str(args, 'Filter')
  if (filter === undefined) return all
  const { prop, value } = parseFilter(filter)
  return all.filter((i) => psToString(i.get(prop)).toLowerCase() === value.toLowerCase())
}

function result(entries: readonly (readonly [string, PsValue])[]): PsObject {
  return new PsObject('Microsoft.Management.Infrastructure.CimMethodResult', [...entries, ['PSComputerName', null]], true, 'Microsoft.Management.Infrastructure.CimMethodResult')
}

function argOf(args: PsHashtable, name: string): PsValue {
  return args.get(name)
}

function uint64(v: PsValue): number | undefined {
  const n = Number(psToString(single(v)))
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

function createReferencePoint(host: HyperVHost, args: PsHashtable): PsObject {
  const none = (code: number) => result([['ReturnValue', code], ['ResultingReferencePoint', null], ['Job', null]])
  const system = single(argOf(args, 'AffectedSystem'))
  if (!(system instanceof PsObject) || system.toString() !== 'Msvm_ComputerSystem') return none(4)
  if (Number(psToString(argOf(args, 'ReferencePointType'))) !== 1) return none(1) // log-based (0) needs Hyper-V Replica
  const vm = host.vms.get(psToString(system.get('Name')).toLowerCase())
  if (!vm) return none(4)
  const [major = 0, minor = 0] = vm.version.split('.').map(Number)
  if (major < 6 || (major === 6 && minor < 2)) return none(1)
  const diskIds: string[] = []
  const rctIds: string[] = []
  for (const d of vm.drives) {
    const file = host.disks.get(d.path)
    if (file?.format !== 'vhdx') return none(5)
    diskIds.push(sasdId(vm, d.id))
    rctIds.push(host.rct.snapshotId(file))
  }
  const p: SimReferencePoint = { instanceId: `Microsoft:${randomUUID().toUpperCase()}`, vmId: vm.id, diskIds, rctIds }
  host.rct.points.set(p.instanceId.toLowerCase(), p)
  return result([['ReturnValue', 0], ['ResultingReferencePoint', pointObject(p, true)], ['Job', null]])
}

function destroyReferencePoint(host: HyperVHost, args: PsHashtable): PsObject {
  const point = single(argOf(args, 'AffectedReferencePoint'))
  if (!(point instanceof PsObject) || point.toString() !== 'Msvm_VirtualSystemReferencePoint') return result([['ReturnValue', 4], ['Job', null]])
  const gone = host.rct.points.delete(psToString(point.get('InstanceID')).toLowerCase())
  return result([['ReturnValue', gone ? 0 : 4], ['Job', null]])
}

function getVirtualDiskChanges(host: HyperVHost, args: PsHashtable): PsObject {
  const fail = (code: number) => result([['ReturnValue', code], ['ProcessedByteLength', null], ['ChangedByteOffsets', null], ['ChangedByteLengths', null], ['Job', null]])
  const file = host.disks.get(psToString(argOf(args, 'Path')))
  if (!file) return fail(32779)
  if (file.format !== 'vhdx') return fail(32770)
  if (psToString(argOf(args, 'TargetSnapshotId')) !== '') return fail(32773) // VHD Sets only
  const offset = uint64(argOf(args, 'ByteOffset'))
  const length = uint64(argOf(args, 'ByteLength'))
  if (offset === undefined || length === undefined || length === 0 || offset + length > file.size) return fail(32773)
  const failure = host.rct.failChanges
  if (failure !== undefined) {
    host.rct.failChanges = undefined
    return fail(failure)
  }
  const granules = host.rct.changesSince(file, psToString(argOf(args, 'LimitId')))
  if (granules === undefined) return fail(32773)
  const offsets: number[] = []
  const lengths: number[] = []
  for (const g of granules) {
    const start = Math.max(g * RCT_BLOCK, offset)
    const end = Math.min((g + 1) * RCT_BLOCK, offset + length, file.size)
    if (end <= start) continue
    const last = offsets.length - 1
    if (last >= 0 && (offsets[last] ?? 0) + (lengths[last] ?? 0) === start) lengths[last] = (lengths[last] ?? 0) + end - start
    else {
      offsets.push(start)
      lengths.push(end - start)
    }
  }
  return result([['ReturnValue', 0], ['ProcessedByteLength', length], ['ChangedByteOffsets', offsets], ['ChangedByteLengths', lengths], ['Job', null]])
}

export function cimCmdlets(host: HyperVHost): CmdletDef[] {
  return [
    {
      name: 'Invoke-CimMethod',
      errorClass: 'Microsoft.Management.Infrastructure.CimCmdlets.InvokeCimMethodCommand',
      params: { InputObject: { type: 'object' }, MethodName: { type: 'string', position: 0 }, Arguments: { type: 'any' } },
      run(_ctx, args, input) {
        const target = args.get('InputObject') ?? (input?.length === 1 ? input[0] : undefined)
        if (!(target instanceof PsObject) || target.typeName !== CIM) throw new SimulatorLimit('Invoke-CimMethod without a CIM instance (-InputObject)')
        const method = str(args, 'MethodName') ?? ''
        const raw = args.get('Arguments') ?? new PsHashtable(false)
        if (!(raw instanceof PsHashtable)) throw new SimulatorLimit('Invoke-CimMethod -Arguments other than a hashtable')
        const call = `${target.toString()}.${method}`
        host.rct.calls.push(call)
        host.log.push(`Invoke-CimMethod ${call}`)
        switch (call.toLowerCase()) {
          case 'msvm_virtualsystemreferencepointservice.createreferencepoint':
            return [createReferencePoint(host, raw)]
          case 'msvm_virtualsystemreferencepointservice.destroyreferencepoint':
            return [destroyReferencePoint(host, raw)]
          case 'msvm_imagemanagementservice.getvirtualdiskchanges':
            return [getVirtualDiskChanges(host, raw)]
          case 'msvm_virtualsystemmanagementservice.getvirtualsystemthumbnailimage':
            return [getVirtualSystemThumbnailImage(host, raw)]
          default:
            throw new SimulatorLimit(`the WMI method ${call}`)
        }
      },
    },
  ]
}
