import { AdapterError, type BackupDisk, type BackupOptions, type BackupSession, type Consistency, type RemoteFile } from '../host-adapter'
import { cleanupSignal, type UndoHandle, type UndoStack } from '../undo-stack'
import { checkpointHealth, removeBrokenCheckpoint, removeOrphanedBitmaps, type CheckpointHealth } from './checkpoint-health'
import { bitmapCapable, checkpointXml, deleteCheckpoint, isLifeboatCheckpoint, listCheckpoints, makeToken, parseToken } from './checkpoints'
import { diskMeta, closeAll } from './file-readout'
import { jobTag } from './job-lock'
import { diskFromFile, hostReacher, unreachable, vmConfig, type Prepared } from './libvirt-prepare'
import { snapshotNames } from './libvirt-snapshots'
import { commitOverlays, createOverlays, overlayPath, type OverlayPlan } from './overlays'
import { beginPullBackup, endPullBackup, openPulledDisks, pullBackupXml } from './pull-backup'
import type { Virsh } from './virsh'

/** What a live backup reads: whole disks (overlay snapshot), or what changed since a checkpoint (pull backup job). */
interface Plan {
  readonly tracked: readonly Prepared['disks'][number][]
  readonly useCheckpoints: boolean
  readonly incrementalFrom?: string
  readonly fullReason?: string
}

async function plan(p: Prepared, options: BackupOptions, signal: AbortSignal): Promise<Plan> {
  const { dom, info, virsh } = p
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
  const previous = parseToken(options.previous?.token)
  const full = (fullReason: string): Plan => ({ tracked, useCheckpoints, fullReason })
  if (options.previous !== undefined && useCheckpoints) {
    if (previous === undefined) return full('The previous restore point has no checkpoint to continue from; reading whole disks.')
    if (previous.domainUuid !== info.uuid) return full('The previous restore point came from another domain; reading whole disks.')
    if (!checkpoints.includes(previous.checkpoint)) {
      // Its bitmaps may still be in the images (the domain was defined again, or only the metadata was deleted).
      const left = await removeOrphanedBitmaps(virsh, dom, previous.checkpoint, previous.disks, signal)
      if (left !== undefined) options.log('warn', left)
      return full(`Checkpoint chain broken: checkpoint ${previous.checkpoint} no longer exists on the host (the domain was defined again, migrated, or the checkpoint deleted); this backup reads whole disks, the next backup is incremental again.`)
    }
    if (tracked.some((d) => !previous.disks.includes(d.target))) return full('Checkpoint chain broken: the domain has disks the previous checkpoint did not track; reading whole disks.')
    const health = await checkpointHealth(virsh, dom, previous.checkpoint, tracked.map((d) => d.target), signal)
    if (health.state !== 'intact') {
      const left = await removeBrokenCheckpoint(virsh, dom, previous.checkpoint, signal)
      if (left !== undefined) options.log('warn', left)
      return full(trackingLost(info.name, health))
    }
    return { tracked, useCheckpoints, incrementalFrom: previous.checkpoint }
  }
  if (options.previous !== undefined && options.incremental === false) return full('Incremental reading was turned off for this backup.')
  return { tracked, useCheckpoints }
}

/** What the admin reads when QEMU lost a checkpoint's bitmaps: what happened, what this backup does, what comes next. */
function trackingLost(vm: string, health: Exclude<CheckpointHealth, { state: 'intact' }>): string {
  const since = health.state === 'broken' && health.createdAt !== undefined ? ` since the backup of ${health.createdAt.toISOString().replace('T', ' ').slice(0, 16)} UTC` : ''
  const disks = health.state === 'broken' ? ` (${health.disks.join(', ')})` : ''
  return `Change tracking of ${vm}${disks} was lost${since}: the VM was not shut down cleanly in between (a host crash, a killed QEMU or a power cut), so QEMU could not keep its dirty bitmaps. This backup reads the whole disks; the next backup is incremental again.`
}

