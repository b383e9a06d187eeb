import { posix } from 'node:path'
import { z } from 'zod'
import { AdapterError, type BackupDisk, type BlockSource, type JsonValue, type RemoteFile } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { domainInfo, parseDomainXml, type DomainDisk, type DomainInfo } from './domain-model'
import { closeAll, fileReadout } from './file-readout'
import { serveInternalSnapshots, type InternalSnapshotExport } from './snapshot-nbd'
import { ACTIVE_STATES, Virsh } from './virsh'
import { child, findAll, parseXml, textOf, XmlError } from './xml'

export type SnapshotDiskKind = 'internal' | 'external' | 'no'

/** One disk of a snapshot and where its state at snapshot time lives. */
export interface SnapshotDiskPlan {
  readonly disk: DomainDisk
  readonly kind: 'internal' | 'external'
}

export interface ParsedSnapshot {
  readonly name: string
  /** The domain as it was when the snapshot was taken (libvirt stores it with the snapshot). */
  readonly domain: DomainInfo
  /** What the snapshot did to each disk, by target. */
  readonly disks: ReadonlyMap<string, SnapshotDiskKind>
}

export function parseSnapshotXml(xml: string): ParsedSnapshot {
  let root
  try {
    root = parseXml(xml)
  } catch (err) {
    throw new AdapterError('BAD_RESPONSE', `libvirt printed snapshot XML Lifeboat cannot read: ${err instanceof XmlError ? err.message : String(err)}`)
  }
  if (root.name !== 'domainsnapshot') throw new AdapterError('BAD_RESPONSE', 'libvirt printed XML that is not a domain snapshot.')
  const embedded = child(root, 'domain')
  if (embedded === undefined) throw new AdapterError('NOT_SUPPORTED', 'This snapshot does not record the domain it was taken of (libvirt too old?), so Lifeboat cannot tell where its disks are.')
  const disks = new Map<string, SnapshotDiskKind>()
  for (const d of findAll(root, 'disks/disk')) {
    const name = d.attrs.name
    const kind = d.attrs.snapshot
    if (name === undefined || (kind !== 'internal' && kind !== 'external' && kind !== 'no')) continue
    disks.set(name, kind)
  }
  return { name: textOf(child(root, 'name'))?.trim() ?? '', domain: domainInfo(embedded), disks }
}

/**
 * Which disks a snapshot holds and how: real disks with a local source that the snapshot captured (internal: inside
 * the qcow2 image, external: the image the snapshot's overlay was put on). Disks the snapshot skipped are left out.
 */
export function planSnapshotDisks(snap: ParsedSnapshot, vmName: string): SnapshotDiskPlan[] {
  const plans: SnapshotDiskPlan[] = []
  for (const disk of snap.domain.disks) {
    if (disk.device !== 'disk' && disk.device !== 'lun') continue
    const kind = snap.disks.get(disk.target)
    if (kind === undefined || kind === 'no') continue
    if (disk.type !== 'file' && disk.type !== 'block') {
      throw new AdapterError('NOT_SUPPORTED', `Disk ${disk.target} of ${vmName} was a ${disk.type} disk when the snapshot was taken; Lifeboat reads file and block-device disks only.`, { disk: disk.target })
    }
    if (disk.source === undefined) continue
    if (kind === 'internal' && disk.format !== 'qcow2') {
      throw new AdapterError('BAD_RESPONSE', `libvirt says snapshot ${snap.name} is kept inside disk ${disk.target}, which is ${disk.format ?? 'raw'}, not qcow2.`, { disk: disk.target })
    }
    plans.push({ disk, kind })
  }
  if (plans.length === 0) throw new AdapterError('NOT_SUPPORTED', `Snapshot ${snap.name} of ${vmName} holds no disk that Lifeboat can read (it may keep memory only).`)
  return plans
}

const QemuImgChain = z.array(z.object({ filename: z.string().max(4096), format: z.string().max(40).optional() }).loose()).max(64)

/** The backing chain of an image as qemu-img on the host reads it (top first), or [] when it cannot tell. */
async function qemuImgChain(shell: RootShell, path: string, format: string, signal: AbortSignal): Promise<string[]> {
  const r = await shell.exec(sh`qemu-img info -U -f ${format} --backing-chain --output=json -- ${path}`, { signal, timeoutMs: 60_000, maxOutputBytes: 4 * 1024 * 1024 }).catch(() => undefined)
  if (r === undefined || r.code !== 0) return []
  try {
    const parsed = QemuImgChain.safeParse(JSON.parse(r.stdout))
    return parsed.success ? parsed.data.map((e) => e.filename) : []
  } catch {
    return []
  }
}

