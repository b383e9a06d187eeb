/**
 * The simulated Hyper-V host: VMs, their drives, checkpoints (a tree, as Hyper-V keeps them) and the disk files
 * underneath, plus the guest behaviour the tests steer (does the guest shut down when asked, can it make production
 * checkpoints, is the Guest Service Interface on). State changes run on the "VMMS" side: a client killed half-way
 * through a Checkpoint-VM does not stop the checkpoint from being made, just as on a real host.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { PsError } from './values'
import type { ENUMS } from './objects'
import { FileAcls } from './acl'
import { DiskStore, type MergePace } from './disks'
import { RctTracker } from './rct'
import { WinFs, normalizeWin, safeFileName } from './winfs'

/** Every member of the module's VMState enum (objects.ts): tests put VMs in the rarer ones (RunningCritical, …) directly. */
export type VmStateName = keyof (typeof ENUMS)['VMState']
export type CheckpointTypeName = 'Disabled' | 'Production' | 'ProductionOnly' | 'Standard'

export const INTEGRATION_SERVICES = ['Guest Service Interface', 'Heartbeat', 'Key-Value Pair Exchange', 'Shutdown', 'Time Synchronization', 'VSS'] as const
export type IntegrationServiceName = (typeof INTEGRATION_SERVICES)[number]

/**
 * What makes a service the same one on every host: the GUID at the end of its Id (`Microsoft:<VM id>\<GUID>`, as in
 * Packer's hyperv.go), while its Name is in the host's display language. The model keys services by the English name;
 * hosts show `displayName`. German names as a de-DE Windows Server shows them (Takt and Gastdienstschnittstelle per
 * issue 22; the other four unverified on a real host).
 */
export const INTEGRATION_SERVICE_INFO: Readonly<Record<IntegrationServiceName, { readonly guid: string; readonly de: string }>> = {
  'Guest Service Interface': { guid: '6C09BB55-D683-4DA0-8931-C9BF705F6480', de: 'Gastdienstschnittstelle' },
  Heartbeat: { guid: '84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47', de: 'Takt' },
  'Key-Value Pair Exchange': { guid: '2A34B1C2-FD73-4043-8A5B-DD2159BC743F', de: 'Austausch von Schlüsselwertepaaren' },
  Shutdown: { guid: '9F8233AC-BE49-4C79-8EE3-E7E1985B2077', de: 'Herunterfahren des Betriebssystems' },
  'Time Synchronization': { guid: '2497F4DE-E9FA-4204-80E4-4B75C46419C0', de: 'Zeitsynchronisierung' },
  VSS: { guid: '5CED1297-4598-4915-A5FC-AD21BB4D02A4', de: 'Sicherung (Volumeschattenkopie)' },
}

/** A host's display language: the names (and status descriptions) its integration services show. */
export type HostCulture = 'en-US' | 'de-DE'

export interface SimDrive {
  readonly id: string
  controllerType: 'IDE' | 'SCSI'
  controllerNumber: number
  controllerLocation: number
  /** The VHD/VHDX file; '' for a pass-through (physical) disk. */
  path: string
  /** A pass-through disk's number on the host (HardDiskDrive.DiskNumber); absent for a virtual hard disk. */
  diskNumber?: number
}

export interface SimNic {
  readonly id: string
  name: string
  switchName: string | null
  mac: string
  dynamicMac: boolean
}

export interface GuestBehaviour {
  /** 'clean': shuts down after shutdownMs; 'hang': never does; 'none': no shutdown integration at all. */
  shutdown: 'clean' | 'hang' | 'none'
  shutdownMs: number
  /** The guest's VSS writer / fsfreeze answers, so production checkpoints succeed. */
  productionCapable: boolean
  /** Files copied into the guest with Copy-VMFile (guest path → bytes). */
  readonly copiedIn: Map<string, Buffer>
  /**
   * 'installed': an installed guest whose integration services answer while the VM runs (the VMs the simulator seeds);
   * 'disk': a VM made with New-VM, whose guest comes up only if its boot disk has a boot sector (see bootGuest).
   */
  boot: 'installed' | 'disk'
  /** When the integration services of a 'disk' guest answer (set by Start-VM); null: never (nothing booted). */
  upAt: number | null
}

