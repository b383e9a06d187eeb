import {
  AdapterError,
  throwIfAborted,
  type BackupDisk,
  type BackupOptions,
  type BackupSession,
  type Consistency,
  type ModeSupport,
  type RemoteFile,
} from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { snapshotNames } from './libvirt-snapshots'
import { bitmapCapable, checkpointXml, deleteCheckpoint, isLifeboatCheckpoint, listCheckpoints, makeToken, parseToken } from './checkpoints'
import { backupDisks, domainRef, parseDomainXml, type DomainDisk, type DomainInfo } from './domain-model'
import { closeAll, diskMeta, fileReadout } from './file-readout'
import { holdJobLock, jobTag, type JobLock } from './job-lock'
import { commitOverlays, createOverlays, overlayPath, type OverlayPlan } from './overlays'
import { beginPullBackup, endPullBackup, openPulledDisks, pullBackupXml, type PulledDisk } from './pull-backup'
import { ACTIVE_STATES, Virsh } from './virsh'
import { coldStop, restartIfWasRunning, type ColdState } from './cold'

/** A root shell on the host's current connection: reconnects after a drop, so cleanup can still run. */
export type ShellProvider = (signal: AbortSignal) => Promise<RootShell>

interface Prepared {
  readonly getShell: ShellProvider
  readonly shell: RootShell
  readonly virsh: Virsh
  readonly dom: string
  readonly inactiveXml: string
  readonly info: DomainInfo
  readonly state: string
  readonly disks: DomainDisk[]
}

async function prepare(getShell: ShellProvider, vmId: string, signal: AbortSignal): Promise<Prepared> {
  const shell = await getShell(signal)
  const dom = domainRef(vmId)
  const virsh = new Virsh(shell)
  // Three independent questions, asked at once over the one connection (each is a round trip of its own).
  const [state, inactiveXml, current] = await Promise.all([virsh.domstate(dom, signal), virsh.run(['dumpxml', '--inactive', dom], { signal }), virsh.run(['dumpxml', dom], { signal })])
  const live = ACTIVE_STATES.includes(state) ? current : inactiveXml
  const info = parseDomainXml(live).info
  return { getShell, shell, virsh, dom, inactiveXml, info, state, disks: backupDisks(info) }
}

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
 * If begin() fails, it undoes its own steps before throwing.
 */
export async function beginLibvirtBackup(getShell: ShellProvider, vmId: string, options: BackupOptions, signal: AbortSignal): Promise<BackupSession> {
  throwIfAborted(signal, 'The backup')
  // A live backup that quiesces asks the guest agent anyway: ask while the domain is looked at (one round trip less).
  const agentEarly = options.mode !== 'cold' && options.quiesce ? getShell(signal).then((shell) => new Virsh(shell).agentAnswers(domainRef(vmId), signal)) : undefined
  agentEarly?.catch(() => undefined)
  const p = await prepare(getShell, vmId, signal)
  const lock = await holdJobLock(p.shell, options.jobId, signal, getShell)
  try {
    if (options.mode === 'cold') return await beginCold(p, options, lock, signal)
    if (!ACTIVE_STATES.includes(p.state)) {
      throw new AdapterError('NOT_SUPPORTED', `${p.info.name} is ${p.state}, so there is nothing to ${options.mode === 'warm' ? 'suspend' : 'snapshot'}: use a cold backup.`, { state: p.state })
    }
    return await beginLive(p, options, lock, signal, agentEarly)
  } catch (err) {
    await lock.release()
    throw err
  }
}

