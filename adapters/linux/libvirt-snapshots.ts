import { AdapterError, type SnapshotCapability, type VmSnapshotDetail } from '../host-adapter'
import { withUndo } from '../undo-stack'
import { sh } from '../ssh/shell-quote'
import { domainRef, parseDomainXml } from './domain-model'
import { openSnapshotDisks } from './snapshot-disks'
import { deleteCheckpoint, isLifeboatCheckpoint, listCheckpoints } from './checkpoints'
import { checkSnapshotName } from './host-names'
import { TAG } from './job-lock'
import type { ShellProvider } from './libvirt-prepare'
import { ACTIVE_STATES, Virsh } from './virsh'
import { child, findAll, parseXml, textOf } from './xml'

const MAX_SNAPSHOTS = 300

/** "Before patching 2.4!" → "before-patching-2-4" (libvirt names become file names for some storage). */
export function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'snapshot'
}

const DESCRIPTION_PREFIX = 'Lifeboat snapshot: '

/** The snapshot's description: the admin's note, and its review date when there is one ("… [review 2026-11-28T…Z]"). */
export function snapshotDescription(label: string, expiresAt?: string): string {
  const note = label.replace(/\s+/g, ' ').trim().slice(0, 500)
  return `${DESCRIPTION_PREFIX}${note}${expiresAt !== undefined ? ` [review ${expiresAt}]` : ''}`
}

export function parseSnapshotDescription(description: string): { label: string; expiresAt?: string } | undefined {
  if (!description.startsWith(DESCRIPTION_PREFIX)) return undefined
  const rest = description.slice(DESCRIPTION_PREFIX.length)
  const m = /^(.*) \[review (\d{4}-\d\d-\d\dT[\d:.]+Z)\]$/s.exec(rest)
  if (m?.[1] !== undefined && m[2] !== undefined && !Number.isNaN(Date.parse(m[2]))) return { label: m[1], expiresAt: m[2] }
  return { label: rest }
}

/** Names of a domain's snapshots (anyone's), at most MAX_SNAPSHOTS. */
export async function snapshotNames(virsh: Virsh, dom: string, signal: AbortSignal): Promise<string[]> {
  const r = await virsh.exec(['snapshot-list', dom, '--name'], { signal, maxOutputBytes: 1024 * 1024 })
  if (r.code !== 0) return []
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(0, MAX_SNAPSHOTS)
}

/**
 * Lifeboat's backup checkpoints give way to a snapshot: qemu cannot load an internal snapshot of disks that carry
 * dirty bitmaps, and libvirt may refuse the snapshot outright. Anybody else's checkpoints are left alone (refused).
 * Returns a warning when checkpoints were removed (the next backup then reads whole disks).
 */
async function clearLifeboatCheckpoints(virsh: Virsh, dom: string, vmName: string, signal: AbortSignal): Promise<string | undefined> {
  const checkpoints = (await listCheckpoints(virsh, dom, signal)) ?? []
  if (checkpoints.length === 0) return undefined
  const foreign = checkpoints.filter((c) => !isLifeboatCheckpoint(c))
  if (foreign.length > 0) {
    throw new AdapterError('NOT_SUPPORTED', `${vmName} has backup checkpoints that are not Lifeboat's (${foreign.slice(0, 5).join(', ')}); libvirt cannot revert a snapshot of disks that carry checkpoints, so Lifeboat did not take one.`, { vm: vmName })
  }
  for (const c of [...checkpoints].reverse()) {
    const problem = await deleteCheckpoint(virsh, dom, c, signal)
    if (problem !== undefined) throw new AdapterError('COMMAND_FAILED', `Nothing was changed on ${vmName} except some backup checkpoints: ${problem}`, { vm: vmName })
  }
  return `Lifeboat removed ${vmName}'s backup checkpoints so that this snapshot can be reverted (libvirt does not keep both); backups read whole disks until the snapshot is discarded.`
}