export interface SimVm {
  readonly id: string
  name: string
  generation: 1 | 2
  version: string
  state: VmStateName
  checkpointType: CheckpointTypeName
  processorCount: number
  memoryStartup: number
  dynamicMemory: boolean
  memoryMinimum: number
  memoryMaximum: number
  notes: string
  readonly configPath: string
  readonly creationTime: number
  parentCheckpointId: string | null
  readonly drives: SimDrive[]
  scsiControllers: number
  readonly nics: SimNic[]
  secureBoot: boolean
  secureBootTemplate: string
  readonly integration: Map<string, boolean>
  readonly guest: GuestBehaviour
  /** A VMMS operation in progress (Hyper-V refuses a second one). */
  busy: string | null
  /** A checkpoint's disks are being merged in the background (HyperVHost.mergeInBackground). */
  merging?: boolean
  /** The chain as it was when the merge began (lower-case paths): held, every file of it, until the merge ends. */
  mergeHeld?: ReadonlySet<string>
}

export interface SimCheckpoint {
  readonly id: string
  name: string
  readonly vmId: string
  readonly created: number
  parentId: string | null
  /** A standard checkpoint of a running VM holds its memory (State Saved); production checkpoints do not (State Off). */
  readonly saved: boolean
  /** Drive id → the disk file this checkpoint froze. */
  readonly files: Map<string, string>
  readonly config: { readonly processorCount: number; readonly memoryStartup: number }
}

export interface HostTiming {
  checkpointMs: number
  saveMs: number
  startMs: number
  mergeMs: number
  /**
   * 0: Remove-VMSnapshot merges before it returns. Otherwise, as Hyper-V does, it returns once the checkpoint is out of
   * the tree and the merge runs this long in the background (see mergeInBackground).
   */
  backgroundMergeMs: number
  /** From Start-VM until a bootable 'disk' guest's integration services (Heartbeat) answer. */
  guestBootMs: number
}

export interface HostOptions {
  readonly dataDir: string
  readonly computerName?: string
  /** 'Windows Server 2022' (configuration version 10.0) or 'Windows Server 2019' (9.0). */
  readonly os?: '2019' | '2022'
  readonly timing?: Partial<HostTiming>
  /** 'de-DE': integration services carry their German names, as on a German Windows (default 'en-US'). */
  readonly culture?: HostCulture
}

export const VHD_FOLDER = 'C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks'
export const VM_FOLDER = 'C:\\ProgramData\\Microsoft\\Windows\\Hyper-V'

export const SWITCHES = [
  { name: 'Default Switch', id: 'c08cb7b8-9b3c-408e-8e30-5e16a3aeb444', type: 'Internal' },
  { name: 'LAN', id: '7d1a4e62-53b7-4a51-b8f1-0b6a2b0e1c55', type: 'External' },
] as const

export function hvError(cmdlet: string, message: string, id: string, category: string, target?: string, exceptionType = 'Microsoft.HyperV.PowerShell.VirtualizationException'): PsError {
  return new PsError({ message, fqid: `${id},Microsoft.HyperV.PowerShell.Commands.${cmdlet.replace('-', '')}`, category, exceptionType, activity: cmdlet, ...(target !== undefined ? { targetName: target } : {}) })
}

/** The authorization failure Hyper-V's management service gives a user without Hyper-V rights (see HyperVHost.rights). */
export function noRightsError(cmdlet: string, computerName: string): PsError {
  return hvError(cmdlet, `You do not have the required permission to complete this task. Contact the administrator of the authorization policy for the computer '${computerName}'.`, 'AccessDenied', 'PermissionDenied')
}

