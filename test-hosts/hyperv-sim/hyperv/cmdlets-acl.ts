/**
 * Microsoft.PowerShell.Security's Get-Acl and Set-Acl for files, by -LiteralPath (the adapter never lets a path be
 * read as a wildcard pattern). Get-Acl gives a FileSecurity object (Path, Owner, Group, Sddl); Set-Acl takes one as
 * -AclObject or from the pipeline and gives the file the same descriptor.
 */
import { existsSync, statSync } from 'node:fs'
import { flag, type Bound, type CmdletDef } from './cmdlet-def'
import { PsError, PsObject, SimulatorLimit, asArray, psToString, type PsValue } from './values'
import type { HyperVHost } from './host'

const SECURITY = 'Microsoft.PowerShell.Commands'
const FILE_SECURITY = 'System.Security.AccessControl.FileSecurity'
const NAMES: Readonly<Record<string, string>> = { BA: 'BUILTIN\\Administrators', SY: 'NT AUTHORITY\\SYSTEM' }

function pathsOf(args: Bound, cmdlet: string): string[] {
  if (args.has('Path')) throw new SimulatorLimit(`${cmdlet} -Path (it expands wildcards; use -LiteralPath)`)
  if (!args.has('LiteralPath')) throw new SimulatorLimit(`${cmdlet} without -LiteralPath`)
  return asArray(args.get('LiteralPath') ?? null).map(psToString)
}

function pathNotFound(cmdlet: 'Get-Acl' | 'Set-Acl', p: string): PsError {
  const id = cmdlet.replace('-', '')
  return new PsError({ message: `Cannot find path '${p}' because it does not exist.`, fqid: `${id}_PathNotFound_Exception,${SECURITY}.${id}Command`, category: 'ObjectNotFound', exceptionType: 'System.Management.Automation.ItemNotFoundException', targetName: p })
}

export function aclCmdlets(host: HyperVHost): CmdletDef[] {
  const file = (cmdlet: 'Get-Acl' | 'Set-Acl', p: string): string => {
    let local: string
    try {
      local = host.fs.toLocal(p)
    } catch {
      throw pathNotFound(cmdlet, p)
    }
    if (!existsSync(local)) throw pathNotFound(cmdlet, p)
    if (statSync(local).isDirectory()) throw new SimulatorLimit(`${cmdlet} of a directory`)
    return host.fs.toWin(local)
  }
  return [
    {
      name: 'Get-Acl',
      errorClass: `${SECURITY}.GetAclCommand`,
      params: { Path: { type: 'string[]', position: 0 }, LiteralPath: { type: 'string[]', aliases: ['PSPath', 'LP'] }, Audit: { type: 'switch' } },
      run(_ctx, args) {
        if (flag(args, 'Audit')) throw new SimulatorLimit('Get-Acl -Audit (SACLs are not modelled)')
        return pathsOf(args, 'Get-Acl').map((p) => {
          const win = file('Get-Acl', p)
          const sddl = host.acls.sddl(win)
          const owner = /O:([A-Z]{2}|S-[0-9-]+)/.exec(sddl)?.[1] ?? ''
          const group = /G:([A-Z]{2}|S-[0-9-]+)/.exec(sddl)?.[1] ?? ''
          return new PsObject(FILE_SECURITY, [['Path', `Microsoft.PowerShell.Core\\FileSystem::${win}`], ['Owner', NAMES[owner] ?? owner], ['Group', NAMES[group] ?? group], ['Sddl', sddl]], true, FILE_SECURITY)
        })
      },
    },
    {
      name: 'Set-Acl',
      errorClass: `${SECURITY}.SetAclCommand`,
      params: { Path: { type: 'string[]', position: 0 }, LiteralPath: { type: 'string[]', aliases: ['PSPath', 'LP'] }, AclObject: { type: 'object', position: 1 }, Passthru: { type: 'switch' } },
      run(_ctx, args, input) {
        if (flag(args, 'Passthru')) throw new SimulatorLimit('Set-Acl -Passthru')
        const given: PsValue[] = args.has('AclObject') ? [args.get('AclObject') ?? null] : (input ?? [])
        if (given.length !== 1) throw new SimulatorLimit(`Set-Acl with ${given.length} security descriptors`)
        const acl = given[0]
        if (!(acl instanceof PsObject) || acl.typeName !== FILE_SECURITY) {
          throw new PsError({ message: 'The input object cannot be bound to any parameters for the command either because the command does not take pipeline input or the input and its properties do not match any of the parameters that take pipeline input.', fqid: `InputObjectNotBound,${SECURITY}.SetAclCommand`, category: 'InvalidArgument', exceptionType: 'System.Management.Automation.ParameterBindingException', activity: 'Set-Acl' })
        }
        const sddl = psToString(acl.get('Sddl'))
        // The inherited entries come from the target's own folder; every folder here passes on the same ones.
        for (const p of pathsOf(args, 'Set-Acl')) host.acls.set(file('Set-Acl', p), sddl)
        return []
      },
    },
  ]
}