/** A failed undo of a virsh command, in plain words with the command that finishes the job by hand. */
async function virshUndo(reach: (s: AbortSignal) => Promise<Virsh | undefined>, s: AbortSignal, args: string[], problem: string, by: string): Promise<string | undefined> {
  const virsh = await reach(s)
  if (virsh === undefined) return `${problem}: the host cannot be reached. ${by}`
  const r = await virsh.exec(args, { signal: s })
  return r.code === 0 ? undefined : `${problem}: ${r.stderr.trim().slice(0, 200)}. ${by}`
}

/**
 * The live (warm/hot) flow. Each host action registers its undo on `stack` right after it succeeded (the backup job
 * just before `backup-begin`: a command that timed out may have started it anyway). The guest's own release (resume,
 * thaw) marks its undo done; the checkpoint's undo is chosen at finish: kept (and older Lifeboat ones deleted) when
 * the restore point was committed, deleted otherwise.
 */
export async function beginLive(p: Prepared, options: BackupOptions, stack: UndoStack, signal: AbortSignal, agentAsked?: Promise<boolean>): Promise<BackupSession> {
  const { dom, info, virsh } = p
  const reach = hostReacher(p)
  const tag = jobTag(options.jobId)
  const writable = p.disks.filter((d) => !d.readonly)
  const { tracked, useCheckpoints, incrementalFrom, fullReason } = await plan(p, options, signal)

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

  let thaw: UndoHandle | undefined
  if (agent) {
    options.phase('freezing', `guest filesystems of ${info.name}`)
    const r = await virsh.exec(['domfsfreeze', dom], { signal })
    if (r.code === 0) {
      thaw = stack.push(`thaw the filesystems of ${info.name}`, (s) =>
        virshUndo(reach, s, ['domfsthaw', dom], `The filesystems of ${info.name} may still be frozen`, `Thaw them with: virsh domfsthaw ${dom}`),
      )
    } else if (options.quiesceRequired === true) {
      throw new AdapterError(
        'COMMAND_FAILED',
        `The guest agent could not freeze the filesystems of ${info.name} (${r.stderr.trim().replace(/\s+/g, ' ').slice(0, 300)}), and this backup must be application-consistent (quiesce required), so it stopped.`,
        { vm: info.name },
      )
    } else options.log('warn', `The guest agent could not freeze the filesystems (${r.stderr.trim().slice(0, 200)}): this restore point is crash-consistent.`)
  }
  let resume: UndoHandle | undefined
  if (options.mode === 'warm' && p.state !== 'paused') {
    options.phase('suspending', info.name)
    await virsh.run(['suspend', dom], { signal })
    resume = stack.push(`resume ${info.name}`, (s) => virshUndo(reach, s, ['resume', dom], `${info.name} could not be resumed`, `Resume it with: virsh resume ${dom}`))
  }

  const onHost = async (s: AbortSignal, what: string, undo: (v: Virsh) => Promise<string | string[] | undefined>) => {
    const fresh = await reach(s)
    return fresh === undefined ? unreachable(info.name, what) : await undo(fresh)
  }
  const dropCheckpoint = (s: AbortSignal) => onHost(s, `checkpoint ${cpName} of ${dom} may still exist (delete it with: virsh checkpoint-delete ${dom} ${cpName})`, (v) => deleteCheckpoint(v, dom, cpName, s))
  let checkpoint: UndoHandle | undefined
  let plans: OverlayPlan[] = []
  const pulls = writable.map((d) => (tracked.includes(d) && incrementalFrom !== undefined ? { disk: d, incrementalFrom } : { disk: d }))
  if (incrementalFrom !== undefined) {
    options.phase('starting backup job', `changes since ${incrementalFrom}`)
    // Registered first: backup-begin makes the job and the checkpoint together, and one that timed out or was
    // cancelled mid-command may have made them anyway. Both undos accept that there is nothing to undo.
    checkpoint = stack.push(`delete checkpoint ${cpName}`, dropCheckpoint)
    stack.push(`end the backup job on ${info.name}`, (s) => onHost(s, `a backup job may still run (end it with virsh domjobabort ${dom})`, (v) => endPullBackup(v, dom, options.jobId, s)))
    await beginPullBackup(virsh, dom, options.jobId, pullBackupXml(options.jobId, p.disks, pulls), cpXml, signal)
  } else {
    if (useCheckpoints) {
      options.phase('creating checkpoint', cpName)
      await virsh.run(['checkpoint-create', dom, '/dev/stdin'], { signal, stdin: cpXml })
      checkpoint = stack.push(`delete checkpoint ${cpName}`, dropCheckpoint)
    }
    options.phase('creating snapshot', tag)
    plans = writable.map((d) => ({ disk: d, base: d.source ?? '', overlay: overlayPath(d, options.jobId) }))
    await createOverlays(virsh, dom, p.disks, plans, options.jobId, false, signal)
    const overlays = plans
    stack.push(`merge the overlays of ${info.name}`, (s) =>
      onHost(s, `the disks still run on the overlays ${overlays.map((x) => x.overlay).join(', ')} (merge with virsh blockcommit ${dom} DISK --active --pivot --wait)`, (v) => commitOverlays(v, dom, info.name, overlays, s)),
    )
  }

  const files: RemoteFile[] = []
  stack.push('close the disk images', () => closeAll(files))
  // The guest goes on (resume, thaw) while the snapshot's bases are looked at: neither waits for the other.
  const released = (async () => {
    if (resume !== undefined) {
      await virsh.run(['resume', dom], { signal })
      resume.done()
    }
    if (thaw !== undefined) {
      await virsh.run(['domfsthaw', dom], { signal })
      thaw.done()
    }
  })()
  released.catch(() => undefined)
  const disks: BackupDisk[] = []
  try {
    // All settle before anything is undone, so no file opened late escapes the cleanup.
    const opened = await Promise.allSettled(plans.map((x) => diskFromFile(p, x.disk, files, signal, x.base)))
    for (const r of opened) if (r.status === 'rejected') throw r.reason
    for (const r of opened) if (r.status === 'fulfilled') disks.push(r.value)
  } finally {
    // Never on to undo (or on to reading) while a resume or thaw is still under way; its failure fails the backup.
    await released.catch(() => undefined)
  }
  await released
  if (incrementalFrom !== undefined) {
    options.phase('connecting to the backup export')
    const pulled = await openPulledDisks(virsh, p.shell, dom, options.jobId, pulls, signal)
    stack.push('close the backup exports', async () => {
      for (const d of pulled) await d.guest.close().catch(() => undefined)
    })
    for (const d of pulled) {
      disks.push({ id: d.disk.target, name: d.disk.target, sizeBytes: d.guest.size, readout: { kind: 'guest', disk: d.guest, ...(d.changedRanges ? { changedRanges: d.changedRanges } : {}) }, meta: diskMeta(d.disk) })
      if (d.changedRanges !== undefined) options.log('info', `${d.disk.target}: ${d.changedRanges.reduce((s, r) => s + r.length, 0)} bytes changed since ${incrementalFrom}.`)
    }
  }
  for (const d of p.disks.filter((x) => x.readonly)) disks.push(await diskFromFile(p, d, files, signal))
  const consistency: Consistency = thaw !== undefined ? 'app' : 'crash'
  const made = checkpoint
  return {
    consistency,
    vmConfig: vmConfig(p),
    disks,
    ...(made !== undefined ? { incrementalToken: makeToken(info.uuid, cpName, tracked.map((d) => d.target)) } : {}),
    ...(fullReason !== undefined ? { fullReason } : {}),
    async finish(finishSignal, outcome) {
      // The new checkpoint is what a written restore point refers to: keep it; older Lifeboat ones only cost write speed.
      if (outcome?.committed === true) made?.replace((s) => onHost(s, `older Lifeboat checkpoints of ${dom} may remain`, (v) => dropOlderCheckpoints(v, dom, cpName, s)))
      return { leftBehind: await stack.unwind(cleanupSignal(finishSignal)) }
    },
  }
}

async function dropOlderCheckpoints(virsh: Virsh, dom: string, keep: string, signal: AbortSignal): Promise<string[]> {
  const left: string[] = []
  for (const old of (await listCheckpoints(virsh, dom, signal)) ?? []) {
    if (old === keep || !isLifeboatCheckpoint(old)) continue
    const l = await deleteCheckpoint(virsh, dom, old, signal)
    if (l !== undefined) left.push(l)
  }
  return left
}