export class HyperVHost {
  readonly fs: WinFs
  readonly disks: DiskStore
  readonly vms = new Map<string, SimVm>()
  readonly checkpoints = new Map<string, SimCheckpoint>()
  readonly computerName: string
  readonly os: '2019' | '2022'
  readonly timing: HostTiming
  /** The display language; tests switch it to 'de-DE' on a running host, as if the adapter had connected to a German one. */
  culture: HostCulture
  /**
   * What the SSH user may do: 'full' (a member of Administrators or Hyper-V Administrators) or 'none' (neither).
   * Without rights Get-VM lists nothing and raises no error — the Hyper-V module writes a failure to enumerate as a
   * warning for Get-VM's Name parameter set (ErrorDisplayMode.WriteWarning in its GetVM class, as decompiled in
   * nforgeio/neonSDK) — while Get-VMHost and Get-VM -Id fail with AccessDenied / PermissionDenied (the module's mapping
   * of UnauthorizedAccessException, same source). Issue 22 point 8; the exact record on a real host is unverified.
   */
  rights: 'full' | 'none' = 'full'
  /** Every cmdlet line run, for tests that check what the adapter asked for. */
  readonly log: string[] = []
  /** Resilient Change Tracking of the VHDX files and the RCT reference points (WMI). */
  readonly rct = new RctTracker()
  /** Bytes served over SFTP per file (lower-case Windows path), for tests that check what a backup read. */
  readonly bytesRead = new Map<string, number>()
  /** The files' security descriptors (Get-Acl/Set-Acl; Start-VM needs the VM's account on every disk it opens). */
  readonly acls = new FileAcls()

  constructor(options: HostOptions) {
    this.fs = new WinFs(options.dataDir)
    mkdirSync(path.join(options.dataDir, 'C', 'Users', 'Administrator'), { recursive: true })
    mkdirSync(this.fs.toLocal(VHD_FOLDER), { recursive: true })
    mkdirSync(this.fs.toLocal(VM_FOLDER), { recursive: true })
    this.disks = new DiskStore(this.fs)
    this.disks.changeListeners.push((file, offset, length) => this.rct.changed(file, offset, length))
    this.disks.removeListeners.push((p) => this.acls.removed(p))
    this.computerName = options.computerName ?? 'HV01'
    this.os = options.os ?? '2022'
    this.culture = options.culture ?? 'en-US'
    this.timing = { checkpointMs: 30, saveMs: 30, startMs: 30, mergeMs: 10, backgroundMergeMs: 0, guestBootMs: 1000, ...options.timing }
  }

  get configVersion(): string {
    return this.os === '2022' ? '10.0' : '9.0'
  }

  /** Creates a VM the way an admin would have: one VHDX in the default folder with the given guest bytes. */
  async addVm(spec: { name: string; disks: readonly Buffer[]; state?: VmStateName; generation?: 1 | 2; checkpointType?: CheckpointTypeName; diskFormat?: 'vhdx' | 'vhd' }): Promise<SimVm> {
    const vm = this.newVm(spec.name, spec.generation ?? 2, 1024 ** 3)
    vm.checkpointType = spec.checkpointType ?? 'Production'
    vm.guest.boot = 'installed'
    vm.nics.push({ id: randomUUID().toUpperCase(), name: 'Network Adapter', switchName: 'LAN', mac: randomMac(), dynamicMac: true })
    const stem = safeFileName(spec.name)
    for (const [i, content] of spec.disks.entries()) {
      const format = spec.diskFormat ?? 'vhdx'
      const file = await this.disks.createBase(`${VHD_FOLDER}\\${stem}${i === 0 ? '' : `-${i}`}-${vm.id.slice(0, 8)}.${format}`, content, format)
      vm.drives.push({ id: randomUUID().toUpperCase(), controllerType: vm.generation === 2 ? 'SCSI' : 'IDE', controllerNumber: 0, controllerLocation: i, path: file.path })
      this.acls.grantVm(file.path, vm.id)
    }
    vm.state = spec.state ?? 'Running'
    return vm
  }

