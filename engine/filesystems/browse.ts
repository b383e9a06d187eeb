import { stat } from 'node:fs/promises'
import type { BlockSource } from '../disks/block-source'
import type { ImageSource, ParentResolver } from '../disks/image-types'
import { openImageFile, openImageSource } from '../disks/open-image'
import { RawImage } from '../disks/raw-image'
import { FilesystemError } from './errors'
import { openVolume } from './open-volume'
import { probeDisks, type DiskTree, type VolumeNode } from './probe-disk'
import type { Volume } from './types'

/**
 * The facade the CLI, contract handlers and UI use: open an image (or several disks of one VM), see its tree,
 * open a volume by locator. Locators: 'p2' (partition 2), 'disk' (no partition table), 'lvm:vg/lv' or 'vg/lv',
 * a filesystem label or GPT partition name, and with several disks 'd2:p1' (disks counted from 1).
 * Without a locator the only browsable volume is chosen (an error lists the choices when there are several).
 */
export interface OpenedImage {
  readonly images: readonly ImageSource[]
  readonly tree: DiskTree
  volumeNode(locator?: string): VolumeNode
  openVolume(locator?: string, options?: { signal?: AbortSignal }): Promise<Volume>
  close(): Promise<void>
}

export interface OpenImageOptions {
  readonly resolveParent?: ParentResolver
  readonly signal?: AbortSignal
  /** Folder that parent images of local files must stay inside (default: each image's folder). */
  readonly allowedRoot?: string
  /**
   * The given BlockSources are guest disks already (a restore point's disk, a decoded export): use their bytes
   * as they are. Detecting a format there would be wrong — a guest disk may itself begin with an image header.
   */
  readonly guestDisks?: boolean
}

export async function openImage(inputs: string | BlockSource | readonly (string | BlockSource)[], options: OpenImageOptions = {}): Promise<OpenedImage> {
  const list = Array.isArray(inputs) ? (inputs as readonly (string | BlockSource)[]) : [inputs as string | BlockSource]
  const images: ImageSource[] = []
  const base = { ...(options.signal ? { signal: options.signal } : {}), ...(options.resolveParent ? { resolveParent: options.resolveParent } : {}) }
  try {
    for (const input of list) {
      if (typeof input === 'string') images.push(await openImageFile(input, { ...base, ...(options.allowedRoot ? { allowedRoot: options.allowedRoot } : {}) }))
      else images.push(options.guestDisks === true ? new RawImage(input) : await openImageSource(input, base))
    }
    const probed = await probeDisks(images, base)
    const opened: Volume[] = []
    const volumeNode = (locator?: string): VolumeNode => findVolume(probed.tree, locator)
    return {
      images,
      tree: probed.tree,
      volumeNode,
      async openVolume(locator, o = {}) {
        const v = await openVolume(probed.sourceFor(volumeNode(locator)), o)
        opened.push(v)
        return v
      },
      async close() {
        for (const v of opened) await v.close().catch(() => undefined)
        for (const i of images) await i.close()
      },
    }
  } catch (e) {
    for (const i of images) await i.close().catch(() => undefined)
    throw e
  }
}

function browsable(v: VolumeNode): boolean {
  return v.filesystem !== undefined
}

export function findVolume(tree: DiskTree, locator?: string): VolumeNode {
  const choices = tree.volumes.filter(browsable)
  const describe = (): string => tree.volumes.map((v) => `${v.diskIndex > 0 ? `d${v.diskIndex + 1}:` : ''}${v.locator}${v.filesystem ? ` (${v.filesystem.type}${v.filesystem.label ? ` "${v.filesystem.label}"` : ''})` : v.problem ? ` (${v.problem})` : ` (${v.content})`}`).join(', ')
  if (locator === undefined || locator === '') {
    const only = choices[0]
    if (choices.length === 1 && only) return only
    throw new FilesystemError('bad-locator', choices.length === 0 ? `No browsable filesystem on this disk. Found: ${describe() || 'nothing'}` : `Several filesystems; name one: ${describe()}`)
  }
  let disk = 0
  let rest = locator
  const m = /^d([0-9]+):(.*)$/.exec(locator)
  if (m) {
    disk = Number(m[1]) - 1
    rest = m[2] ?? ''
  }
  const norm = /^[0-9]+$/.test(rest) ? `p${rest}` : /^[^:/]+\/[^/]+$/.test(rest) ? `lvm:${rest}` : rest
  const onDisk = tree.volumes.filter((v) => v.diskIndex === disk || v.kind === 'logical-volume')
  const exact = onDisk.find((v) => v.locator === norm)
  if (exact) return exact
  const lower = rest.toLowerCase()
  const byLabel = tree.volumes.filter((v) => v.filesystem?.label.toLowerCase() === lower || v.partition?.name?.toLowerCase() === lower)
  const one = byLabel[0]
  if (byLabel.length === 1 && one) return one
  if (byLabel.length > 1) throw new FilesystemError('bad-locator', `"${locator}" names several volumes: ${byLabel.map((v) => v.locator).join(', ')}`)
  throw new FilesystemError('bad-locator', `No volume "${locator}" on this disk. Found: ${describe() || 'nothing'}`, { locator })
}

/** Splits 'IMAGE#p2' when IMAGE exists and the whole string does not (a '#' may be part of a file name). */
export async function splitImageLocator(spec: string): Promise<{ image: string; locator?: string }> {
  const exists = async (p: string): Promise<boolean> => stat(p).then(() => true, () => false)
  const hash = spec.lastIndexOf('#')
  if (hash <= 0 || (await exists(spec))) return { image: spec }
  const image = spec.slice(0, hash)
  return (await exists(image)) ? { image, locator: spec.slice(hash + 1) } : { image: spec }
}
