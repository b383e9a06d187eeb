/**
 * The console thumbnail of WMI (namespace root\virtualization\v2), as Microsoft documents it for Windows Server 2016
 * and later (learn.microsoft.com/windows/win32/hyperv_v2/getvirtualsystemthumbnailimage-msvm-virtualsystemmanagementservice):
 * Msvm_VirtualSystemManagementService.GetVirtualSystemThumbnailImage([in] CIM_VirtualSystemSettingData REF TargetSystem,
 * [in] uint16 WidthPixels, [in] uint16 HeightPixels, [out] uint8 ImageData[]) returns 0, 4096 (job started) or one of
 * 32768…32778, and ImageData is raw RGB 565 of the size asked for (Hyper-V scales the console to it). The page gives
 * no byte order: each pixel is one 16-bit word in the host's little-endian order, red in the top 5 bits, as GDI's
 * Format16bppRgb565 bitmaps that scripts copy ImageData into lay it out.
 *
 * TargetSystem is a VM's realized settings, Msvm_VirtualSystemSettingData with VirtualSystemType
 * 'Microsoft:Hyper-V:System:Realized' (a checkpoint's are 'Microsoft:Hyper-V:Snapshot:Realized'; both carry the VM's
 * id in VirtualSystemIdentifier). Which return value a VM that is off gets is not documented; the model answers
 * 32775 (invalid state for this operation). The method answers synchronously (no job), which the documentation allows.
 *
 * The "screen": a VM that runs but whose guest has not booted (a 'disk' guest before its integration services are up,
 * or one with nothing to boot) shows black; a booted guest shows a text console whose lines are derived from the VM's
 * name — deterministic, so tests can compare every pixel with consoleImage().
 */
import { createHash } from 'node:crypto'
import { guestUp, type HyperVHost, type SimVm } from './host'
import { PsObject, SimulatorLimit, psToString, single, type PsHashtable, type PsValue } from './values'

const CIM = 'Microsoft.Management.Infrastructure.CimInstance'
export const REALIZED = 'Microsoft:Hyper-V:System:Realized'
const SNAPSHOT_REALIZED = 'Microsoft:Hyper-V:Snapshot:Realized'
/** The guest's console resolution (Hyper-V's default for a new VM), which the thumbnail is scaled from. */
export const CONSOLE = { width: 1024, height: 768 } as const
/** Larger thumbnails than this are not modelled (Microsoft documents no maximum besides uint16). */
const MAX_PIXELS = 1920 * 1200

const BLUE = 0x001f
const GREY = 0xc618
const WHITE = 0xffff

function cim(className: string, entries: readonly (readonly [string, PsValue])[]): PsObject {
  return new PsObject(CIM, [...entries], true, className)
}

function settings(instanceId: string, vm: SimVm, type: string, name: string): PsObject {
  return cim('Msvm_VirtualSystemSettingData', [['InstanceID', `Microsoft:${instanceId.toUpperCase()}`], ['ElementName', name], ['VirtualSystemIdentifier', vm.id.toUpperCase()], ['VirtualSystemType', type]])
}

/** Msvm_VirtualSystemManagementService and Msvm_VirtualSystemSettingData (realized: one per VM and per checkpoint). */
export function thumbnailInstances(host: HyperVHost, className: string): PsObject[] {
  if (className.toLowerCase() === 'msvm_virtualsystemmanagementservice') {
    return [cim('Msvm_VirtualSystemManagementService', [['Name', 'vmms'], ['CreationClassName', 'Msvm_VirtualSystemManagementService'], ['SystemName', host.computerName]])]
  }
  return [...host.vms.values()].flatMap((vm) => [
    settings(vm.id, vm, REALIZED, vm.name),
    ...host.checkpointsOf(vm.id).map((c) => settings(c.id, vm, SNAPSHOT_REALIZED, c.name)),
  ])
}

/** The 16-bit color of the native console pixel (x, y) of a booted guest: a title bar and text lines from the name. */
function consolePixel(seed: Buffer, x: number, y: number): number {
  if (y < 24) return x >= 8 && x < 8 + 8 * Math.min(seed.length, 40) && y >= 4 && y < 20 && x % 8 !== 0 ? WHITE : BLUE
  const row = Math.floor((y - 24) / 16)
  const col = Math.floor(x / 8)
  if (row >= seed.length) return 0
  const length = (seed[row] ?? 0) % 100
  if (col >= length) return 0
  const inCell = { x: x % 8, y: (y - 24) % 16 }
  return inCell.x >= 1 && inCell.x <= 6 && inCell.y >= 3 && inCell.y <= 12 ? GREY : 0
}

/** The thumbnail of `vm` at width x height: RGB 565, little-endian words, rows top to bottom. */
export function consoleImage(vm: SimVm, width: number, height: number): Buffer {
  const out = Buffer.alloc(width * height * 2)
  if (!guestUp(vm)) return out
  const seed = Buffer.concat([createHash('sha256').update(vm.name).digest(), createHash('sha256').update(`${vm.name}\n`).digest()])
  for (let y = 0; y < height; y++) {
    const ny = Math.floor((y * CONSOLE.height) / height)
    for (let x = 0; x < width; x++) out.writeUInt16LE(consolePixel(seed, Math.floor((x * CONSOLE.width) / width), ny), (y * width + x) * 2)
  }
  return out
}

function result(entries: readonly (readonly [string, PsValue])[]): PsObject {
  return new PsObject('Microsoft.Management.Infrastructure.CimMethodResult', [...entries, ['PSComputerName', null]], true, 'Microsoft.Management.Infrastructure.CimMethodResult')
}

function uint16(v: PsValue): number | undefined {
  const n = Number(psToString(single(v)))
  return Number.isInteger(n) && n >= 1 && n <= 0xffff ? n : undefined
}

/** GetVirtualSystemThumbnailImage(TargetSystem, WidthPixels, HeightPixels) → ReturnValue, ImageData. */
export function getVirtualSystemThumbnailImage(host: HyperVHost, args: PsHashtable): PsObject {
  const fail = (code: number) => result([['ReturnValue', code], ['ImageData', null], ['Job', null]])
  const target = single(args.get('TargetSystem'))
  if (!(target instanceof PsObject) || target.toString() !== 'Msvm_VirtualSystemSettingData') return fail(32773)
  const width = uint16(args.get('WidthPixels'))
  const height = uint16(args.get('HeightPixels'))
  if (width === undefined || height === undefined) return fail(32773)
  if (width * height > MAX_PIXELS) throw new SimulatorLimit(`a console thumbnail of ${width}x${height}`)
  const id = psToString(target.get('InstanceID')).toLowerCase()
  const vm = [...host.vms.values()].find((v) => `microsoft:${v.id}` === id)
  if (vm === undefined) {
    if ([...host.checkpoints.values()].some((c) => `microsoft:${c.id}` === id)) throw new SimulatorLimit("the thumbnail of a checkpoint's settings")
    return fail(32773)
  }
  if (vm.state !== 'Running' && vm.state !== 'Paused') return fail(32775)
  return result([['ReturnValue', 0], ['ImageData', [...consoleImage(vm, width, height)]], ['Job', null]])
}

/** The classes thumbnailInstances answers for (rct.ts's Get-CimInstance dispatch asks). */
export function isThumbnailClass(className: string): boolean {
  return ['msvm_virtualsystemmanagementservice', 'msvm_virtualsystemsettingdata'].includes(className.toLowerCase())
}
