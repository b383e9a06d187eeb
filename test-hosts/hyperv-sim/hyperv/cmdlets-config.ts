/**
 * Hyper-V cmdlets that build or change a VM's configuration (New-VM, Remove-VM, Set-VMProcessor, Set-VMMemory,
 * Set-VMFirmware, Add-VMHardDiskDrive, Add-VMScsiController, Add-VMNetworkAdapter, Connect-VMNetworkAdapter),
 * Copy-VMFile, and the file-system cmdlets the adapter uses (New-Item, Test-Path, Remove-Item, Rename-Item).
 */
import { randomUUID } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { mkdir, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { flag, requireNoPrompt, str, type CmdletDef } from './cmdlet-def'
import { PsEnum, PsError, PsObject, SimulatorLimit, psToString } from './values'
import { SWITCHES, hvError, randomMac, type HyperVHost } from './host'
import { ENUMS, driveObject, idOf, vmObject } from './objects'
import { targetVms, wildcard } from './targets'
import { normalizeWin, notFound } from './winfs'

const CLASS = (name: string) => `Microsoft.HyperV.PowerShell.Commands.${name.replace('-', '')}`
const BAD_FILE_CHARS = /[\\/:*?"<>|]/

function switchExists(name: string): boolean {
  return SWITCHES.some((s) => s.name.toLowerCase() === name.toLowerCase())
}

function noSwitch(cmdlet: string, name: string) {
  return hvError(cmdlet, `Hyper-V was unable to find a virtual switch with name "${name}".`, 'InvalidParameter', 'InvalidArgument', name)
}

export function configCmdlets(host: HyperVHost): CmdletDef[] {
  const one = (args: ReadonlyMap<string, unknown>, input: unknown, cmdlet: string) => {
    const vms = targetVms(host, args as never, input as never, cmdlet, 'VMName')
    if (vms.length !== 1) throw new SimulatorLimit(`${cmdlet} on ${vms.length} VMs at once`)
    return vms[0] as (typeof vms)[number]
  }
  return [
    {
      name: 'New-VM',
      errorClass: CLASS('New-VM'),
      params: {
        Name: { type: 'string', position: 0, aliases: ['VMName'] },
        Generation: { type: 'int' },
        MemoryStartupBytes: { type: 'int' },
        NoVHD: { type: 'switch' },
        Path: { type: 'string' },
        SwitchName: { type: 'string' },
        Version: { type: 'string' },
        NewVHDPath: { type: 'string' },
        VHDPath: { type: 'string' },
      },
      async run(_ctx, args) {
        if (args.has('NewVHDPath') || args.has('VHDPath')) throw new SimulatorLimit('New-VM -NewVHDPath/-VHDPath (attach disks with Add-VMHardDiskDrive)')
        const name = str(args, 'Name') ?? 'New Virtual Machine'
        if (name.length > 100) throw hvError('New-VM', 'The virtual machine name must be 100 characters or fewer.', 'InvalidParameter', 'InvalidArgument', name)
        const gen = (args.get('Generation') ?? 1) as number
        if (gen !== 1 && gen !== 2) throw hvError('New-VM', `Cannot validate argument on parameter 'Generation'. The ${gen} argument is greater than the maximum allowed range of 2.`, 'ParameterArgumentValidationError', 'InvalidData')
        const path = str(args, 'Path')
        if (path !== undefined) {
          if (BAD_FILE_CHARS.test(name)) throw hvError('New-VM', `The file name, directory name, or volume label syntax is incorrect. ('${path}\\${name}')`, 'OperationFailed', 'InvalidArgument', name)
          await mkdir(host.fs.toLocal(`${path}\\${name}`), { recursive: true })
        }
        const sw = str(args, 'SwitchName')
        if (sw !== undefined && !switchExists(sw)) throw noSwitch('New-VM', sw)
        const vm = host.newVm(name, gen, (args.get('MemoryStartupBytes') as number | undefined) ?? 512 * 1024 ** 2)
        vm.nics.push({ id: randomUUID().toUpperCase(), name: 'Network Adapter', switchName: sw ?? null, mac: randomMac(), dynamicMac: true })
        return [vmObject(host, vm)]
      },
    },
    {
      name: 'Remove-VM',
      errorClass: CLASS('Remove-VM'),
      params: { Name: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, Force: { type: 'switch' } },
      run(_ctx, args, input) {
        requireNoPrompt('Remove-VM', CLASS('Remove-VM'), args, flag(args, 'Force'))
        for (const vm of targetVms(host, args, input, 'Remove-VM')) {
          if (vm.state !== 'Off') throw hvError('Remove-VM', `'${vm.name}' failed to delete.\r\nThe operation cannot be performed while the object is in its current state.`, 'InvalidState', 'InvalidOperation', vm.name)
          if (host.checkpointsOf(vm.id).length > 0) throw new SimulatorLimit('Remove-VM of a VM with checkpoints')
          host.vms.delete(vm.id)
        }
        return []
      },
    },
    {
      name: 'Set-VMProcessor',
      errorClass: CLASS('Set-VMProcessor'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, Count: { type: 'int' } },
      run(_ctx, args, input) {
        const vm = one(args, input, 'Set-VMProcessor')
        const count = args.get('Count') as number | undefined
        if (count !== undefined) {
          if (vm.state !== 'Off') throw hvError('Set-VMProcessor', `Failed to modify device 'Processor'.\r\nThe operation cannot be performed while the object is in its current state.`, 'InvalidState', 'InvalidOperation', vm.name)
          if (count < 1 || count > 240) throw hvError('Set-VMProcessor', `Cannot validate argument on parameter 'Count'.`, 'ParameterArgumentValidationError', 'InvalidData')
          vm.processorCount = count
        }
        return []
      },
    },
    {
      name: 'Set-VMMemory',
      errorClass: CLASS('Set-VMMemory'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, DynamicMemoryEnabled: { type: 'bool' }, StartupBytes: { type: 'int' }, MinimumBytes: { type: 'int' }, MaximumBytes: { type: 'int' } },
      run(_ctx, args, input) {
        const vm = one(args, input, 'Set-VMMemory')
        if (vm.state !== 'Off') throw hvError('Set-VMMemory', `Failed to modify device 'Memory'.\r\nThe operation cannot be performed while the object is in its current state.`, 'InvalidState', 'InvalidOperation', vm.name)
        if (args.has('DynamicMemoryEnabled')) vm.dynamicMemory = args.get('DynamicMemoryEnabled') === true
        if (args.has('StartupBytes')) vm.memoryStartup = args.get('StartupBytes') as number
        if (args.has('MinimumBytes')) vm.memoryMinimum = args.get('MinimumBytes') as number
        if (args.has('MaximumBytes')) vm.memoryMaximum = args.get('MaximumBytes') as number
        if (vm.memoryStartup % (2 * 1024 ** 2) !== 0) throw hvError('Set-VMMemory', `Failed to modify device 'Memory'.\r\nInvalid startup memory amount: the value must be a multiple of 2 MB.`, 'InvalidParameter', 'InvalidArgument', vm.name)
        return []
      },
    },
    {
      name: 'Set-VMFirmware',
      errorClass: CLASS('Set-VMFirmware'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, EnableSecureBoot: { type: 'enum', enumType: 'Microsoft.HyperV.PowerShell.OnOffState', members: ENUMS.OnOffState }, SecureBootTemplate: { type: 'string' }, FirstBootDevice: { type: 'object' } },
      run(_ctx, args, input) {
        const vm = one(args, input, 'Set-VMFirmware')
        if (vm.generation !== 2) throw hvError('Set-VMFirmware', 'Set-VMFirmware is not supported for generation 1 virtual machines.', 'InvalidParameter', 'InvalidArgument', vm.name)
        const sb = args.get('EnableSecureBoot')
        if (sb instanceof PsEnum) vm.secureBoot = sb.name === 'On'
        const template = str(args, 'SecureBootTemplate')
        if (template !== undefined) {
          if (!['MicrosoftWindows', 'MicrosoftUEFICertificateAuthority', 'OpenSourceShieldedVM'].includes(template)) throw hvError('Set-VMFirmware', `The secure boot template '${template}' was not found.`, 'InvalidParameter', 'InvalidArgument', template)
          vm.secureBootTemplate = template
        }
        const first = args.get('FirstBootDevice')
        if (first !== undefined && !(first instanceof PsObject && first.typeName === 'Microsoft.HyperV.PowerShell.HardDiskDrive')) throw new SimulatorLimit('Set-VMFirmware -FirstBootDevice with anything but a hard disk drive')
        return []
      },
    },
    {
      name: 'Add-VMScsiController',
      errorClass: CLASS('Add-VMScsiController'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' } },
      run(_ctx, args, input) {
        const vm = one(args, input, 'Add-VMScsiController')
        if (vm.scsiControllers >= 4) throw hvError('Add-VMScsiController', 'Failed to add device \'SCSI Controller\'.\r\nThe maximum number of SCSI controllers is 4.', 'OperationFailed', 'InvalidOperation', vm.name)
        vm.scsiControllers++
        return []
      },
    },
    {
      name: 'Add-VMHardDiskDrive',
      errorClass: CLASS('Add-VMHardDiskDrive'),
      params: {
        VMName: { type: 'string[]', position: 0 },
        VM: { type: 'object[]' },
        Path: { type: 'string' },
        ControllerType: { type: 'enum', enumType: 'Microsoft.HyperV.PowerShell.ControllerType', members: ENUMS.ControllerType },
        ControllerNumber: { type: 'int' },
        ControllerLocation: { type: 'int' },
        Passthru: { type: 'switch' },
      },
      async run(_ctx, args, input) {
        const vm = one(args, input, 'Add-VMHardDiskDrive')
        const path = str(args, 'Path')
        if (path === undefined) throw new SimulatorLimit('Add-VMHardDiskDrive without -Path (pass-through disks)')
        const type = (args.get('ControllerType') instanceof PsEnum ? (args.get('ControllerType') as PsEnum).name : vm.generation === 2 ? 'SCSI' : 'IDE') as 'IDE' | 'SCSI'
        const number = (args.get('ControllerNumber') as number | undefined) ?? 0
        if (type === 'IDE' && (vm.generation === 2 || number > 1)) throw hvError('Add-VMHardDiskDrive', `Failed to add device 'Virtual Hard Disk'.\r\nNo IDE controller ${number} exists on '${vm.name}'.`, 'ObjectNotFound', 'ObjectNotFound', vm.name)
        if (type === 'SCSI' && number >= vm.scsiControllers) throw hvError('Add-VMHardDiskDrive', `Failed to add device 'Virtual Hard Disk'.\r\nNo SCSI controller ${number} exists on '${vm.name}'.`, 'ObjectNotFound', 'ObjectNotFound', vm.name)
        const taken = vm.drives.filter((d) => d.controllerType === type && d.controllerNumber === number).map((d) => d.controllerLocation)
        let location = args.get('ControllerLocation') as number | undefined
        if (location === undefined) {
          location = 0
          while (taken.includes(location)) location++
        }
        if (taken.includes(location) || (type === 'IDE' && location > 1) || location > 63) throw hvError('Add-VMHardDiskDrive', `Failed to add device 'Virtual Hard Disk'.\r\nThe specified location ${location} on ${type} controller ${number} is already in use or does not exist.`, 'OperationFailed', 'InvalidOperation', vm.name)
        let file
        try {
          file = await host.disks.probe(normalizeWin(path))
        } catch {
          throw hvError('Add-VMHardDiskDrive', `Failed to add device 'Virtual Hard Disk'.\r\nThe system cannot find the file specified. ('${path}')`, 'ObjectNotFound', 'ObjectNotFound', path)
        }
        if (host.inUse(file.path)) throw hvError('Add-VMHardDiskDrive', `Failed to add device 'Virtual Hard Disk'.\r\nThe process cannot access the file because it is being used by another process. ('${file.path}')`, 'OperationFailed', 'ResourceBusy', file.path)
        const drive = { id: randomUUID().toUpperCase(), controllerType: type, controllerNumber: number, controllerLocation: location, path: file.path }
        vm.drives.push(drive)
        host.acls.grantVm(file.path, vm.id)
        return flag(args, 'Passthru') ? [driveObject(host, vm, drive)] : []
      },
    },
    {
      name: 'Add-VMNetworkAdapter',
      errorClass: CLASS('Add-VMNetworkAdapter'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, SwitchName: { type: 'string' }, Name: { type: 'string' } },
      run(_ctx, args, input) {
        const vm = one(args, input, 'Add-VMNetworkAdapter')
        const sw = str(args, 'SwitchName')
        if (sw !== undefined && !switchExists(sw)) throw noSwitch('Add-VMNetworkAdapter', sw)
        vm.nics.push({ id: randomUUID().toUpperCase(), name: str(args, 'Name') ?? 'Network Adapter', switchName: sw ?? null, mac: randomMac(), dynamicMac: true })
        return []
      },
    },
    {
      name: 'Connect-VMNetworkAdapter',
      errorClass: CLASS('Connect-VMNetworkAdapter'),
      params: { VMNetworkAdapter: { type: 'object[]', position: 0 }, SwitchName: { type: 'string' } },
      run(_ctx, args, input) {
        const sw = str(args, 'SwitchName')
        if (sw === undefined) throw new SimulatorLimit('Connect-VMNetworkAdapter without -SwitchName')
        if (!switchExists(sw)) throw noSwitch('Connect-VMNetworkAdapter', sw)
        const adapters = [...(args.has('VMNetworkAdapter') ? ([] as unknown[]).concat(args.get('VMNetworkAdapter')) : (input ?? []))]
        for (const a of adapters) {
          const id = idOf(a as never)
          const vmId = idOf(a as never, 'VMId')
          const vm = vmId !== undefined ? host.vms.get(vmId) : undefined
          const nic = vm?.nics.find((n) => `Microsoft:${vm.id.toUpperCase()}\\${n.id}` === id)
          if (!nic) throw new SimulatorLimit('Connect-VMNetworkAdapter with something that is not a VMNetworkAdapter object')
          nic.switchName = SWITCHES.find((s) => s.name.toLowerCase() === sw.toLowerCase())?.name ?? sw
        }
        return []
      },
    },
    {
      name: 'Copy-VMFile',
      errorClass: CLASS('Copy-VMFile'),
      params: { Name: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, SourcePath: { type: 'string', position: 1 }, DestinationPath: { type: 'string', position: 2 }, FileSource: { type: 'enum', enumType: 'Microsoft.HyperV.PowerShell.CopyFileSourceType', members: ENUMS.FileSource }, CreateFullPath: { type: 'switch' }, Force: { type: 'switch' } },
      async run(_ctx, args, input) {
        const vm = one(args, input, 'Copy-VMFile')
        const source = str(args, 'SourcePath') ?? ''
        const dest = str(args, 'DestinationPath') ?? ''
        if (!(args.get('FileSource') instanceof PsEnum)) throw hvError('Copy-VMFile', "Cannot process command because of one or more missing mandatory parameters: FileSource.", 'MissingMandatoryParameter', 'InvalidArgument')
        if (vm.state !== 'Running' || vm.integration.get('Guest Service Interface') !== true) {
          throw hvError('Copy-VMFile', `Failed to initiate copying files to the guest.\r\nThe Guest Service Interface integration service is not enabled or not running in '${vm.name}'.`, 'OperationFailed', 'NotSpecified', vm.name)
        }
        const local = host.fs.toLocal(source)
        if (!existsSync(local)) throw notFound(source)
        const key = dest.toLowerCase()
        if ([...vm.guest.copiedIn.keys()].some((k) => k.toLowerCase() === key) && !flag(args, 'Force')) {
          throw hvError('Copy-VMFile', `Failed to copy the source file '${source}' to the destination '${dest}' in the guest.\r\nThe file exists.`, 'OperationFailed', 'NotSpecified', dest)
        }
        vm.guest.copiedIn.set(dest, await readFile(local))
        return []
      },
    },
    {
      name: 'New-Item',
      errorClass: 'Microsoft.PowerShell.Commands.NewItemCommand',
      params: { Path: { type: 'string', position: 0 }, ItemType: { type: 'string' }, Force: { type: 'switch' } },
      async run(_ctx, args) {
        if ((str(args, 'ItemType') ?? '').toLowerCase() !== 'directory') throw new SimulatorLimit('New-Item of anything but a directory')
        const path = str(args, 'Path') ?? ''
        if (wildcard(path)) throw new SimulatorLimit('wildcards in New-Item -Path')
        const local = host.fs.toLocal(path)
        if (existsSync(local) && !flag(args, 'Force')) throw new PsError({ message: `An item with the specified name ${path} already exists.`, fqid: 'DirectoryExist,Microsoft.PowerShell.Commands.NewItemCommand', category: 'ResourceExists', exceptionType: 'System.IO.IOException', targetName: path })
        await mkdir(local, { recursive: true })
        return [new PsObject('System.IO.DirectoryInfo', [['FullName', host.fs.toWin(local)], ['Name', host.fs.toWin(local).split('\\').pop() ?? '']], true, host.fs.toWin(local))]
      },
    },
    {
      name: 'Test-Path',
      errorClass: 'Microsoft.PowerShell.Commands.TestPathCommand',
      params: { LiteralPath: { type: 'string', aliases: ['PSPath', 'LP'] }, Path: { type: 'string', position: 0 }, PathType: { type: 'string' } },
      run(_ctx, args) {
        if (args.has('Path')) throw new SimulatorLimit('Test-Path -Path (it expands wildcards; use -LiteralPath)')
        let local: string
        try {
          local = host.fs.toLocal(str(args, 'LiteralPath') ?? '')
        } catch {
          return [false]
        }
        if (!existsSync(local)) return [false]
        const type = (str(args, 'PathType') ?? 'Any').toLowerCase()
        const isDir = statSync(local).isDirectory()
        return [type === 'any' || (type === 'leaf' && !isDir) || (type === 'container' && isDir)]
      },
    },
    {
      name: 'Remove-Item',
      errorClass: 'Microsoft.PowerShell.Commands.RemoveItemCommand',
      params: { LiteralPath: { type: 'string[]', aliases: ['PSPath', 'LP'] }, Path: { type: 'string[]', position: 0 }, Force: { type: 'switch' }, Recurse: { type: 'switch' } },
      async run(_ctx, args) {
        if (args.has('Path')) throw new SimulatorLimit('Remove-Item -Path (it expands wildcards; use -LiteralPath)')
        for (const p of ([] as unknown[]).concat(args.get('LiteralPath') ?? []).map((x) => psToString(x as never))) {
          const local = host.fs.toLocal(p)
          if (!existsSync(local)) throw notFound(p)
          if (host.inUse(p)) throw new PsError({ message: `Cannot remove item ${p}: The process cannot access the file '${p}' because it is being used by another process.`, fqid: 'RemoveFileSystemItemIOError,Microsoft.PowerShell.Commands.RemoveItemCommand', category: 'WriteError', exceptionType: 'System.IO.IOException', targetName: p })
          if (statSync(local).isDirectory() && !flag(args, 'Recurse')) throw new SimulatorLimit('Remove-Item of a directory without -Recurse (it prompts)')
          if (host.disks.get(p)) await host.disks.remove(p)
          else await rm(local, { recursive: true, force: true })
          host.acls.removed(p)
        }
        return []
      },
    },
    {
      // A file only (what the adapter needs). -NewName is a literal name in the same folder; as on Windows, a name
      // that exists is refused, and a file a running VM holds open cannot be renamed.
      name: 'Rename-Item',
      errorClass: 'Microsoft.PowerShell.Commands.RenameItemCommand',
      params: { LiteralPath: { type: 'string', aliases: ['PSPath', 'LP'] }, Path: { type: 'string', position: 0 }, NewName: { type: 'string', position: 1 }, Force: { type: 'switch' }, PassThru: { type: 'switch' } },
      async run(_ctx, args) {
        if (args.has('Path')) throw new SimulatorLimit('Rename-Item -Path (it expands wildcards; use -LiteralPath)')
        if (flag(args, 'Force') || flag(args, 'PassThru')) throw new SimulatorLimit('Rename-Item -Force or -PassThru')
        const from = str(args, 'LiteralPath') ?? ''
        const name = str(args, 'NewName') ?? ''
        if (name === '' || /[\\/]/.test(name)) throw new SimulatorLimit('Rename-Item -NewName with a path (give only the new name)')
        const a = host.fs.toLocal(from)
        if (!existsSync(a)) throw notFound(from)
        if (statSync(a).isDirectory()) throw new SimulatorLimit('Rename-Item of a directory')
        const b = join(dirname(a), name)
        const ioError = (message: string) => new PsError({ message, fqid: 'RenameItemIOError,Microsoft.PowerShell.Commands.RenameItemCommand', category: 'WriteError', exceptionType: 'System.IO.IOException', targetName: from })
        if (host.inUse(from)) throw ioError(`Cannot rename item at '${from}': The process cannot access the file because it is being used by another process.`)
        if (existsSync(b)) throw ioError('Cannot create a file when that file already exists.')
        await rename(a, b)
        host.disks.renamed(from, host.fs.toWin(b))
        host.acls.moved(from, host.fs.toWin(b))
        return []
      },
    },
  ]
}
