/** Read-only Hyper-V cmdlets: Get-VM, Get-VMHardDiskDrive, Get-VHD, Get-VMSnapshot, Get-VMIntegrationService, Get-VMNetworkAdapter, Get-VMSwitch, Get-VMHost, Get-VMFirmware, Get-CimInstance. */
import { statfs } from 'node:fs/promises'
import { str, type CmdletDef } from './cmdlet-def'
import { PsError, PsGuid, PsObject, SimulatorLimit, asArray, psToString } from './values'
import { INTEGRATION_SERVICES, SWITCHES, VHD_FOLDER, VM_FOLDER, hvError, integrationDisplayName, noRightsError, type HyperVHost, type IntegrationServiceName } from './host'
import { ENUMS, driveObject, firmwareObject, integrationObject, nicObject, snapshotObject, switchObject, vhdObject, vmObject } from './objects'
import { cimQuery } from './rct'
import { byName, snapshotOf, targetVms, wildcard } from './targets'
import { normalizeWin } from './winfs'

export function queryCmdlets(host: HyperVHost): CmdletDef[] {
  const hv = (name: string) => `Microsoft.HyperV.PowerShell.Commands.${name.replace('-', '')}`
  return [
    {
      name: 'Get-VM',
      errorClass: hv('Get-VM'),
      params: { Name: { type: 'string[]', position: 0, aliases: ['VMName'] }, Id: { type: 'guid' } },
      run(ctx, args) {
        if (args.has('Id') && args.has('Name')) throw hvError('Get-VM', 'Parameter set cannot be resolved using the specified named parameters.', 'AmbiguousParameterSet', 'InvalidArgument')
        if (host.rights === 'none') {
          if (args.has('Id')) throw noRightsError('Get-VM', host.computerName)
          ctx.warn(noRightsError('Get-VM', host.computerName).message)
          return []
        }
        const id = args.get('Id')
        if (id instanceof PsGuid) return [vmObject(host, host.vmById(id.value, 'Get-VM'))]
        if (args.has('Name')) return asArray(args.get('Name') ?? null).flatMap((n) => byName(host, psToString(n), 'Get-VM')).map((v) => vmObject(host, v))
        return [...host.vms.values()].map((v) => vmObject(host, v))
      },
    },
    {
      name: 'Get-VMHardDiskDrive',
      errorClass: hv('Get-VMHardDiskDrive'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, VMSnapshot: { type: 'object' }, ControllerType: { type: 'enum', enumType: 'Microsoft.HyperV.PowerShell.ControllerType', members: ENUMS.ControllerType }, ControllerNumber: { type: 'int' }, ControllerLocation: { type: 'int' } },
      run(_ctx, args, input) {
        const filter = (d: { controllerType: string; controllerNumber: number; controllerLocation: number }) =>
          (!args.has('ControllerType') || psToString(args.get('ControllerType') ?? null) === d.controllerType) &&
          (!args.has('ControllerNumber') || args.get('ControllerNumber') === d.controllerNumber) &&
          (!args.has('ControllerLocation') || args.get('ControllerLocation') === d.controllerLocation)
        if (args.has('VMSnapshot')) {
          const snap = snapshotOf(host, args.get('VMSnapshot') ?? null, 'Get-VMHardDiskDrive')
          const vm = host.vmById(snap.vmId, 'Get-VMHardDiskDrive')
          return vm.drives.filter((d) => snap.files.has(d.id)).filter(filter).map((d) => driveObject(host, vm, d, snap))
        }
        return targetVms(host, args, input, 'Get-VMHardDiskDrive', 'VMName').flatMap((vm) => vm.drives.filter(filter).map((d) => driveObject(host, vm, d)))
      },
    },
    {
      name: 'Get-VHD',
      errorClass: 'Microsoft.Vhd.PowerShell.Cmdlets.GetVHD',
      params: { Path: { type: 'string[]', position: 0, aliases: ['FullName'] }, VMId: { type: 'guid' } },
      async run(_ctx, args, input) {
        let paths = args.has('Path') ? asArray(args.get('Path') ?? null).map(psToString) : undefined
        if (paths === undefined && input !== undefined) paths = input.map((i) => (i instanceof PsObject && i.has('Path') ? psToString(i.get('Path')) : psToString(i)))
        if (args.has('VMId')) {
          const vm = host.vmById(psToString(args.get('VMId') ?? null), 'Get-VHD')
          paths = vm.drives.map((d) => d.path)
        }
        if (paths === undefined) throw new PsError({ message: 'Cannot process command because of one or more missing mandatory parameters: Path.', fqid: 'MissingMandatoryParameter,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD', category: 'InvalidArgument', exceptionType: 'System.Management.Automation.ParameterBindingException' })
        const out = []
        for (const p of paths) {
          // Documented as "Accept wildcard characters: False": [1] in a file name is literal.
          let file = host.disks.get(p)
          if (!file) {
            try {
              file = await host.disks.probe(normalizeWin(p))
            } catch {
              throw new PsError({ message: `Getting the mounted storage instance for the path '${p}' failed.\r\nThe operation failed with error code '2'.`, fqid: 'ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD', category: 'ObjectNotFound', exceptionType: 'Microsoft.HyperV.PowerShell.VirtualizationException', targetName: p, activity: 'Get-VHD' })
            }
          }
          out.push(vhdObject(host, file, await host.disks.fileSize(file.path)))
        }
        return out
      },
    },
    {
      name: 'Get-VMSnapshot',
      errorClass: hv('Get-VMSnapshot'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, Id: { type: 'guid' }, Name: { type: 'string', position: 1 }, SnapshotType: { type: 'enum', enumType: 'Microsoft.HyperV.PowerShell.SnapshotType', members: ENUMS.SnapshotType } },
      run(_ctx, args, input) {
        const id = args.get('Id')
        if (id instanceof PsGuid) {
          const c = host.checkpoints.get(id.value)
          if (!c) throw hvError('Get-VMSnapshot', `Hyper-V was unable to find a checkpoint with ID "${id.value}".`, 'InvalidParameter', 'InvalidArgument', id.value)
          return [snapshotObject(host, c)]
        }
        const vms = targetVms(host, args, input, 'Get-VMSnapshot', 'VMName')
        const name = str(args, 'Name')
        const rx = name !== undefined ? wildcard(name) : undefined
        return vms.flatMap((vm) =>
          host
            .checkpointsOf(vm.id)
            .filter((c) => name === undefined || (rx ? rx.test(c.name) : c.name.toLowerCase() === name.toLowerCase()))
            .map((c) => snapshotObject(host, c)),
        )
      },
    },
    {
      name: 'Get-VMIntegrationService',
      errorClass: hv('Get-VMIntegrationService'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' }, Name: { type: 'string[]', position: 1 } },
      run(_ctx, args, input) {
        const names = args.has('Name') ? asArray(args.get('Name') ?? null).map((n) => psToString(n)) : undefined
        // -Name matches the names the host shows: on a German host "Heartbeat" finds nothing, "Takt" does.
        const wanted = (service: IntegrationServiceName) => {
          const shown = integrationDisplayName(host, service)
          return names === undefined || names.some((n) => (wildcard(n)?.test(shown) ?? n.toLowerCase() === shown.toLowerCase()))
        }
        return targetVms(host, args, input, 'Get-VMIntegrationService', 'VMName').flatMap((vm) => INTEGRATION_SERVICES.filter(wanted).map((n) => integrationObject(host, vm, n)))
      },
    },
    {
      name: 'Get-VMNetworkAdapter',
      errorClass: hv('Get-VMNetworkAdapter'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' } },
      run(_ctx, args, input) {
        return targetVms(host, args, input, 'Get-VMNetworkAdapter', 'VMName').flatMap((vm) => vm.nics.map((n) => nicObject(host, vm, n)))
      },
    },
    {
      name: 'Get-VMSwitch',
      errorClass: hv('Get-VMSwitch'),
      params: { Name: { type: 'string[]', position: 0 } },
      run(_ctx, args) {
        if (args.has('Name')) throw new SimulatorLimit('Get-VMSwitch -Name')
        return SWITCHES.map((s) => switchObject(host, s))
      },
    },
    {
      name: 'Get-VMHost',
      errorClass: hv('Get-VMHost'),
      params: {},
      run() {
        if (host.rights === 'none') throw noRightsError('Get-VMHost', host.computerName)
        return [
          new PsObject(
            'Microsoft.HyperV.PowerShell.VMHost',
            [
              ['ComputerName', host.computerName],
              ['Name', host.computerName],
              ['VirtualHardDiskPath', VHD_FOLDER],
              ['VirtualMachinePath', VM_FOLDER],
              ['LogicalProcessorCount', 8],
              ['MemoryCapacity', 64 * 1024 ** 3],
              ['FullyQualifiedDomainName', `${host.computerName.toLowerCase()}.lan`],
            ],
            true,
            host.computerName,
          ),
        ]
      },
    },
    {
      name: 'Get-VMFirmware',
      errorClass: hv('Get-VMFirmware'),
      params: { VMName: { type: 'string[]', position: 0 }, VM: { type: 'object[]' } },
      run(_ctx, args, input) {
        return targetVms(host, args, input, 'Get-VMFirmware', 'VMName').map((vm) => {
          if (vm.generation !== 2) throw hvError('Get-VMFirmware', `Get-VMFirmware is not supported for generation 1 virtual machines.`, 'InvalidParameter', 'InvalidArgument', vm.name)
          return firmwareObject(host, vm)
        })
      },
    },
    {
      name: 'Get-CimInstance',
      errorClass: 'Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand',
      params: { ClassName: { type: 'string', position: 0 }, Filter: { type: 'string' }, Namespace: { type: 'string' }, InputObject: { type: 'object' } },
      async run(_ctx, args) {
        const cls = (str(args, 'ClassName') ?? '').toLowerCase()
        if (args.has('Namespace') || args.has('InputObject')) return cimQuery(host, args)
        if (cls === 'win32_operatingsystem') {
          const caption = host.os === '2022' ? 'Microsoft Windows Server 2022 Standard' : 'Microsoft Windows Server 2019 Standard'
          const version = host.os === '2022' ? '10.0.20348' : '10.0.17763'
          return [new PsObject('Microsoft.Management.Infrastructure.CimInstance', [['Caption', caption], ['Version', version], ['CSName', host.computerName], ['BuildNumber', version.split('.')[2] ?? '']], true, 'Win32_OperatingSystem')]
        }
        if (cls === 'win32_logicaldisk') {
          const filter = str(args, 'Filter')
          if (filter !== undefined && filter.replace(/\s/g, '') !== 'DriveType=3') throw new SimulatorLimit(`the WQL filter "${filter}"`)
          const fsInfo = await statfs(host.fs.root)
          return [
            new PsObject(
              'Microsoft.Management.Infrastructure.CimInstance',
              [['DeviceID', 'C:'], ['DriveType', 3], ['FileSystem', 'NTFS'], ['VolumeName', ''], ['Size', fsInfo.blocks * fsInfo.bsize], ['FreeSpace', fsInfo.bavail * fsInfo.bsize]],
              true,
              'Win32_LogicalDisk: C:',
            ),
          ]
        }
        throw new SimulatorLimit(`the CIM class ${str(args, 'ClassName') ?? ''}`)
      },
    },
  ]
}
