import type { BlockSource } from './block-source'

export type ImageFormat = 'raw' | 'vhd-fixed' | 'vhd-dynamic' | 'vhd-differencing' | 'vhdx' | 'vhdx-differencing' | 'qcow2'

/**
 * Where a differencing image says its parent lives. `candidates` are the stored paths in the order worth trying
 * (relative before absolute); the resolver decides what they mean on this machine or host, and must not follow
 * them outside what the caller allows — the paths come from the image and are hostile.
 */
export interface ParentLocator {
  readonly child: string
  readonly candidates: readonly string[]
  /** Format named by the child (qcow2 backing format extension), if any. */
  readonly formatHint?: string
}

export type ParentResolver = (locator: ParentLocator, signal?: AbortSignal) => Promise<BlockSource>

export interface OpenImageOptions {
  readonly resolveParent?: ParentResolver
  readonly signal?: AbortSignal
  /** Internal: how deep in a parent chain this open is (bounded to stop cycles). */
  readonly depth?: number
}

/** A decoded virtual disk. Closing it closes the file under it and every parent in its chain. */
export interface ImageSource extends BlockSource {
  readonly format: ImageFormat
  /** The next image down the chain, for differencing/backed images. */
  readonly parent?: ImageSource
  /** The container (file) this image was decoded from. */
  readonly container: BlockSource
}

export const MAX_CHAIN_DEPTH = 32
