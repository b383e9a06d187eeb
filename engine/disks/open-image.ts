import type { BlockSource } from './block-source'
import { DiskFormatError } from './errors'
import { FileSource } from './file-source'
import type { ImageFormat, ImageSource, OpenImageOptions, ParentLocator, ParentResolver } from './image-types'
import { Qcow2Image } from './qcow2/qcow2-image'
import { QCOW2_MAGIC } from './qcow2/qcow2-header'
import { RawImage } from './raw-image'
import { VhdDynamicImage, VhdFixedImage, rememberVhdId } from './vhd/vhd-image'
import { VHD_TYPE_FIXED, readVhdFooter } from './vhd/vhd-structures'
import { VhdxImage } from './vhdx/vhdx-image'
import { dirname, isAbsolute, resolve, sep } from 'node:path'

/** Names the format from the first bytes and the footer; the file name is never trusted. */
export async function detectImageFormat(container: BlockSource, signal?: AbortSignal): Promise<ImageFormat> {
  if (container.size >= 8) {
    const head = await container.read(0, Math.min(container.size, 8), signal)
    if (head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC) return 'qcow2'
    if (head.toString('latin1', 0, 8) === 'vhdxfile') return 'vhdx'
  }
  const footer = await readVhdFooter(container, signal).catch((e: unknown) => {
    if (e instanceof DiskFormatError) return undefined
    throw e
  })
  if (footer) return footer.diskType === VHD_TYPE_FIXED ? 'vhd-fixed' : 'vhd-dynamic'
  return 'raw'
}

/**
 * Decodes a container into the virtual disk it holds, following parent/backing chains through
 * `options.resolveParent`. The returned image owns `container`: closing the image closes it (and the chain).
 */
export async function openImageSource(container: BlockSource, options: OpenImageOptions = {}): Promise<ImageSource> {
  const signal = options.signal
  if (container.size >= 8) {
    const head = await container.read(0, 8, signal)
    if (head.readUInt32BE(0) === QCOW2_MAGIC) return Qcow2Image.open(container, options, openImageSource)
    if (head.toString('latin1', 0, 8) === 'vhdxfile') return VhdxImage.open(container, options, openImageSource)
  }
  const footer = await readVhdFooter(container, signal)
  if (footer) {
    const image = footer.diskType === VHD_TYPE_FIXED ? new VhdFixedImage(container, footer) : await VhdDynamicImage.open(container, footer, options, openImageSource)
    rememberVhdId(image, footer)
    return image
  }
  return new RawImage(container)
}

/**
 * A resolver for local files: candidate paths are taken relative to the child's folder and must stay inside
 * `allowedRoot` (default: the child's folder), because the paths come from the image and are hostile.
 */
export function localParentResolver(childPath: string, allowedRoot = dirname(childPath)): ParentResolver {
  const root = resolve(allowedRoot)
  return async (locator: ParentLocator) => {
    // Local files are labelled with their absolute path, so a grandparent resolves beside its own child.
    const base = isAbsolute(locator.child) ? dirname(locator.child) : dirname(resolve(childPath))
    const tried: string[] = []
    for (const candidate of locator.candidates) {
      const normalised = candidate.replace(/\\/g, '/')
      const windowsAbsolute = /^[A-Za-z]:/.test(candidate)
      const paths = windowsAbsolute ? [resolve(base, normalised.split('/').pop() ?? '')] : isAbsolute(normalised) ? [normalised, resolve(base, normalised.split('/').pop() ?? '')] : [resolve(base, normalised)]
      for (const p of paths) {
        const full = resolve(p)
        if (full !== root && !full.startsWith(root + sep)) {
          tried.push(`${p} (outside ${root})`)
          continue
        }
        try {
          return await FileSource.open(full, { label: full })
        } catch {
          tried.push(full)
        }
      }
    }
    throw new DiskFormatError('missing-parent', `${locator.child}: parent image not found (tried ${tried.join(', ') || 'nothing: no path recorded'})`)
  }
}

/** Opens a local image file of any supported format, with parents resolved beside it. */
export async function openImageFile(path: string, options: { signal?: AbortSignal; resolveParent?: ParentResolver; allowedRoot?: string } = {}): Promise<ImageSource> {
  const file = await FileSource.open(resolve(path), { label: resolve(path) })
  try {
    return await openImageSource(file, {
      resolveParent: options.resolveParent ?? localParentResolver(path, options.allowedRoot),
      ...(options.signal ? { signal: options.signal } : {}),
    })
  } catch (e) {
    await file.close()
    throw e
  }
}