async function beginCold(p: Prepared, options: BackupOptions, lock: JobLock, signal: AbortSignal): Promise<BackupSession> {
  const cold: ColdState = await coldStop(p.virsh, p.dom, p.info, p.state, options, signal)
  const files: RemoteFile[] = []
  try {
    const inactive = parseDomainXml(p.inactiveXml).info
    const disks = backupDisks(inactive)
    const out: BackupDisk[] = []
    for (const d of disks) out.push(await diskFromFile(p, d, files, signal))
    return {
      consistency: 'offline',
      vmConfig: vmConfig(p),
      disks: out,
      ...(options.previous !== undefined ? { fullReason: 'A cold backup reads the whole disks (they are hashed, so unchanged data is not stored again).' } : {}),
      async finish(finishSignal) {
        await closeAll(files)
        const virsh = await freshVirsh(p, finishSignal)
        const left = virsh === undefined ? [`${p.info.name} could not be started again: the host cannot be reached. Start it with: virsh start ${p.dom}`] : await restartIfWasRunning(virsh, p.dom, p.info.name, cold, options, finishSignal)
        await lock.release()
        return { leftBehind: left }
      },
    }
  } catch (err) {
    await closeAll(files)
    await restartIfWasRunning(p.virsh, p.dom, p.info.name, cold, options, signal.aborted ? AbortSignal.timeout(300_000) : signal)
    throw err
  }
}

async function diskFromFile(p: Prepared, d: DomainDisk, files: RemoteFile[], signal: AbortSignal, base?: string): Promise<BackupDisk> {
  const path = base ?? d.source ?? ''
  const readout = await fileReadout(p.shell, path, d.format, d.backing.map((b) => b.path), files, signal)
  const size = readout.kind === 'file' && readout.format === 'raw' ? readout.file.size : 0
  return { id: d.target, name: d.target, sizeBytes: size, readout, meta: diskMeta(d) }
}

/** A virsh on the current connection (reconnecting if it dropped), or undefined when the host cannot be reached. */
async function freshVirsh(p: Prepared, signal: AbortSignal): Promise<Virsh | undefined> {
  try {
    const shell = await p.getShell(signal)
    return shell === p.shell ? p.virsh : new Virsh(shell)
  } catch {
    return undefined
  }
}

function unreachable(name: string, dom: string, overlays: readonly string[], pull: boolean): string {
  const what = [
    ...(overlays.length > 0 ? [`the disks still run on the overlays ${overlays.join(', ')} (merge with virsh blockcommit ${dom} DISK --active --pivot --wait)`] : []),
    ...(pull ? [`a backup job may still run (end it with virsh domjobabort ${dom})`] : []),
  ]
  return `The host could not be reached to clean up after the backup of ${name}${what.length > 0 ? `: ${what.join('; ')}` : ''}. Lifeboat finds and cleans this the next time it connects.`
}

function vmConfig(p: Prepared): BackupSession['vmConfig'] {
  return { kind: 'libvirt', name: p.info.name, uuid: p.info.uuid, xml: p.inactiveXml }
}

