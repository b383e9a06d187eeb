import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { AdapterError, throwIfAborted, type RestoreCapability, type RestoreRequest, type RestoreResult } from '../host-adapter'
import type { HyperVContext } from './context'
import { PsRaw, ps } from './powershell'
import { startVm } from './power'
import { runJson } from './ps-runner'
import { restoreInPlace } from './restore-in-place'
import { placements, upload } from './restore-disks'
import { VmRecord, arrayOf } from './schemas'
import { removeEmptyFolder, removeFile } from './upload'
import { withUndo } from '../undo-stack'
import { HyperVConfig } from './vm-config'
import { raw, vmVariable } from './vm-details'

const HostPaths = z.object({ disks: z.string().min(1).max(32_767), switches: arrayOf(z.object({ Name: z.string().max(1000) }), 1000) })
/** Creating a VM is a change on the host: bounded, not interrupted half-way. */
const HOST_OP_MS = 10 * 60_000
const NewVm = z.object({ Id: VmRecord.shape.Id, Name: VmRecord.shape.Name })

/** A name Windows accepts as a file name (VM names may contain anything). */
export function fileStem(name: string): string {
  const s = name.replace(/[\\/:*?"<>|\p{Cc}]/gu, '_').trim().replace(/[. ]+$/, '')
  return (s === '' ? 'vm' : s).slice(0, 60)
}

function configOf(request: RestoreRequest): HyperVConfig {
  const parsed = HyperVConfig.safeParse(request.vmConfig)
  if (!parsed.success) throw new AdapterError('NOT_SUPPORTED', 'This restore point was not made from a Hyper-V host; Lifeboat can restore it to Hyper-V only as disk images (export it as VHDX).')
  return parsed.data
}

async function asNewVm(ctx: HyperVContext, request: RestoreRequest, config: HyperVConfig, signal: AbortSignal, options: NewVmOptions = {}): Promise<RestoreResult> {
  const conn = await ctx.connection(signal)
  const host = await runJson(ctx.runner, ps`$h = Hyper-V\\Get-VMHost\n[pscustomobject]@{ disks = $h.VirtualHardDiskPath; switches = @(Hyper-V\\Get-VMSwitch | Select-Object Name) } | ConvertTo-Json -Depth 3 -Compress`, HostPaths, { signal, what: 'Reading the host\'s Hyper-V settings' })
  const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '')
  const folder = request.storageDir ?? `${host.disks.replace(/[\\/]+$/, '')}\\${fileStem(request.name)}-${stamp}-${randomBytes(3).toString('hex')}`
  if (!/^[A-Za-z]:\\/.test(folder)) throw new AdapterError('NOT_SUPPORTED', `Restore disks to a folder on a local drive of the host (C:\\…), not "${folder.slice(0, 200)}".`)
  const placed = placements(config, request.disks)
  const files: string[] = []
  // Each thing the restore makes on the host registers its removal right after it is made (or right before, where
  // the removal is harmless and the change may land although its answer is lost): a failure or cancel removes
  // exactly those, newest first, and nothing that was there before.
  return await withUndo(signal, async (undo) => {
    if (request.storageDir === undefined) undo.push(`remove the folder ${folder}`, () => removeEmptyFolder(conn, folder))
    await ctx.runner(ps`New-Item -ItemType Directory -Force -Path ${folder} | Out-Null`, { signal, what: 'Creating the folder for the disks' })
    const done = { bytes: 0, total: request.disks.reduce((a, d) => a + d.size, 0) }
    for (const [i, p] of placed.entries()) {
      const path = `${folder}\\${fileStem(request.name)}-disk${i}.vhdx`
      await upload(conn, p.input, path, 'vhdx', request, done, signal)
      undo.push(`remove the disk file ${path}`, () => removeFile(conn, path))
      files.push(path)
    }
    throwIfAborted(signal, 'The restore')
    request.phase('creating the VM', `New-VM generation ${config.generation}`)
    // Not interrupted half-way: a VM created after Lifeboat stopped listening could not be found again (names repeat).
    const made = await runJson(ctx.runner, ps`Hyper-V\\New-VM -Name ${request.name} -Generation ${config.generation} -MemoryStartupBytes ${config.memoryStartup} -NoVHD | Select-Object ${raw('Id, Name')} | ConvertTo-Json -Compress`, NewVm, { signal: AbortSignal.timeout(HOST_OP_MS), what: 'Creating the VM' })
    const vmId = made.Id
    undo.push(`remove the half-restored VM ${request.name} (${vmId})`, async (s) => {
      // Remove-VM refuses a running VM: one whose start Lifeboat gave up on is turned off first.
      await ctx.runner(ps`${vmVariable(vmId)}\nif ($vm.State -ne 'Off') { Hyper-V\\Stop-VM -VM $vm -TurnOff -Force }\nHyper-V\\Remove-VM -VM $vm -Force`, { signal: s, what: 'Removing the half-restored VM' })
    })
    throwIfAborted(signal, 'The restore')
    const switches = new Set(host.switches.map((s) => s.Name.toLowerCase()))
    const lines: PsRaw[] = [vmVariable(vmId), ps`Hyper-V\\Set-VMProcessor -VM $vm -Count ${config.processorCount}`]
    lines.push(
      config.dynamicMemory && config.memoryMinimum != null && config.memoryMaximum != null
        ? ps`Hyper-V\\Set-VMMemory -VM $vm -DynamicMemoryEnabled $true -MinimumBytes ${config.memoryMinimum} -MaximumBytes ${config.memoryMaximum}`
        : ps`Hyper-V\\Set-VMMemory -VM $vm -DynamicMemoryEnabled $false`,
    )
    if (config.generation === 2 && config.secureBoot != null) {
      lines.push(config.secureBoot && config.secureBootTemplate != null ? ps`Hyper-V\\Set-VMFirmware -VM $vm -EnableSecureBoot On -SecureBootTemplate ${config.secureBootTemplate}` : ps`Hyper-V\\Set-VMFirmware -VM $vm -EnableSecureBoot ${config.secureBoot ? 'On' : 'Off'}`)
    }
    const scsi = Math.max(0, ...placed.filter((p) => p.controllerType === 'SCSI').map((p) => p.controllerNumber + 1))
    for (let n = config.generation === 2 ? 1 : 0; n < scsi; n++) lines.push(ps`Hyper-V\\Add-VMScsiController -VM $vm`)
    placed.forEach((p, i) => lines.push(ps`Hyper-V\\Add-VMHardDiskDrive -VM $vm -Path ${files[i] ?? ''} -ControllerType ${p.controllerType} -ControllerNumber ${p.controllerNumber} -ControllerLocation ${p.controllerLocation}`))
    const missing: string[] = []
    // New-VM's own adapter stays unconnected either way; without a network the saved adapters are left out.
    if (options.network === false && config.nics.length > 0) request.log('info', `The VM has no network: ${config.nics.length} network adapter(s) of the original were left out or left unconnected.`)
    const nics = options.network === false ? [] : config.nics
    nics.forEach((nic, i) => {
      const sw = nic.switchName != null && switches.has(nic.switchName.toLowerCase()) ? nic.switchName : undefined
      if (nic.switchName != null && sw === undefined) missing.push(nic.switchName)
      if (i === 0) {
        if (sw !== undefined) lines.push(ps`Hyper-V\\Connect-VMNetworkAdapter -VMNetworkAdapter (Hyper-V\\Get-VMNetworkAdapter -VM $vm | Select-Object -First 1) -SwitchName ${sw}`)
      } else lines.push(sw !== undefined ? ps`Hyper-V\\Add-VMNetworkAdapter -VM $vm -SwitchName ${sw}` : ps`Hyper-V\\Add-VMNetworkAdapter -VM $vm`)
    })
    const boot = [...placed].sort((a, b) => a.controllerNumber - b.controllerNumber || a.controllerLocation - b.controllerLocation)[0]
    if (config.generation === 2 && boot?.controllerType === 'SCSI') {
      lines.push(ps`Hyper-V\\Set-VMFirmware -VM $vm -FirstBootDevice (Hyper-V\\Get-VMHardDiskDrive -VM $vm -ControllerType SCSI -ControllerNumber ${boot.controllerNumber} -ControllerLocation ${boot.controllerLocation})`)
    }
    // Everything here changes only the new VM, which its removal takes along.
    await ctx.runner(new PsRaw(lines.map((l) => l.text).join('\n')), { signal, what: 'Configuring the restored VM' })
    for (const m of new Set(missing)) request.log('warn', `This host has no virtual switch "${m}"; the network adapter was left disconnected.`)
    let started = false
    if (request.start) {
      request.phase('starting', request.name)
      await startVm(ctx.runner, vmId, signal)
      started = true
    }
    return { vmId, name: made.Name, disks: placed.map((p, i) => ({ name: p.input.name, path: files[i] ?? '', format: 'vhdx' })), started, leftBehind: [] }
  })
}

/** How a flow built on a restore (a health check) wants the new VM. */
export interface NewVmOptions {
  /** False: no network adapter connected to any switch. */
  readonly network?: boolean
}

/** A restore point as a new VM (not started unless asked), for flows built on a restore. */
export async function restoreAsNewVm(ctx: HyperVContext, request: RestoreRequest, signal: AbortSignal, options: NewVmOptions = {}): Promise<RestoreResult> {
  const config = configOf(request)
  if (request.disks.length === 0) throw new AdapterError('NOT_SUPPORTED', 'The restore point has no disks.')
  return await asNewVm(ctx, request, config, signal, options)
}

/** Restores a Hyper-V VM from a restore point: as a new VM (new id, disks uploaded as VHDX), or over a stopped VM's disks. */
export function hypervRestore(ctx: HyperVContext): RestoreCapability {
  return {
    async restoreVm(request, signal) {
      const config = configOf(request)
      if (request.disks.length === 0) throw new AdapterError('NOT_SUPPORTED', 'The restore point has no disks.')
      return request.inPlace ? await restoreInPlace(ctx, request, config, signal) : await asNewVm(ctx, request, config, signal)
    },
  }
}
