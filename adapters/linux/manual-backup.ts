import { AdapterError, throwIfAborted, type BackupDisk, type BackupOptions, type BackupSession, type ModeSupport, type RemoteFile } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { btrfsSubvolumeOf, createBtrfsSnapshot, removeBtrfsSnapshot, type BtrfsSnapshot } from './btrfs'
import { closeAll, fileReadout, type ImageFormat } from './file-readout'
import { cleanupSignal, withUndo, type UndoHandle } from '../undo-stack'
import { holdJobLock } from './job-lock'
import type { ShellProvider } from './libvirt-prepare'
import { createLvSnapshot, lvsReport, removeLvSnapshot, watchedLv, type LvInfo, type LvSnapshot } from './lvm'
import type { ManualVm } from './manual-vms'
import { sleep } from './virsh'

type DiskKind = { readonly kind: 'lv'; readonly lv: LvInfo } | { readonly kind: 'btrfs'; readonly subvolume: string } | { readonly kind: 'file' }

/** What each disk of a registered VM is on the host: an LVM logical volume, a file on btrfs, or a plain file. */
async function classify(shell: RootShell, vm: ManualVm, signal: AbortSignal): Promise<DiskKind[]> {
  const hasLvm = (await shell.exec(sh`command -v lvs`, { signal })).code === 0
  const lvs = hasLvm ? await lvsReport(shell, ['lv_name', 'vg_name', 'lv_path', 'lv_size', 'lv_attr'], undefined, signal) : []
  const real = async (paths: readonly string[]) =>
    paths.length === 0 ? [] : (await shell.run(sh`for p in ${paths}; do readlink -f -- "$p" || echo; done`, { signal, maxOutputBytes: 4 * 1024 * 1024 })).split('\n')
  const lvPaths = lvs.map((l) => l.lv_path ?? `/dev/${l.vg_name}/${l.lv_name}`)
  const lvReal = await real(lvPaths)
  const diskReal = await real(vm.disks.map((d) => d.path))
  const out: DiskKind[] = []
  for (const [i, d] of vm.disks.entries()) {
    const r = diskReal[i] ?? ''
    const lvIndex = lvs.findIndex((_, j) => r !== '' && (lvReal[j] === r || lvPaths[j] === d.path))
    const lv = lvs[lvIndex]
    if (lv !== undefined) {
      out.push({ kind: 'lv', lv })
      continue
    }
    const subvolume = await btrfsSubvolumeOf(shell, d.path, signal)
    out.push(subvolume !== undefined ? { kind: 'btrfs', subvolume } : { kind: 'file' })
  }
  return out
}

async function isRunning(shell: RootShell, vm: ManualVm, signal: AbortSignal): Promise<boolean | undefined> {
  if (vm.commands?.status === undefined) return undefined
  return (await shell.exec(sh`sh -c ${vm.commands.status}`, { signal, timeoutMs: 120_000 })).code === 0
}

export async function manualModes(getShell: ShellProvider, vm: ManualVm, signal: AbortSignal): Promise<ModeSupport[]> {
  const shell = await getShell(signal)
  const kinds = await classify(shell, vm, signal)
  const snapshots = kinds.every((k) => k.kind !== 'file')
  const noSnap = `${vm.name} has disks that are plain files (not LVM volumes, not on btrfs): there is nothing to snapshot them with.`
  return [
    vm.commands?.stop !== undefined ? { mode: 'cold', available: true, downtime: 'shutdown', consistency: 'offline' } : { mode: 'cold', available: false, reason: `Register a stop command for ${vm.name} to allow cold backups.`, downtime: 'shutdown', consistency: 'offline' },
    !snapshots ? { mode: 'warm', available: false, reason: noSnap, downtime: 'pause', consistency: 'crash' } : vm.commands?.suspend === undefined || vm.commands.resume === undefined ? { mode: 'warm', available: false, reason: `Register suspend and resume commands for ${vm.name} to allow warm backups.`, downtime: 'pause', consistency: 'crash' } : { mode: 'warm', available: true, downtime: 'pause', consistency: 'crash' },
    snapshots ? { mode: 'hot', available: true, downtime: 'none', consistency: 'crash' } : { mode: 'hot', available: false, reason: noSnap, downtime: 'none', consistency: 'crash' },
  ]
}

async function detectFormat(file: RemoteFile, signal: AbortSignal): Promise<ImageFormat> {
  if (file.size < 8) return 'raw'
  const head = await file.readRange(0, 8, signal)
  if (head.readUInt32BE(0) === 0x514649fb) return 'qcow2'
  if (head.toString('latin1') === 'vhdxfile') return 'vhdx'
  return 'raw'
}

/**
 * Backs up a registered VM. cold: stop command → read the volumes/files → start command. warm: suspend command →
 * `lvcreate -s` / `btrfs subvolume snapshot -r` → resume command → read the snapshots. hot: the snapshots without
 * pausing (crash-consistent). LVM snapshots are watched while read. Each step registers its undo right after it
 * succeeded (start again, resume, remove the snapshot); a failed or cancelled begin() undoes them before throwing,
 * finish() undoes the rest.
 */