  newVm(name: string, generation: 1 | 2, memory: number): SimVm {
    const id = randomUUID()
    const vm: SimVm = {
      id,
      name,
      generation,
      version: this.configVersion,
      state: 'Off',
      checkpointType: 'Production',
      processorCount: 1,
      memoryStartup: memory,
      dynamicMemory: false,
      memoryMinimum: 512 * 1024 ** 2,
      memoryMaximum: 1024 ** 4,
      notes: '',
      configPath: VM_FOLDER,
      creationTime: Date.now(),
      parentCheckpointId: null,
      drives: [],
      scsiControllers: generation === 2 ? 1 : 0,
      nics: [],
      secureBoot: generation === 2,
      secureBootTemplate: 'MicrosoftWindows',
      integration: new Map(INTEGRATION_SERVICES.map((n) => [n, n !== 'Guest Service Interface'])),
      guest: { shutdown: 'clean', shutdownMs: 30, productionCapable: true, copiedIn: new Map(), boot: 'disk', upAt: null },
      busy: null,
    }
    this.vms.set(id, vm)
    return vm
  }

  vmById(id: string, cmdlet: string): SimVm {
    const vm = this.vms.get(id.toLowerCase())
    if (!vm) throw hvError(cmdlet, `Hyper-V was unable to find a virtual machine with ID "${id}".`, 'InvalidParameter', 'InvalidArgument', id)
    return vm
  }

  vmByName(name: string): SimVm | undefined {
    return [...this.vms.values()].find((v) => v.name.toLowerCase() === name.toLowerCase())
  }

  checkpointsOf(vmId: string): SimCheckpoint[] {
    return [...this.checkpoints.values()].filter((c) => c.vmId === vmId).sort((a, b) => a.created - b.created)
  }

  /** True while a running VM's worker process holds this file open (SFTP reads are refused, like a sharing violation). */
  inUse(winPath: string): boolean {
    const key = normalizeWin(winPath).toLowerCase()
    for (const vm of this.vms.values()) {
      if (vm.merging === true && (vm.mergeHeld?.has(key) === true || vm.drives.some((d) => this.disks.chain(d.path).some((f) => f.path.toLowerCase() === key)))) return true
      if (!['Running', 'Paused', 'Starting', 'Stopping', 'Saving'].includes(vm.state)) continue
      if (vm.drives.some((d) => d.path.toLowerCase() === key)) return true
    }
    return false
  }

  /** Whatever the guest does to its disk (tests use it to change data while a backup runs). */
  async guestWrite(vmId: string, driveIndex: number, offset: number, data: Buffer): Promise<void> {
    const vm = this.vmById(vmId, 'guest')
    const drive = vm.drives[driveIndex]
    if (!drive) throw new Error(`VM ${vm.name} has no drive ${driveIndex}`)
    await this.disks.write(drive.path, offset, data)
  }

  async guestRead(vmId: string, driveIndex: number, offset: number, length: number): Promise<Buffer> {
    const vm = this.vmById(vmId, 'guest')
    const drive = vm.drives[driveIndex]
    if (!drive) throw new Error(`VM ${vm.name} has no drive ${driveIndex}`)
    return await this.disks.read(drive.path, offset, length)
  }

  /** Runs a VMMS operation on a VM: one at a time per VM, and it completes even if the client goes away. */
  /** Background merges still running (tests await them with `settled()`). */
  private readonly merges = new Set<Promise<void>>()

