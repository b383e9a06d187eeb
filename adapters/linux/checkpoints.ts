import { z } from 'zod'
import type { JsonValue } from '../host-adapter'
import type { DomainDisk } from './domain-model'
import { escapeXml } from './xml'
import type { Virsh } from './virsh'
import { TAG } from './job-lock'

/** What a libvirt restore point remembers for the next incremental: the checkpoint taken with it. */
const TokenSchema = z.object({
  kind: z.literal('libvirt-checkpoint'),
  domainUuid: z.string().max(64),
  checkpoint: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  disks: z.array(z.string().max(32)).max(256),
})
export type CheckpointToken = z.infer<typeof TokenSchema>

export function makeToken(domainUuid: string, checkpoint: string, disks: readonly string[]): JsonValue {
  return { kind: 'libvirt-checkpoint', domainUuid, checkpoint, disks: [...disks] }
}

export function parseToken(token: JsonValue | undefined): CheckpointToken | undefined {
  const r = TokenSchema.safeParse(token)
  return r.success ? r.data : undefined
}

/** Disks whose changes a checkpoint can track: qcow2 (the dirty bitmap lives in the image), writable. */
export function bitmapCapable(d: DomainDisk): boolean {
  return d.format === 'qcow2' && !d.readonly
}

export function checkpointXml(name: string, description: string, all: readonly DomainDisk[], tracked: readonly DomainDisk[]): string {
  const set = new Set(tracked.map((d) => d.target))
  const disks = all.map((d) => `<disk name='${escapeXml(d.target)}' checkpoint='${set.has(d.target) ? 'bitmap' : 'no'}'/>`).join('')
  return `<domaincheckpoint><name>${escapeXml(name)}</name><description>${escapeXml(description)}</description><disks>${disks}</disks></domaincheckpoint>`
}

/** Checkpoint names of a domain, or undefined when this libvirt has no checkpoint support. */
export async function listCheckpoints(virsh: Virsh, dom: string, signal?: AbortSignal): Promise<string[] | undefined> {
  const r = await virsh.exec(['checkpoint-list', dom, '--name'], { ...(signal ? { signal } : {}), maxOutputBytes: 1024 * 1024 })
  if (r.code !== 0) return undefined
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(0, 10_000)
}

export function isLifeboatCheckpoint(name: string): boolean {
  return name.startsWith(`${TAG}-`)
}

/**
 * Deletes a checkpoint; libvirt merges its bitmap into its parent, so tracking from older checkpoints stays whole. The
 * name goes as an option value, so a name starting with "-" is never read as an option.
 */
export async function deleteCheckpoint(virsh: Virsh, dom: string, name: string, signal?: AbortSignal): Promise<string | undefined> {
  const r = await virsh.exec(['checkpoint-delete', dom, `--checkpointname=${name}`], signal ? { signal } : {})
  if (r.code === 0 || /not found|no domain checkpoint/i.test(r.stderr)) return undefined
  return `checkpoint ${name} of domain ${dom} could not be deleted: ${r.stderr.trim().slice(0, 200)}`
}
