import type { VolumeDto } from '../../../engine/api/contract'

/** How many rows the file list shows at first, and how many more each "show more" adds. */
export const PAGE = 500

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

export function volumeLabel(v: VolumeDto): string {
  const fs = v.filesystem
  return [v.locator, fs?.type ?? v.content, fs?.label || v.partitionName || ''].filter((x) => x !== '').join(' · ')
}
