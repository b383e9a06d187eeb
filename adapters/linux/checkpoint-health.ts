import { child, childElements, escapeXml, parseXml, textOf } from './xml'
import type { Virsh } from './virsh'

/**
 * Whether a libvirt checkpoint can still be trusted for an incremental backup, and how to get rid of one that can't.
 *
 * QEMU writes a persistent dirty bitmap into the qcow2 image only on a clean close. When QEMU dies (host crash, OOM
 * kill, kill -9, power cut) the bitmap is either missing from the image (it was never written) or marked in-use and
 * loaded as inconsistent on the next start; libvirt's checkpoint metadata survives either way, and every later
 * `backup-begin` from it fails with "checkpoint inconsistent: missing or broken bitmap". `checkpoint-dumpxml --size`
 * asks QEMU for each disk's bitmap: a healthy one has a `size`, a missing or inconsistent one has none.
 */
export type CheckpointHealth =
  | { readonly state: 'intact' }
  | { readonly state: 'missing' }
  | { readonly state: 'broken'; readonly disks: readonly string[]; readonly createdAt?: Date; readonly detail: string }

export async function checkpointHealth(virsh: Virsh, dom: string, name: string, tracked: readonly string[], signal?: AbortSignal): Promise<CheckpointHealth> {
  const r = await virsh.exec(['checkpoint-dumpxml', dom, name, '--size'], { ...(signal ? { signal } : {}), maxOutputBytes: 4 * 1024 * 1024 })
  if (r.code !== 0) {
    if (/no domain checkpoint|checkpoint not found/i.test(r.stderr)) return { state: 'missing' }
    // libvirt could not size the bitmaps at all: nothing proves the chain intact.
    return { state: 'broken', disks: [...tracked], detail: r.stderr.trim().replace(/\s+/g, ' ').slice(0, 300) }
  }
  const parsed = parseCheckpointSizes(r.stdout)
  const broken = tracked.filter((t) => {
    const disk = parsed.disks.get(t)
    return disk === undefined || disk.checkpoint !== 'bitmap' || disk.size === undefined
  })
  if (broken.length === 0) return { state: 'intact' }
  return { state: 'broken', disks: broken, ...(parsed.createdAt ? { createdAt: parsed.createdAt } : {}), detail: `no usable dirty bitmap for ${broken.join(', ')}` }
}

export interface CheckpointSizes {
  readonly createdAt?: Date
  readonly disks: ReadonlyMap<string, { readonly checkpoint: string; readonly size?: number }>
}

/** The disks of `checkpoint-dumpxml --size` output (the embedded <domain> is ignored). */
export function parseCheckpointSizes(xml: string): CheckpointSizes {
  const root = parseXml(xml)
  const disks = new Map<string, { checkpoint: string; size?: number }>()
  for (const d of childElements(child(root, 'disks') ?? root, 'disk').slice(0, 256)) {
    const name = d.attrs.name
    if (name === undefined) continue
    const size = d.attrs.size !== undefined && /^\d{1,20}$/.test(d.attrs.size) ? Number(d.attrs.size) : undefined
    disks.set(name, { checkpoint: d.attrs.checkpoint ?? 'bitmap', ...(size !== undefined ? { size } : {}) })
  }
  const created = textOf(child(root, 'creationTime'))?.trim()
  const seconds = created !== undefined && /^\d{1,12}$/.test(created) ? Number(created) : undefined
  return { disks, ...(seconds !== undefined ? { createdAt: new Date(seconds * 1000) } : {}) }
}

/**
 * Removes a checkpoint whose bitmaps cannot be trusted: libvirt's delete first (it also removes an inconsistent
 * bitmap from the image); when libvirt cannot find the bitmap any more, only its metadata is left to remove.
 * Returns a plain sentence when something could not be removed.
 */
export async function removeBrokenCheckpoint(virsh: Virsh, dom: string, name: string, signal?: AbortSignal): Promise<string | undefined> {
  const r = await virsh.exec(['checkpoint-delete', dom, name], signal ? { signal } : {})
  if (r.code === 0 || /no domain checkpoint|checkpoint not found/i.test(r.stderr)) return undefined
  const meta = await virsh.exec(['checkpoint-delete', dom, name, '--metadata'], signal ? { signal } : {})
  if (meta.code === 0 || /no domain checkpoint|checkpoint not found/i.test(meta.stderr)) return undefined
  return `The broken checkpoint ${name} of ${dom} could not be removed (${meta.stderr.trim().slice(0, 200)}). Remove it with: virsh checkpoint-delete ${dom} ${name} --metadata`
}

/**
 * A checkpoint whose libvirt metadata is gone (domain undefined and defined again, migrated, metadata deleted) may
 * still have its bitmaps in the images, where they slow every write and block reverting internal snapshots. The
 * metadata is put back from what the restore point remembers and the checkpoint deleted properly, which removes the
 * bitmaps; where no bitmap exists the redefinition fails validation and there is nothing to remove.
 * Returns a plain sentence when a bitmap is known to remain.
 */
export async function removeOrphanedBitmaps(virsh: Virsh, dom: string, name: string, tracked: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
  const disks = tracked.map((t) => `<disk name='${escapeXml(t)}' checkpoint='bitmap' bitmap='${escapeXml(name)}'/>`).join('')
  const xml = `<domaincheckpoint><name>${escapeXml(name)}</name><creationTime>${Math.floor(Date.now() / 1000)}</creationTime><disks>${disks}</disks></domaincheckpoint>`
  const opts = { ...(signal ? { signal } : {}), stdin: xml }
  const validated = await virsh.exec(['checkpoint-create', dom, '/dev/stdin', '--redefine', '--redefine-validate'], opts)
  if (validated.code !== 0) {
    // No intact bitmap of that name on every disk: only an inconsistent one can remain. Redefine without
    // validation so libvirt can delete it; if nothing of it exists, the delete below drops just the metadata.
    if (!/missing or broken bitmap/i.test(validated.stderr)) return undefined
    const plain = await virsh.exec(['checkpoint-create', dom, '/dev/stdin', '--redefine'], opts)
    if (plain.code !== 0) return undefined
  }
  return await removeBrokenCheckpoint(virsh, dom, name, signal)
}
