import type { BackupDisk, BackupSession, RemoteFile } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { backupDisks, domainRef, parseDomainXml, type DomainDisk, type DomainInfo } from './domain-model'
import { diskMeta, fileReadout } from './file-readout'
import { ACTIVE_STATES, Virsh } from './virsh'

/** A root shell on the host's current connection: reconnects after a drop, so cleanup can still run. */
export type ShellProvider = (signal: AbortSignal) => Promise<RootShell>

/** A domain as a backup found it: its state, definitions and disks, and the shell it was looked at through. */
export interface Prepared {
  readonly getShell: ShellProvider
  readonly shell: RootShell
  readonly virsh: Virsh
  readonly dom: string
  readonly inactiveXml: string
  readonly info: DomainInfo
  readonly state: string
  readonly disks: DomainDisk[]
}

export async function prepare(getShell: ShellProvider, vmId: string, signal: AbortSignal): Promise<Prepared> {
  const shell = await getShell(signal)
  const dom = domainRef(vmId)
  const virsh = new Virsh(shell)
  // Three independent questions, asked at once over the one connection (each is a round trip of its own).
  const [state, inactiveXml, current] = await Promise.all([virsh.domstate(dom, signal), virsh.run(['dumpxml', '--inactive', dom], { signal }), virsh.run(['dumpxml', dom], { signal })])
  const live = ACTIVE_STATES.includes(state) ? current : inactiveXml
  const info = parseDomainXml(live).info
  return { getShell, shell, virsh, dom, inactiveXml, info, state, disks: backupDisks(info) }
}

export async function diskFromFile(p: Prepared, d: DomainDisk, files: RemoteFile[], signal: AbortSignal, base?: string): Promise<BackupDisk> {
  const path = base ?? d.source ?? ''
  const readout = await fileReadout(p.shell, path, d.format, d.backing.map((b) => b.path), files, signal)
  const size = readout.kind === 'file' && readout.format === 'raw' ? readout.file.size : 0
  return { id: d.target, name: d.target, sizeBytes: size, readout, meta: diskMeta(d) }
}

/**
 * A virsh on the current connection (reconnecting if it dropped), or undefined when the host cannot be reached.
 * Each undo step asks for one; the answer is shared by the steps of one unwind, so an unreachable host costs one
 * connect attempt, not one per step.
 */
export function hostReacher(p: Prepared): (signal: AbortSignal) => Promise<Virsh | undefined> {
  let last: { signal: AbortSignal; virsh: Promise<Virsh | undefined> } | undefined
  return (signal) => {
    if (last?.signal !== signal) {
      const virsh = p
        .getShell(signal)
        .then((shell) => (shell === p.shell ? p.virsh : new Virsh(shell)))
        .catch(() => undefined)
      last = { signal, virsh }
    }
    return last.virsh
  }
}

/** What a step could not undo because the host could not be reached. */
export function unreachable(name: string, what: string): string {
  return `The host could not be reached to clean up after the backup of ${name}: ${what}. Lifeboat finds and cleans this the next time it connects.`
}

export function vmConfig(p: Prepared): BackupSession['vmConfig'] {
  return { kind: 'libvirt', name: p.info.name, uuid: p.info.uuid, xml: p.inactiveXml }
}
