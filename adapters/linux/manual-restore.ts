import { posix } from 'node:path'
import { z } from 'zod'
import { AdapterError, type RestoreRequest, type RestoreResult } from '../host-adapter'
import { sh } from '../ssh/shell-quote'
import { withUndo } from '../undo-stack'
import { uploadDisk } from './disk-upload'
import { checkDiskName, checkHostDir } from './host-names'
import type { ShellProvider } from './libvirt-prepare'
import { manualVmId, manualVms } from './manual-vms'

const ConfigSchema = z.object({ kind: z.literal('manual'), name: z.string(), disks: z.array(z.object({ name: z.string(), path: z.string() })).max(64) })

/**
 * Restores a registered VM as a new one: each disk becomes a raw file in the chosen folder (sparse), and the copy
 * is registered (without start/stop commands: those belong to the admin's own setup for the new VM). In place is
 * refused: writing over a live LV or image of a hand-managed VM needs the admin's own tools. Disk names from the
 * restore point must be plain names (they become file names); a failed restore removes the files it made.
 */
export async function restoreManualVm(getShell: ShellProvider, request: RestoreRequest, signal: AbortSignal): Promise<RestoreResult> {
  if (!ConfigSchema.safeParse(request.vmConfig).success) throw new AdapterError('NOT_SUPPORTED', 'This restore point does not describe a registered VM.')
  if (request.inPlace) throw new AdapterError('NOT_SUPPORTED', 'In-place restores of registered (non-libvirt) VMs are not offered; restore as a new VM and swap the volumes with your own tools.')
  if (request.storageDir === undefined) throw new AdapterError('BAD_RESPONSE', 'Choose a folder on the host for the restored disks (--storage DIR).')
  const storageDir = checkHostDir(request.storageDir, 'The folder for the restored disks')
  for (const d of request.disks) checkDiskName(d.name)
  const shell = await getShell(signal)
  const safe = request.name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.-]/, '_').slice(0, 80)
  const disks: { name: string; path: string; format: string }[] = []
  const total = request.disks.reduce((s, d) => s + d.size, 0)
  let before = 0
  return await withUndo(signal, async (stack) => {
    for (const d of request.disks) {
      const path = posix.join(storageDir, `${safe}-${d.name}.raw`)
      // Made exclusively, then registered for removal: a failed restore removes its own files and nothing else.
      const made = await shell.exec(sh`sh -c ${'set -C; : > "$1"'} lifeboat-create ${path}`, { signal, timeoutMs: 30_000 })
      if (made.code !== 0) throw new AdapterError('COMMAND_FAILED', `${path} could not be created (${made.stderr.trim().slice(0, 200) || 'it already exists'}); Lifeboat never overwrites it.`, { path })
      stack.push(`remove ${path}`, async (s) => {
        const r = await shell.exec(sh`rm -f -- ${path}`, { signal: s, timeoutMs: 60_000 })
        return r.code === 0 ? undefined : `${path} could not be removed (${r.stderr.trim().slice(0, 200)}); delete it by hand.`
      })
      request.phase('writing disk', `${d.name} → ${path}`)
      const base = before
      await uploadDisk(shell, d.source, path, { fresh: true, signal, progress: (done) => request.progress(base + done, total, d.name) })
      before += d.size
      disks.push({ name: d.name, path, format: 'raw' })
    }
    await manualVms(getShell).register({ name: request.name, disks: disks.map((d) => ({ name: d.name, path: d.path })) }, signal)
    return { vmId: manualVmId(request.name), name: request.name, disks, started: false, leftBehind: request.start ? ['A restored registered VM is not started by Lifeboat: it has no start command yet.'] : [] }
  })
}
