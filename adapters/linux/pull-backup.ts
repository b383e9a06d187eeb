import type { Duplex } from 'node:stream'
import { AdapterError, type BlockSource } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import type { DomainDisk } from './domain-model'
import { jobTag, LOCK_DIR } from './job-lock'
import { NbdClient } from './nbd/nbd-client'
import { BASE_ALLOCATION, flaggedRanges, nbdBlockSource } from './nbd/nbd-guest-disk'
import type { Virsh } from './virsh'
import { sleep } from './virsh'
import { escapeXml, findAll, parseXml } from './xml'

export interface PullDisk {
  readonly disk: DomainDisk
  /** Read only what changed since this checkpoint; undefined = the whole disk. */
  readonly incrementalFrom?: string
}

export interface PulledDisk {
  readonly disk: DomainDisk
  readonly guest: BlockSource
  readonly changedRanges?: readonly { readonly offset: number; readonly length: number }[]
}

export function socketPath(jobId: string): string {
  return `${LOCK_DIR}/${jobTag(jobId)}.sock`
}

function scratchPath(jobId: string, target: string): string {
  return `${LOCK_DIR}/${jobTag(jobId)}-${target}.scratch`
}

export function pullBackupXml(jobId: string, all: readonly DomainDisk[], pulls: readonly PullDisk[]): string {
  const byTarget = new Map(pulls.map((p) => [p.disk.target, p]))
  const disks = all
    .filter((d) => d.device === 'disk' || d.device === 'lun')
    .map((d) => {
      const p = byTarget.get(d.target)
      if (p === undefined) return `<disk name='${escapeXml(d.target)}' backup='no'/>`
      const mode = p.incrementalFrom === undefined ? `backupmode='full'` : `backupmode='incremental' incremental='${escapeXml(p.incrementalFrom)}'`
      return `<disk name='${escapeXml(d.target)}' backup='yes' type='file' ${mode}><scratch file='${escapeXml(scratchPath(jobId, d.target))}'/></disk>`
    })
  return `<domainbackup mode='pull'><server transport='unix' socket='${escapeXml(socketPath(jobId))}'/><disks>${disks.join('')}</disks></domainbackup>`
}

/**
 * Starts a libvirt pull-mode backup job (`backup-begin`): QEMU serves each disk's state at this instant over NBD on
 * a unix socket, and a new checkpoint starts tracking changes from the same instant. The XML files go to a private
 * temp folder that is removed right after.
 */
export async function beginPullBackup(virsh: Virsh, dom: string, jobId: string, backupXml: string, checkpointXml: string, signal?: AbortSignal): Promise<void> {
  const script = 'umask 077; d=$(mktemp -d "/var/tmp/$1.XXXXXX") || exit 1; printf %s "$2" > "$d/backup.xml"; printf %s "$3" > "$d/checkpoint.xml"; LC_ALL=C virsh -q -c qemu:///system backup-begin "$4" "$d/backup.xml" "$d/checkpoint.xml"; r=$?; rm -rf "$d"; exit $r'
  await virsh.shell.run(sh`sh -c ${script} lifeboat-backup ${jobTag(jobId)} ${backupXml} ${checkpointXml} ${dom}`, { ...(signal ? { signal } : {}), timeoutMs: 300_000, what: 'virsh backup-begin' })
}

/** Connects to each exported disk and, for incremental ones, asks which blocks the dirty bitmap marks. */
export async function openPulledDisks(virsh: Virsh, shell: RootShell, dom: string, jobId: string, pulls: readonly PullDisk[], signal?: AbortSignal): Promise<PulledDisk[]> {
  const xml = await virsh.run(['backup-dumpxml', dom], signal ? { signal } : {})
  const exports = new Map<string, { name: string; bitmap?: string }>()
  for (const d of findAll(parseXml(xml), 'disks/disk')) {
    const name = d.attrs.name
    if (name === undefined || d.attrs.backup === 'no') continue
    exports.set(name, { name: d.attrs.exportname ?? name, ...(d.attrs.exportbitmap !== undefined ? { bitmap: d.attrs.exportbitmap } : {}) })
  }
  const opened: PulledDisk[] = []
  try {
    for (const p of pulls) {
      const exp = exports.get(p.disk.target)
      if (exp === undefined) throw new AdapterError('BAD_RESPONSE', `libvirt's backup job does not export disk ${p.disk.target}.`)
      const context = p.incrementalFrom !== undefined && exp.bitmap !== undefined ? `qemu:dirty-bitmap:${exp.bitmap}` : undefined
      if (p.incrementalFrom !== undefined && context === undefined) throw new AdapterError('BAD_RESPONSE', `libvirt exported disk ${p.disk.target} without its dirty bitmap.`)
      const stream = await openSocket(shell, socketPath(jobId), signal)
      const label = `${shell.conn.label}:${dom}/${p.disk.target} (backup export)`
      // base:allocation when offered: a disk read whole (a raw disk, a full backup) then skips what reads as zeros.
      const client = await NbdClient.connect(stream, exp.name, context !== undefined ? [context] : [], label, [BASE_ALLOCATION])
      const guest = nbdBlockSource(client, label)
      try {
        if (context !== undefined) {
          const id = client.info.contexts.get(context)
          if (id === undefined) throw new AdapterError('BAD_RESPONSE', `${label} has no ${context}.`)
          const changedRanges = await flaggedRanges(client, id, 1, signal)
          opened.push({ disk: p.disk, guest, changedRanges })
        } else opened.push({ disk: p.disk, guest })
      } catch (err) {
        await guest.close()
        throw err
      }
    }
    return opened
  } catch (err) {
    for (const o of opened) await o.guest.close().catch(() => undefined)
    throw err
  }
}

/**
 * A byte stream to the NBD socket. A root login uses OpenSSH's streamlocal forwarding; sshd connects as the login
 * user, so a sudo login goes through `socat` run as root instead (socat must then be installed on the host).
 */
async function openSocket(shell: RootShell, path: string, signal?: AbortSignal): Promise<Duplex> {
  if (shell.privilege === 'root') return await shell.conn.openUnixSocket(path, signal)
  const exec = await shell.execDuplex(sh`exec socat - UNIX-CONNECT:${path}`, signal)
  return exec.channel
}

/** Ends the backup job (QEMU stops serving, libvirt drops the scratch files) and removes what is left of it. */
export async function endPullBackup(virsh: Virsh, dom: string, jobId: string, signal: AbortSignal): Promise<string[]> {
  const left: string[] = []
  const abort = await virsh.exec(['domjobabort', dom], { signal })
  if (abort.code !== 0 && !/no job is active|not running|no domain backup job/i.test(abort.stderr)) {
    left.push(`The backup job on ${dom} could not be ended (${abort.stderr.trim().slice(0, 200)}); end it with: virsh domjobabort ${dom}`)
  }
  for (let i = 0; i < 60; i++) {
    const info = await virsh.exec(['domjobinfo', dom], { signal })
    if (info.code !== 0 || !/Operation:\s+Backup/i.test(info.stdout) || /Job type:\s+None/i.test(info.stdout)) break
    await sleep(500, signal)
  }
  const r = await virsh.shell.exec(sh`rm -f -- ${socketPath(jobId)} ${LOCK_DIR}/${jobTag(jobId)}-*.scratch`, { signal, timeoutMs: 30_000 })
  if (r.code !== 0) left.push(`Temporary files ${LOCK_DIR}/${jobTag(jobId)}* could not be removed: ${r.stderr.trim().slice(0, 200)}`)
  return left
}
