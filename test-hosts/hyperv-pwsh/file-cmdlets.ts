/**
 * The bridge's own file cmdlets for modules/WindowsPaths and lib/WindowsPaths.cs, beside the model's (configCmdlets'
 * Test-Path, Remove-Item, Rename-Item; Get-Acl, Set-Acl), which serve the rest unchanged.
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { flag, str, type CmdletDef } from '../hyperv-sim/hyperv/cmdlet-def'
import { PsError, PsObject, SimulatorLimit } from '../hyperv-sim/hyperv/values'
import type { HyperVHost } from '../hyperv-sim/hyperv/host'

/** A drive path → the model's local file for it (WinFs: case-insensitive, no `..`, known drives only). */
export function resolvePathCmdlet(host: HyperVHost): CmdletDef {
  return {
    name: 'Resolve-HvSimPath',
    errorClass: 'LifeboatTestHost.WindowsPaths',
    params: { Path: { type: 'string' } },
    run: (_ctx, args) => [host.fs.toLocal(str(args, 'Path') ?? '')],
  }
}

/**
 * New-Item -ItemType Directory. The model's own refuses wildcard characters in -Path because the ssh2 simulator's
 * PowerShell subset does not expand them; real PowerShell takes New-Item's -Path literally (pwsh 7.6 makes `a[1]` as
 * such), and a restore names its folder after the VM, brackets included.
 */
export function newDirectoryCmdlet(host: HyperVHost): CmdletDef {
  return {
    name: 'New-Item',
    errorClass: 'Microsoft.PowerShell.Commands.NewItemCommand',
    params: { Path: { type: 'string', position: 0 }, ItemType: { type: 'string' }, Force: { type: 'switch' } },
    async run(_ctx, args) {
      if ((str(args, 'ItemType') ?? '').toLowerCase() !== 'directory') throw new SimulatorLimit('New-Item of anything but a directory')
      const path = str(args, 'Path') ?? ''
      const local = host.fs.toLocal(path)
      if (existsSync(local) && !flag(args, 'Force')) throw new PsError({ message: `An item with the specified name ${path} already exists.`, fqid: 'DirectoryExist,Microsoft.PowerShell.Commands.NewItemCommand', category: 'ResourceExists', exceptionType: 'System.IO.IOException', targetName: path })
      await mkdir(local, { recursive: true })
      const win = host.fs.toWin(local)
      return [new PsObject('System.IO.DirectoryInfo', [['FullName', win], ['Name', win.split('\\').pop() ?? '']], true, win)]
    },
  }
}
