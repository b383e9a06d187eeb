import { z } from 'zod'
import { AdapterError } from '../host-adapter'
import type { HyperVContext } from './context'
import { ps } from './powershell'
import { runJson } from './ps-runner'
import { arrayOf } from './schemas'
import { checkJobId } from './tags'
import { sftpPath } from './windows-file'
import { vmVariable } from './vm-details'

/**
 * A health check's temporary VM is named `lifeboat-check-<job>` and its disks live in a folder of the same name under
 * the host's virtual hard disk folder: both are found by that name after a crash, and the job lock says whether the
 * check still runs.
 */
const CHECK_NAME = /^lifeboat-check-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/

export function checkVmName(jobId: string): string {
  return `lifeboat-check-${checkJobId(jobId)}`
}

/** The job id in a check VM's or folder's name, or undefined for anything else. */
export function checkJobOf(name: string): string | undefined {
  return CHECK_NAME.exec(name)?.[1]
}

export async function vhdRoot(ctx: HyperVContext, signal: AbortSignal): Promise<string> {
  const root = await runJson(ctx.runner, ps`ConvertTo-Json -Compress -InputObject ((Hyper-V\\Get-VMHost).VirtualHardDiskPath)`, z.string().min(1).max(32_767), { signal, what: "Reading the host's virtual hard disk folder" })
  if (!/^[A-Za-z]:\\/.test(root)) throw new AdapterError('NOT_SUPPORTED', `The host's virtual hard disk folder "${root.slice(0, 200)}" is not on a local drive.`)
  return root.replace(/[\\/]+$/, '')
}

export function checkFolder(root: string, jobId: string): string {
  return `${root}\\${checkVmName(jobId)}`
}

/** Folders under the virtual hard disk folder that hold a health check's disks (job id → folder). */
export async function checkFolders(ctx: HyperVContext, root: string, signal: AbortSignal): Promise<Map<string, string>> {
  const sftp = await (await ctx.connection(signal)).sftp()
  const names = await new Promise<string[]>((resolve, reject) =>
    sftp.readdir(sftpPath(root), (err, list) => {
      if (err) reject(new AdapterError('COMMAND_FAILED', `Listing ${root} failed: ${err.message}`))
      else resolve(list.filter((e) => e.attrs.isDirectory()).map((e) => e.filename))
    }),
  )
  const out = new Map<string, string>()
  for (const name of names) {
    const job = checkJobOf(name)
    if (job !== undefined) out.set(job, `${root}\\${name}`)
  }
  return out
}

/**
 * Turns the temporary VM off (it is a throwaway copy), removes it, then its disk files that lie in the check's folder
 * (Remove-VM leaves the files; anything attached from elsewhere is not the check's and stays).
 */
export async function removeCheckVm(ctx: HyperVContext, vmId: string, folder: string, signal: AbortSignal): Promise<void> {
  let files: string[]
  try {
    files = await runJson(ctx.runner, ps`${vmVariable(vmId)}\nConvertTo-Json -Compress -InputObject @(Hyper-V\\Get-VMHardDiskDrive -VM $vm | Select-Object -ExpandProperty Path)`, arrayOf(z.string().max(32_767), 256), { signal, what: 'Reading the disks of the temporary VM' })
  } catch (err) {
    if (err instanceof AdapterError && err.code === 'NOT_FOUND') return
    throw err
  }
  const inside = files.filter((f) => f.toLowerCase().startsWith(`${folder.toLowerCase()}\\`))
  await ctx.runner(
    ps`${vmVariable(vmId)}
if ($vm.State -ne 'Off') { Hyper-V\\Stop-VM -VM $vm -TurnOff -Force }
Hyper-V\\Remove-VM -VM $vm -Force
foreach ($f in ${inside}) { if (Test-Path -LiteralPath $f) { Remove-Item -LiteralPath $f -Force } }`,
    { signal, what: 'Removing the temporary VM of the health check', timeoutMs: 600_000 },
  )
}

export async function removeCheckFolder(ctx: HyperVContext, folder: string, signal: AbortSignal): Promise<void> {
  await ctx.runner(ps`if (Test-Path -LiteralPath ${folder}) { Remove-Item -LiteralPath ${folder} -Recurse -Force }`, { signal, what: `Removing ${folder}`, timeoutMs: 600_000 })
}

/** The check VMs on the host (id, name, job id). */
export async function checkVms(ctx: HyperVContext, signal: AbortSignal): Promise<{ id: string; name: string; jobId: string }[]> {
  const vms = await runJson(ctx.runner, ps`ConvertTo-Json -Compress -InputObject @(Hyper-V\\Get-VM | Select-Object Id, Name)`, arrayOf(z.object({ Id: z.string().max(64), Name: z.string().max(1000) }), 10_000), { signal, what: 'Looking for temporary VMs of health checks' })
  return vms.flatMap((v) => {
    const jobId = checkJobOf(v.Name)
    return jobId === undefined ? [] : [{ id: v.Id.toLowerCase(), name: v.Name, jobId }]
  })
}