  /**
   * A checkpoint's merge after Remove-VMSnapshot returned, lasting about `timing.backgroundMergeMs`: meanwhile the VM
   * shows Status "Merging disks" and OperationalStatus MergingDisks (32772), its disk files (the whole chain) are held
   * (SFTP, Rename-Item and Remove-Item refuse them with a sharing violation, as Windows refuses a file VMMS has open
   * for writing) and other operations on it are refused as busy. `merge` gets a pace that spreads its pieces over the
   * interval: the parent file is rewritten in place piece by piece (a handle opened before sees its bytes change), the
   * AVHDX is deleted and the drives repointed at the end. Admin scripts and backup products poll for this state before
   * touching the disks (issue 22 point 1).
   */
  mergeInBackground(vm: SimVm, merge: (pace: MergePace) => Promise<void>): void {
    vm.busy = 'Merging disks'
    vm.merging = true
    // Hyper-V holds the whole chain until the merge is over, the AVHDX too after the drives point past it.
    vm.mergeHeld = new Set(vm.drives.flatMap((d) => this.disks.chain(d.path).map((f) => normalizeWin(f.path).toLowerCase())))
    const until = Date.now() + this.timing.backgroundMergeMs
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)))
    // The pieces and the final step (AVHDX deleted, drives repointed) at equal shares of the time left.
    const pace: MergePace = async (done, total) => sleep((until - Date.now()) / Math.max(1, total - done + 1))
    const done = (async () => {
      try {
        await merge(pace)
        await sleep(until - Date.now())
      } finally {
        vm.merging = false
        vm.mergeHeld = undefined
        vm.busy = null
      }
    })()
    const tracked = done.catch(() => undefined)
    this.merges.add(tracked)
    void tracked.then(() => this.merges.delete(tracked))
  }

  /** Resolves when no background merge runs. */
  async settled(): Promise<void> {
    while (this.merges.size > 0) await Promise.all([...this.merges])
  }

  async operate<T>(vm: SimVm, what: string, cmdlet: string, ms: number, signal: AbortSignal, body: () => Promise<T> | T): Promise<T> {
    if (vm.busy !== null) throw hvError(cmdlet, `The operation cannot be performed while the object is in use. ('${vm.name}' is busy: ${vm.busy}.)`, 'OperationFailed', 'ResourceBusy', vm.name)
    vm.busy = what
    const done = (async () => {
      try {
        if (ms > 0) await new Promise((r) => setTimeout(r, ms))
        return await body()
      } finally {
        vm.busy = null
      }
    })()
    done.catch(() => undefined)
    return await raceSignal(done, signal)
  }

  /**
   * Power-on of a 'disk' guest: the firmware starts the first disk (IDE before SCSI, lowest controller and location)
   * only if its first sector ends in the boot signature 0x55AA; the guest's integration services then answer
   * `timing.guestBootMs` later. Otherwise the VM runs with nothing inside to answer ("No Contact"), as a real VM
   * sitting at "No operating system was loaded" / "Boot failure" does.
   */
  async bootGuest(vm: SimVm): Promise<void> {
    if (vm.guest.boot !== 'disk') return
    const first = [...vm.drives].sort((a, b) => a.controllerType.localeCompare(b.controllerType) || a.controllerNumber - b.controllerNumber || a.controllerLocation - b.controllerLocation)[0]
    const sector = first === undefined ? Buffer.alloc(0) : await this.disks.read(first.path, 0, 512).catch(() => Buffer.alloc(0))
    vm.guest.upAt = sector.length === 512 && sector[510] === 0x55 && sector[511] === 0xaa ? Date.now() + this.timing.guestBootMs : null
  }

  newCheckpointId(): string {
    return randomUUID()
  }
}

/** The service's Name as this host shows it. */
export function integrationDisplayName(host: { readonly culture: HostCulture }, service: IntegrationServiceName): string {
  return host.culture === 'de-DE' ? INTEGRATION_SERVICE_INFO[service].de : service
}

/** Whether the guest's integration services answer now (the VM runs and its guest is up). */
export function guestUp(vm: SimVm): boolean {
  if (vm.state !== 'Running') return false
  return vm.guest.boot === 'installed' || (vm.guest.upAt !== null && Date.now() >= vm.guest.upAt)
}

export function randomMac(): string {
  return `00155D${randomBytes(3).toString('hex').toUpperCase()}`
}

/** Waits for `p`, or rejects when the session is killed (the operation itself goes on). */
export async function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('session killed'))
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e instanceof Error ? e : new Error(String(e)))
      },
    )
  })
}
