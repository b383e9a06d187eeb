import { posix } from 'node:path'
import { z } from 'zod'
import { AdapterError, type RestoreRequest, type RestoreResult } from '../host-adapter'
import { sh } from '../ssh/shell-quote'
import { uploadDisk } from './disk-upload'
import type { ShellProvider } from './libvirt-backup'
import { manualVmId, manualVms } from './manual-vms'

const ConfigSchema = z.object({ kind: z.literal('manual'), name: z.string(), disks: z.array(z.object({ name: z.string(), path: z.string() })).max(64) })

/**
 * Restores a registered VM as a new one: each disk becomes a raw file in the chosen folder (sparse), and the copy
 * is registered (without start/stop commands: those belong to the admin's own setup for the new VM). In place is
 * refused: writing over a live LV or image of a hand-managed VM needs the admin's own tools.
 */
export async function restoreManualVm(getShell: ShellProvider, request: RestoreRequest, signal: AbortSignal): Promise<RestoreResult> {
  if (!ConfigSchema.safeParse(request.vmConfig).success) throw new AdapterError('NOT_SUPPORTED', 'This restore point does not describe a registered VM.')
  if (request.inPlace) throw new AdapterError('NOT_SUPPORTED', 'In-place restores of registered (non-libvirt) VMs are not offered; restore as a new VM and swap the volumes with your own tools.')
  if (request.storageDir === undefined) throw new AdapterError('BAD_RESPONSE', 'Choose a folder on the host for the restored disks (--storage DIR).')
  const shell = await getShell(signal)
  const safe = request.name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)
  const written: string[] = []
  const disks: { name: string; path: string; format: string }[] = []
  const total = request.disks.reduce((s, d) => s + d.size, 0)
  let before = 0
  try {
    for (const d of request.disks) {
      const path = posix.join(request.storageDir, `${safe}-${d.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.raw`)
      if ((await shell.exec(sh`test -e ${path}`, { signal })).code === 0) throw new AdapterError('COMMAND_FAILED', `${path} already exists; Lifeboat never overwrites it.`, { path })
      written.push(path)
      request.phase('writing disk', `${d.name} → ${path}`)
      const base = before
      await uploadDisk(shell, d.source, path, { fresh: true, signal, progress: (done) => request.progress(base + done, total, d.name) })
      before += d.size
      disks.push({ name: d.name, path, format: 'raw' })
    }
    await manualVms(getShell).register({ name: request.name, disks: disks.map((d) => ({ name: d.name, path: d.path })) }, signal)
    return { vmId: manualVmId(request.name), name: request.name, disks, started: false, leftBehind: request.start ? ['A restored registered VM is not started by Lifeboat: it has no start command yet.'] : [] }
  } catch (err) {
    if (written.length > 0) await shell.exec(sh`rm -f -- ${written}`, { signal: AbortSignal.timeout(60_000) }).catch(() => undefined)
    throw err
  }
}