async function beginLive(p: Prepared, options: BackupOptions, lock: JobLock, signal: AbortSignal, agentAsked?: Promise<boolean>): Promise<BackupSession> {
  const { dom, info } = p
  let virsh = p.virsh
  const tag = jobTag(options.jobId)
  const writable = p.disks.filter((d) => !d.readonly)
  let tracked = options.incremental === false ? [] : writable.filter(bitmapCapable)
  if (tracked.length > 0) {
    // qemu refuses to load an internal snapshot while the disks carry dirty bitmaps, so a checkpoint made now would
    // break "revert" of the admin's snapshot before patching. Until that snapshot is discarded, read whole disks.
    const snapshots = await snapshotNames(virsh, dom, signal)
    if (snapshots.length > 0) {
      options.log('warn', `${info.name} has snapshots (${snapshots.slice(0, 3).join(', ')}): no backup checkpoint this time, because libvirt cannot revert a snapshot of disks that carry one. Backups read whole disks until the snapshots are discarded.`)
      tracked = []
    }
  }
  const checkpoints = tracked.length > 0 ? await listCheckpoints(virsh, dom, signal) : undefined
  const useCheckpoints = checkpoints !== undefined && tracked.length > 0
  if (tracked.length > 0 && checkpoints === undefined) options.log('warn', 'This libvirt cannot make checkpoints, so every backup reads whole disks.')

  let fullReason: string | undefined
  let incrementalFrom: string | undefined
  const previous = parseToken(options.previous?.token)
  if (options.previous !== undefined && useCheckpoints) {
    if (previous === undefined) fullReason = 'The previous restore point has no checkpoint to continue from; reading whole disks.'
    else if (previous.domainUuid !== info.uuid) fullReason = 'The previous restore point came from another domain; reading whole disks.'
    else if (!checkpoints.includes(previous.checkpoint)) fullReason = `Checkpoint chain broken: checkpoint ${previous.checkpoint} no longer exists on the host; reading whole disks.`
    else if (tracked.some((d) => !previous.disks.includes(d.target))) fullReason = 'Checkpoint chain broken: the domain has disks the previous checkpoint did not track; reading whole disks.'
    else incrementalFrom = previous.checkpoint
  } else if (options.previous !== undefined && options.incremental === false) fullReason = 'Incremental reading was turned off for this backup.'

  const agent = options.quiesce && info.agentChannel && (await (agentAsked ?? virsh.agentAnswers(dom, signal)))
  if (options.quiesce && options.quiesceRequired === true && !agent) {
    throw new AdapterError(
      'NOT_SUPPORTED',
      `The guest agent of ${info.name} did not answer, and this backup must be application-consistent (quiesce required), so it did not start. Nothing was changed on the host. Start qemu-guest-agent in the guest, or allow a crash-consistent backup.`,
      { vm: info.name },
    )
  }
  if (options.quiesce && !agent) options.log('warn', `The guest agent of ${info.name} did not answer: this restore point is crash-consistent (as if the power had been cut).`)
  const cpName = tag
  const cpXml = checkpointXml(cpName, `Lifeboat backup job ${options.jobId}`, p.disks, tracked)
  const files: RemoteFile[] = []
  let frozen = false
  let quiesced = false
  let paused = false
  let plans: OverlayPlan[] = []
  let pulled: PulledDisk[] = []
  let pullStarted = false
  let checkpointMade = false

  const undo = async (s: AbortSignal, committed: boolean): Promise<string[]> => {
    const left: string[] = []
    await closeAll(files)
    for (const d of pulled) await d.guest.close().catch(() => undefined)
    const fresh = await freshVirsh(p, s)
    if (fresh === undefined) return [unreachable(info.name, dom, plans.map((x) => x.overlay), pullStarted)]
    virsh = fresh
    if (paused) {
      const r = await virsh.exec(['resume', dom], { signal: s })
      if (r.code !== 0) left.push(`${info.name} could not be resumed: ${r.stderr.trim().slice(0, 200)}. Resume it with: virsh resume ${dom}`)
      paused = false
    }
    if (frozen) {
      const r = await virsh.exec(['domfsthaw', dom], { signal: s })
      if (r.code !== 0) left.push(`The filesystems of ${info.name} may still be frozen: ${r.stderr.trim().slice(0, 200)}. Thaw them with: virsh domfsthaw ${dom}`)
      frozen = false
    }
    if (pullStarted) left.push(...(await endPullBackup(virsh, dom, options.jobId, s)))
    left.push(...(await commitOverlays(virsh, dom, info.name, plans, s)))
    if (checkpointMade) {
      if (committed) {
        // The new checkpoint is what the written restore point refers to; older Lifeboat ones only cost write speed.
        for (const old of (await listCheckpoints(virsh, dom, s)) ?? []) {
          if (old !== cpName && isLifeboatCheckpoint(old)) {
            const l = await deleteCheckpoint(virsh, dom, old, s)
            if (l !== undefined) left.push(l)
          }
        }
      } else {
        const l = await deleteCheckpoint(virsh, dom, cpName, s)
        if (l !== undefined) left.push(l)
      }
    }
    return left
  }

  try {
    if (agent) {
      options.phase('freezing', `guest filesystems of ${info.name}`)
      const r = await virsh.exec(['domfsfreeze', dom], { signal })
      if (r.code === 0) frozen = quiesced = true
      else if (options.quiesceRequired === true) {
        throw new AdapterError(
          'COMMAND_FAILED',
          `The guest agent could not freeze the filesystems of ${info.name} (${r.stderr.trim().replace(/\s+/g, ' ').slice(0, 300)}), and this backup must be application-consistent (quiesce required), so it stopped.`,
          { vm: info.name },
        )
      } else options.log('warn', `The guest agent could not freeze the filesystems (${r.stderr.trim().slice(0, 200)}): this restore point is crash-consistent.`)
    }
    if (options.mode === 'warm' && p.state !== 'paused') {
      options.phase('suspending', info.name)
      await virsh.run(['suspend', dom], { signal })
      paused = true
    }
    if (incrementalFrom !== undefined) {
      options.phase('starting backup job', `changes since ${incrementalFrom}`)
      const pulls = writable.map((d) => (tracked.includes(d) ? { disk: d, incrementalFrom } : { disk: d }))
      pullStarted = true
      await beginPullBackup(virsh, dom, options.jobId, pullBackupXml(options.jobId, p.disks, pulls), cpXml, signal)
      checkpointMade = true
    } else {
      if (useCheckpoints) {
        options.phase('creating checkpoint', cpName)
        await virsh.run(['checkpoint-create', dom, '/dev/stdin'], { signal, stdin: cpXml })
        checkpointMade = true
      }
      options.phase('creating snapshot', tag)
      plans = writable.map((d) => ({ disk: d, base: d.source ?? '', overlay: overlayPath(d, options.jobId) }))
      try {
        await createOverlays(virsh, dom, p.disks, plans, options.jobId, false, signal)
      } catch (err) {
        plans = []
        throw err
      }
    }
    // The guest goes on (resume, thaw) while the snapshot's bases are looked at: neither waits for the other.
    const released = (async () => {
      if (paused) {
        await virsh.run(['resume', dom], { signal })
        paused = false
      }
      if (frozen) {
        await virsh.run(['domfsthaw', dom], { signal })
        frozen = false
      }
    })()
    released.catch(() => undefined)
    const disks: BackupDisk[] = []
    try {
      if (!pullStarted) {
        // All settle before anything is undone, so no file opened late escapes the cleanup.
        const opened = await Promise.allSettled(plans.map((plan) => diskFromFile(p, plan.disk, files, signal, plan.base)))
        for (const r of opened) if (r.status === 'rejected') throw r.reason
        for (const r of opened) if (r.status === 'fulfilled') disks.push(r.value)
      }
    } finally {
      // Never on to undo (or on to reading) while a resume or thaw is still under way; its failure fails the backup.
      await released.catch(() => undefined)
    }
    await released
    if (pullStarted) {
      options.phase('connecting to the backup export')
      pulled = await openPulledDisks(virsh, p.shell, dom, options.jobId, writable.map((d) => (tracked.includes(d) ? { disk: d, incrementalFrom } : { disk: d })), signal)
      for (const d of pulled) {
        disks.push({ id: d.disk.target, name: d.disk.target, sizeBytes: d.guest.size, readout: { kind: 'guest', disk: d.guest, ...(d.changedRanges ? { changedRanges: d.changedRanges } : {}) }, meta: diskMeta(d.disk) })
        if (d.changedRanges !== undefined) options.log('info', `${d.disk.target}: ${d.changedRanges.reduce((s, r) => s + r.length, 0)} bytes changed since ${incrementalFrom ?? ''}.`)
      }
    }
    for (const d of p.disks.filter((x) => x.readonly)) disks.push(await diskFromFile(p, d, files, signal))
    const consistency: Consistency = quiesced ? 'app' : 'crash'
    return {
      consistency,
      vmConfig: vmConfig(p),
      disks,
      ...(checkpointMade ? { incrementalToken: makeToken(info.uuid, cpName, tracked.map((d) => d.target)) } : {}),
      ...(fullReason !== undefined ? { fullReason } : {}),
      async finish(finishSignal, outcome) {
        const left = await undo(finishSignal, outcome?.committed === true)
        await lock.release()
        return { leftBehind: left }
      },
    }
  } catch (err) {
    const left = await undo(signal.aborted ? AbortSignal.timeout(600_000) : signal, false).catch((e: unknown) => [String(e)])
    if (left.length > 0 && err instanceof Error) err.message += ` Left behind: ${left.join(' ')}`
    throw err
  }
}
