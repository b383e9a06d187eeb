import { AdapterError, throwIfAborted, type BackupDisk, type BackupOptions, type BackupSession, type ModeSupport, type RemoteFile } from '../host-adapter'
import { cleanupSignal, withUndo, type UndoStack } from '../undo-stack'
import { backupDisks, domainRef, parseDomainXml } from './domain-model'
import { closeAll } from './file-readout'
import { holdJobLock } from './job-lock'
import { beginLive } from './libvirt-live-backup'
import { diskFromFile, hostReacher, prepare, vmConfig, type Prepared, type ShellProvider } from './libvirt-prepare'
import { ACTIVE_STATES, Virsh } from './virsh'
import { coldStop } from './cold'


export async function libvirtModes(getShell: ShellProvider, vmId: string, signal: AbortSignal): Promise<ModeSupport[]> {
  const p = await prepare(getShell, vmId, signal)
  const running = ACTIVE_STATES.includes(p.state)
  const agent = running && p.info.agentChannel ? await p.virsh.agentAnswers(p.dom, signal) : false
  const live = running ? {} : { available: false, reason: `${p.info.name} is not running; a cold backup reads it as it is.` }
  return [
    { mode: 'cold', available: true, downtime: running ? 'shutdown' : 'none', consistency: 'offline' },
    { mode: 'warm', available: running, downtime: 'pause', consistency: agent ? 'app' : 'crash', ...live },
    { mode: 'hot', available: running, downtime: 'none', consistency: agent ? 'app' : 'crash', ...live },
  ]
}

/**
 * Starts a backup of a libvirt domain. What happens on the host per mode (see ARCHITECTURE.md):
 * - cold: clean shutdown (agent, else ACPI) with a timeout and optional force-off → read the images → start again.
 * - warm: agent freeze (if it answers) → `virsh suspend` → [checkpoint] → disk-only snapshot → resume → read the
 *   frozen bases → finish: `blockcommit --active --pivot`.
 * - hot: agent freeze (if it answers; else crash-consistent, logged) → [checkpoint] → disk-only atomic snapshot →
 *   thaw → read the bases → finish: `blockcommit --active --pivot`.
 * - warm/hot with a usable previous checkpoint: the same pause/freeze around `backup-begin` (pull mode) instead of
 *   a snapshot; qcow2 disks are read through NBD, only the blocks their dirty bitmap marks.
 * Every step registers its undo on one stack right after it succeeded: a begin() that fails or is cancelled after
 * step N undoes steps N…1 before throwing; finish() undoes what is still registered, newest first.
 */
export async function beginLibvirtBackup(getShell: ShellProvider, vmId: string, options: BackupOptions, signal: AbortSignal): Promise<BackupSession> {
  throwIfAborted(signal, 'The backup')
  // A live backup that quiesces asks the guest agent anyway: ask while the domain is looked at (one round trip less).
  const agentEarly = options.mode !== 'cold' && options.quiesce ? getShell(signal).then((shell) => new Virsh(shell).agentAnswers(domainRef(vmId), signal)) : undefined
  agentEarly?.catch(() => undefined)
  const p = await prepare(getShell, vmId, signal)
  return await withUndo(signal, async (stack) => {
    const lock = await holdJobLock(p.shell, options.jobId, signal, getShell)
    stack.push('release the job lock', () => lock.release())
    if (options.mode === 'cold') return await beginCold(p, options, stack, signal)
    if (!ACTIVE_STATES.includes(p.state)) {
      throw new AdapterError('NOT_SUPPORTED', `${p.info.name} is ${p.state}, so there is nothing to ${options.mode === 'warm' ? 'suspend' : 'snapshot'}: use a cold backup.`, { state: p.state })
    }
    return await beginLive(p, options, stack, signal, agentEarly)
  })
}

async function beginCold(p: Prepared, options: BackupOptions, stack: UndoStack, signal: AbortSignal): Promise<BackupSession> {
  await coldStop(p.virsh, p.dom, p.info, p.state, options, signal, stack, hostReacher(p))
  const files: RemoteFile[] = []
  stack.push('close the disk images', () => closeAll(files))
  const inactive = parseDomainXml(p.inactiveXml).info
  const out: BackupDisk[] = []
  for (const d of backupDisks(inactive)) out.push(await diskFromFile(p, d, files, signal))
  return {
    consistency: 'offline',
    vmConfig: vmConfig(p),
    disks: out,
    ...(options.previous !== undefined ? { fullReason: 'A cold backup reads the whole disks (they are hashed, so unchanged data is not stored again).' } : {}),
    finish: async (finishSignal) => ({ leftBehind: await stack.unwind(cleanupSignal(finishSignal)) }),
  }
}