/**
 * "Snapshot before patching" on libvirt: internal snapshots (disk and, for a running VM, memory) so that revert works
 * on every libvirt (reverting external snapshots needs libvirt ≥ 9.7). Named `lifeboat-<label>-<time>` and described
 * as Lifeboat's, so they are told apart from the admin's own. Any snapshot's disks (internal or external, Lifeboat's
 * or not) can be opened in place to browse them (snapshot-disks.ts).
 */
export function libvirtSnapshots(getShell: ShellProvider): SnapshotCapability {
  const virshFor = async (signal: AbortSignal) => new Virsh(await getShell(signal))
  const list = async (vmId: string, signal: AbortSignal): Promise<VmSnapshotDetail[]> => {
    const virsh = await virshFor(signal)
    const dom = domainRef(vmId)
    const script = 'virsh -q -c qemu:///system snapshot-list "$1" --name | head -n "$2" | while read -r n; do [ -n "$n" ] || continue; printf "SNAP %s\\n" "$(virsh -q -c qemu:///system snapshot-dumpxml "$1" --snapshotname="$n" 2>/dev/null | head -c 2097152 | base64 | tr -d "\\n")"; done; printf "CURRENT %s\\n" "$(virsh -q -c qemu:///system snapshot-current "$1" --name 2>/dev/null | base64 | tr -d "\\n")"'
    const out = await virsh.shell.run(sh`LC_ALL=C sh -c ${script} lifeboat-snapshots ${dom} ${MAX_SNAPSHOTS}`, { signal, timeoutMs: 120_000, maxOutputBytes: 64 * 1024 * 1024, what: 'Listing snapshots' })
    let current: string | undefined
    const snaps: VmSnapshotDetail[] = []
    for (const line of out.split('\n')) {
      if (line.startsWith('CURRENT ')) current = Buffer.from(line.slice(8), 'base64').toString('utf8').trim()
      if (!line.startsWith('SNAP ')) continue
      try {
        const root = parseXml(Buffer.from(line.slice(5), 'base64').toString('utf8'))
        const name = textOf(child(root, 'name'))?.trim() ?? ''
        if (name === '') continue
        const description = textOf(child(root, 'description'))?.trim() ?? ''
        const created = Number(textOf(child(root, 'creationTime'))?.trim())
        const external = findAll(root, 'disks/disk').some((d) => d.attrs.snapshot === 'external') || child(root, 'memory')?.attrs.snapshot === 'external'
        const parsed = name.startsWith(`${TAG}-`) ? parseSnapshotDescription(description) : undefined
        const lifeboat = parsed !== undefined
        const vmState = textOf(child(root, 'state'))?.trim()
        snaps.push({
          id: name,
          name,
          lifeboat,
          kind: external ? 'external' : 'internal',
          ...(Number.isFinite(created) && created > 0 ? { createdAt: new Date(created * 1000).toISOString() } : {}),
          ...(parsed !== undefined ? { label: parsed.label, purpose: 'before-patching' } : {}),
          ...(parsed?.expiresAt !== undefined ? { expiresAt: parsed.expiresAt } : {}),
          ...(vmState !== undefined && vmState !== '' ? { vmState } : {}),
        })
      } catch {
        // one unreadable snapshot does not hide the others
      }
    }
    return snaps.map((s) => (s.name === current ? { ...s, current: true } : s))
  }

  return {
    list,
    async create(vmId, options, signal) {
      const virsh = await virshFor(signal)
      const dom = domainRef(vmId)
      const { info } = parseDomainXml(await virsh.run(['dumpxml', dom], { signal }))
      const notQcow2 = info.disks.filter((d) => (d.device === 'disk' || d.device === 'lun') && !d.readonly && d.format !== 'qcow2')
      if (notQcow2.length > 0) {
        throw new AdapterError(
          'NOT_SUPPORTED',
          `${info.name} has disks that are not qcow2 (${notQcow2.map((d) => d.target).join(', ')}): libvirt keeps revertible snapshots inside qcow2 images only.`,
          { vm: info.name },
        )
      }
      const expiresAt = options.expiresAt === undefined ? undefined : new Date(options.expiresAt)
      if (expiresAt !== undefined && Number.isNaN(expiresAt.getTime())) throw new AdapterError('NOT_SUPPORTED', `"${options.expiresAt?.slice(0, 60) ?? ''}" is not a time.`)
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')
      // Lifeboat's own name, never one starting with "-" (virsh would read it as an option).
      const name = checkSnapshotName(`${TAG}-${slug(options.label)}-${stamp}`)
      const cleared = await clearLifeboatCheckpoints(virsh, dom, info.name, signal)
      const warnings = cleared !== undefined ? [cleared] : []
      // The checkpoints removed above are not undone (their bitmaps merged away); a snapshot made and then not
      // handed back (its listing failed, or the call was cancelled) is deleted again.
      return await withUndo(signal, async (stack) => {
        const r = await virsh.exec(['snapshot-create-as', dom, '--name', name, '--description', snapshotDescription(options.label, expiresAt?.toISOString()), '--atomic'], { signal, timeoutMs: 30 * 60_000 })
        if (r.code !== 0) throw new AdapterError('COMMAND_FAILED', `The snapshot of ${info.name} failed: ${r.stderr.trim().slice(0, 300)}`, { vm: info.name })
        stack.push(`delete snapshot ${name} of ${info.name}`, async (s) => {
          const d = await virsh.exec(['snapshot-delete', dom, `--snapshotname=${name}`], { signal: s, timeoutMs: 30 * 60_000 })
          return d.code === 0 ? undefined : `The snapshot ${name} of ${info.name} is still there: ${d.stderr.trim().slice(0, 200)}`
        })
        const made = (await list(vmId, signal)).find((x) => x.name === name) ?? { id: name, name, lifeboat: true, kind: 'internal' as const, label: options.label, purpose: 'before-patching' }
        return warnings.length > 0 ? { ...made, warnings } : made
      })
    },
    async revert(vmId, snapshotId, options, signal) {
      const virsh = await virshFor(signal)
      const dom = domainRef(vmId)
      const name = checkSnapshotName(snapshotId)
      const vmName = parseDomainXml(await virsh.run(['dumpxml', dom], { signal })).info.name
      // Checkpoints made since the snapshot would make qemu refuse to load it (dirty bitmaps on the disks).
      await clearLifeboatCheckpoints(virsh, dom, vmName, signal)
      const wasActive = ACTIVE_STATES.includes(await virsh.domstate(dom, signal))
      const r = await virsh.exec(['snapshot-revert', dom, `--snapshotname=${name}`, ...(options.start === true ? ['--running'] : [])], { signal, timeoutMs: 30 * 60_000 })
      if (r.code !== 0) {
        const nowActive = ACTIVE_STATES.includes(await virsh.domstate(dom, signal).catch(() => 'unknown'))
        const state = wasActive && !nowActive ? ` ${vmName} is shut off now; start it to go on from its current disks.` : ''
        throw new AdapterError('COMMAND_FAILED', `Reverting ${vmName} to ${name} failed: ${r.stderr.trim().slice(0, 300)}.${state}`, { vm: vmName })
      }
      if (options.start === false && ACTIVE_STATES.includes(await virsh.domstate(dom, signal))) await virsh.run(['destroy', dom], { signal })
    },
    async remove(vmId, snapshotId, signal) {
      const virsh = await virshFor(signal)
      await virsh.run(['snapshot-delete', domainRef(vmId), `--snapshotname=${checkSnapshotName(snapshotId)}`], { signal, timeoutMs: 30 * 60_000 })
    },
    async openDisks(vmId, snapshotId, signal) {
      return await openSnapshotDisks(await getShell(signal), domainRef(vmId), checkSnapshotName(snapshotId), signal)
    },
  }
}
