import { posix } from 'node:path'
import { AdapterError } from '../host-adapter'
import { LOCK_DIR, checkJobId } from './job-lock'
import { child, childElements, element, type XmlElement } from './xml'

/** The namespace of Lifeboat's record in the domain's <metadata>: what the run is and which host files are its own. */
export const RUN_NS = 'https://lifeboat.invalid/xmlns/instant-run/1'
const RUN_ELEMENT = 'lifeboat:instant-run'

/** What a run's metadata says; read back from the host, so every field is checked before it becomes a path. */
export interface RunRecord {
  readonly runId: string
  readonly pointId: string
  readonly state: 'from-backup' | 'permanent'
  readonly disks: readonly { readonly target: string; readonly overlay: string; readonly socket: string }[]
}

/**
 * The sockets sshd listens on for QEMU, one folder per run. Deliberately not `lifeboat-<job id>`: the leftovers check
 * removes such files when no job holds their lock, and a run whose Lifeboat died must keep its sockets' place (it is
 * served again there on resume). The folder is removed when serving stops and by discard.
 */
export function runSocketDir(runId: string): string {
  return `${LOCK_DIR}/lifeboat-run.${checkJobId(runId)}`
}

export function runSocket(runId: string, target: string): string {
  return `${runSocketDir(runId)}/${target}.sock`
}

/** `nbd+unix` URI of a disk's export, as QEMU and qemu-img write it. */
export function exportUri(runId: string, target: string): string {
  return `nbd+unix:///${target}?socket=${runSocket(runId, target)}`
}

export function runElement(record: RunRecord): XmlElement {
  return element(
    RUN_ELEMENT,
    { 'xmlns:lifeboat': RUN_NS, run: record.runId, point: record.pointId, state: record.state },
    record.disks.map((d) => element('lifeboat:disk', { target: d.target, overlay: d.overlay, socket: d.socket })),
  )
}

function isRunElement(el: XmlElement): boolean {
  return Object.entries(el.attrs).some(([k, v]) => (k === 'xmlns' || k.startsWith('xmlns:')) && v === RUN_NS)
}

/** Replaces (or adds) the run's record in a domain's <metadata>. */
export function setRunRecord(root: XmlElement, record: RunRecord): void {
  let metadata = child(root, 'metadata')
  if (metadata === undefined) {
    metadata = element('metadata')
    root.children.push(metadata)
  }
  metadata.children = metadata.children.filter((c) => typeof c === 'string' || !isRunElement(c))
  metadata.children.push(runElement(record))
}

/** The run's record in a domain's XML, or undefined when the domain is not a Lifeboat instant run (or its record is damaged). */
export function readRunRecord(root: XmlElement): RunRecord | undefined {
  const el = childElements(child(root, 'metadata') ?? element('metadata')).find(isRunElement)
  if (el === undefined) return undefined
  const { run, point, state } = el.attrs
  if (run === undefined || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(run)) return undefined
  if (point === undefined || point.length > 200 || (state !== 'from-backup' && state !== 'permanent')) return undefined
  const disks: RunRecord['disks'][number][] = []
  for (const d of childElements(el).slice(0, 64)) {
    const { target, overlay, socket } = d.attrs
    if (target === undefined || !/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(target)) return undefined
    if (overlay === undefined || !safeOverlayPath(overlay) || socket !== runSocket(run, target)) return undefined
    disks.push({ target, overlay, socket })
  }
  return { runId: run, pointId: point, state, disks }
}

/** An overlay Lifeboat made: an absolute qcow2 path without `..` steps (the record is removed only through these). */
function safeOverlayPath(path: string): boolean {
  return path.startsWith('/') && path.length < 4096 && path.endsWith('.qcow2') && posix.normalize(path) === path && !path.split('/').includes('..') && !/[\n\0]/.test(path)
}

export function requireRun(root: XmlElement, name: string): RunRecord {
  const record = readRunRecord(root)
  if (record === undefined) throw new AdapterError('NOT_FOUND', `${name} is not a VM Lifeboat runs from a restore point (its definition has no Lifeboat run record); it was left alone.`, { vm: name })
  return record
}