export async function beginManualBackup(getShell: ShellProvider, vm: ManualVm, options: BackupOptions, signal: AbortSignal): Promise<BackupSession> {
  throwIfAborted(signal, 'The backup')
  const shell = await getShell(signal)
  const modes = await manualModes(getShell, vm, signal)
  const mode = modes.find((m) => m.mode === options.mode)
  if (mode?.available !== true) throw new AdapterError('NOT_SUPPORTED', mode?.reason ?? 'That mode is not available.')
  const kinds = await classify(shell, vm, signal)
  const hook = async (command: string | undefined, what: string, s: AbortSignal, on: RootShell = shell) => {
    if (command === undefined) return
    options.phase(what, vm.name)
    await on.run(sh`sh -c ${command}`, { signal: s, timeoutMs: Math.max(options.shutdownTimeoutMs, 60_000), what: `The ${what} command of ${vm.name}` })
  }
  // One reconnect per unwind, shared by its steps: an unreachable host costs one attempt, not one per step.
  let reached: { signal: AbortSignal; shell: Promise<RootShell | undefined> } | undefined
  const onHost = async (s: AbortSignal, what: string, undo: (fresh: RootShell) => Promise<string | undefined>): Promise<string | undefined> => {
    if (reached?.signal !== s) reached = { signal: s, shell: getShell(s).catch(() => undefined) }
    const fresh = await reached.shell
    if (fresh === undefined) return `The host could not be reached to clean up after the backup of ${vm.name}: ${what}. Lifeboat finds its snapshots the next time it connects.`
    return await undo(fresh)
  }
  const failed = (what: string) => (e: unknown) => `${what}: ${e instanceof Error ? e.message : String(e)}`
  return await withUndo(signal, async (stack) => {
    const lock = await holdJobLock(shell, options.jobId, signal, getShell)
    stack.push('release the job lock', () => lock.release())
    const paths = vm.disks.map((d) => d.path)
    const lvSnaps: LvSnapshot[] = []
    if (options.mode === 'cold') {
      const running = await isRunning(shell, vm, signal)
      if (running !== false) {
        await hook(vm.commands?.stop, 'stop', signal)
        stack.push(`start ${vm.name} again`, (s) =>
          onHost(s, `${vm.name} was stopped and is not started again`, (fresh) =>
            hook(vm.commands?.start, 'start', s, fresh).then(() => undefined, failed(`${vm.name} was stopped for the backup and could not be started again`)),
          ),
        )
        if (vm.commands?.status !== undefined) {
          const deadline = Date.now() + options.shutdownTimeoutMs
          while ((await isRunning(shell, vm, signal)) === true) {
            if (Date.now() > deadline) throw new AdapterError('CONNECTION_TIMEOUT', `${vm.name} still runs ${Math.round(options.shutdownTimeoutMs / 1000)} s after its stop command.`)
            await sleep(1000, signal)
          }
        }
      }
    } else {
      let resume: UndoHandle | undefined
      if (options.mode === 'warm') {
        await hook(vm.commands?.suspend, 'suspend', signal)
        resume = stack.push(`resume ${vm.name}`, (s) =>
          onHost(s, `${vm.name} may still be suspended`, (fresh) => hook(vm.commands?.resume, 'resume', s, fresh).then(() => undefined, failed(`${vm.name} could not be resumed`))),
        )
      }
      options.phase('creating snapshot')
      const seen = new Map<string, BtrfsSnapshot>()
      for (const [i, k] of kinds.entries()) {
        const path = vm.disks[i]?.path ?? ''
        if (k.kind === 'lv') {
          const snap = await createLvSnapshot(shell, k.lv, options.jobId, options.changeBudget, signal)
          stack.push(`remove the LVM snapshot ${snap.name}`, (s) => onHost(s, `the LVM snapshot ${snap.name} remains`, (fresh) => removeLvSnapshot(fresh, snap, s)))
          lvSnaps.push(snap)
          paths[i] = snap.path
        } else if (k.kind === 'btrfs') {
          // One snapshot per subvolume: every file in it is captured at the same instant.
          let snap = seen.get(k.subvolume)
          if (snap === undefined) {
            const made = await createBtrfsSnapshot(shell, k.subvolume, path, options.jobId, signal)
            stack.push(`delete the btrfs snapshot ${made.path}`, (s) => onHost(s, `the btrfs snapshot ${made.path} remains`, (fresh) => removeBtrfsSnapshot(fresh, made, s)))
            seen.set(k.subvolume, made)
            snap = made
          }
          paths[i] = `${snap.path}/${path.slice(k.subvolume.length + 1)}`
        }
      }
      if (resume !== undefined) {
        await hook(vm.commands?.resume, 'resume', signal)
        resume.done()
      }
    }
    const files: RemoteFile[] = []
    stack.push('close the disk images', () => closeAll(files))
    const disks: BackupDisk[] = []
    for (const [i, d] of vm.disks.entries()) {
      const readout = await fileReadout(shell, paths[i] ?? d.path, 'raw', [], files, signal)
      if (readout.kind !== 'file') continue
      const format = await detectFormat(readout.file, signal)
      const snap = kinds[i]?.kind === 'lv' ? lvSnaps.find((s) => paths[i] === s.path) : undefined
      const file = snap !== undefined ? watchedLv(shell, readout.file, snap, (m) => options.log('warn', m)) : readout.file
      disks.push({ id: d.name, name: d.name, sizeBytes: file.size, readout: { ...readout, file, format }, meta: { source: d.path, kind: kinds[i]?.kind ?? 'file', format } })
    }
    return {
      consistency: options.mode === 'cold' ? 'offline' : 'crash',
      vmConfig: { kind: 'manual', name: vm.name, disks: vm.disks.map((d) => ({ name: d.name, path: d.path })), commands: { ...(vm.commands ?? {}) } },
      disks,
      ...(options.previous !== undefined ? { fullReason: 'Volumes and files are read whole; unchanged 4 MiB blocks are recognised by their hash and not stored again.' } : {}),
      finish: async (s) => ({ leftBehind: await stack.unwind(cleanupSignal(s)) }),
    }
  })
}