/** The files below `base` in every chain the host reported for a disk (libvirt's XML, then qemu-img's view). */
function chainBelow(base: string, chains: readonly (readonly string[])[]): string[] {
  const below = new Set<string>()
  const normal = posix.normalize(base)
  for (const chain of chains) {
    const at = chain.findIndex((p) => posix.normalize(p) === normal)
    if (at >= 0) for (const p of chain.slice(at + 1)) below.add(p)
  }
  return [...below]
}

function diskChains(info: DomainInfo | undefined, target: string): string[][] {
  const d = info?.disks.find((x) => x.target === target)
  return d?.source === undefined ? [] : [[d.source, ...d.backing.map((b) => b.path)]]
}

/**
 * A libvirt snapshot's disks as they were when it was taken, read in place without changing the VM or its images,
 * also while the VM runs:
 * - internal (qcow2) snapshots: served read-only by `qemu-nbd -l snapshot.name=…` on the host (see snapshot-nbd.ts)
 *   and read over NBD through the SSH connection;
 * - external (disk-only) snapshots: the image the snapshot's overlay was put on, read as a file (a qcow2 through its
 *   own backing chain, as far as the host reported it).
 */
export async function openSnapshotDisks(shell: RootShell, dom: string, snapshot: string, signal: AbortSignal): Promise<BackupDisk[]> {
  const virsh = new Virsh(shell)
  const state = await virsh.domstate(dom, signal)
  const currentXml = await virsh.run(['dumpxml', dom], { signal })
  const current = parseDomainXml(currentXml).info
  const r = await virsh.exec(['snapshot-dumpxml', '--domain', dom, `--snapshotname=${snapshot}`], { signal, maxOutputBytes: 16 * 1024 * 1024 })
  if (r.code !== 0) {
    if (/snapshot not found|no domain snapshot with matching name/i.test(r.stderr)) throw new AdapterError('NOT_FOUND', `${current.name} has no snapshot "${snapshot.slice(0, 200)}".`, { snapshot: snapshot.slice(0, 200) })
    throw new AdapterError('COMMAND_FAILED', `Reading snapshot "${snapshot.slice(0, 200)}" of ${current.name} failed: ${r.stderr.trim().slice(0, 300)}`)
  }
  const snap = parseSnapshotXml(r.stdout)
  const plans = planSnapshotDisks(snap, current.name)
  const running = ACTIVE_STATES.includes(state)

  const files: RemoteFile[] = []
  const out: BackupDisk[] = []
  let served: Awaited<ReturnType<typeof serveInternalSnapshots>> | undefined
  try {
    const internal = plans.filter((p) => p.kind === 'internal')
    const exports: InternalSnapshotExport[] = internal.map((p) => ({
      path: p.disk.source ?? '',
      device: p.disk.type === 'block' ? 'block' : 'file',
      snapshot: snap.name,
      label: `${shell.conn.label}:${current.name}/${p.disk.target}@${snap.name}`,
    }))
    served = exports.length > 0 ? await serveInternalSnapshots(shell, exports, signal) : undefined
    const guests = new Map<string, BlockSource>(internal.map((p, i) => [p.disk.target, served?.disks[i] as BlockSource]))
    for (const plan of plans) {
      const d = plan.disk
      const meta: JsonValue = { target: d.target, format: d.format ?? 'raw', source: d.source ?? null, device: d.device, bus: d.bus ?? null, snapshot: snap.name, snapshotKind: plan.kind, vmRunning: running }
      const guest = guests.get(d.target)
      if (guest !== undefined) {
        out.push({ id: d.target, name: d.target, sizeBytes: guest.size, readout: { kind: 'guest', disk: guest }, meta })
        continue
      }
      const base = d.source ?? ''
      const live = current.disks.find((x) => x.target === d.target)
      if (live?.source !== undefined && posix.normalize(live.source) === posix.normalize(base)) {
        throw new AdapterError('NOT_FOUND', `Disk ${d.target} of ${current.name} writes to ${base} again (the snapshot's overlay was merged back or reverted), so the state snapshot ${snap.name} kept of it no longer exists.`, { disk: d.target })
      }
      const format = d.format ?? 'raw'
      const chains = [...diskChains(current, d.target), ...diskChains(snap.domain, d.target)]
      if (format === 'qcow2') chains.push(await qemuImgChain(shell, base, format, signal))
      const readout = await fileReadout(shell, base, format, chainBelow(base, chains), files, signal)
      const size = readout.kind === 'file' && readout.format === 'raw' ? readout.file.size : 0
      out.push({ id: d.target, name: d.target, sizeBytes: size, readout, meta })
    }
    return out
  } catch (err) {
    await closeAll(files)
    await served?.close()
    throw err
  }
}
