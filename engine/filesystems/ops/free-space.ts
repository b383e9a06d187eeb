import { statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/** The parts of fs.statfs a free-space check needs; tests inject their own answer. */
export type StatfsFn = (path: string) => Promise<{ readonly bavail: number | bigint; readonly bsize: number | bigint }>

export interface SpaceCheck {
  readonly ok: boolean
  readonly needed: number
  readonly free: number
  readonly message: string
}

/** Free bytes for an unprivileged writer at `target`, asked of the nearest folder that exists. */
export async function freeBytes(target: string, stat: StatfsFn = statfs): Promise<number> {
  let at = resolve(target)
  for (;;) {
    try {
      const s = await stat(at)
      return Number(s.bavail) * Number(s.bsize)
    } catch (err) {
      const parent = dirname(at)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw err
      at = parent
    }
  }
}

export async function checkFreeSpace(target: string, needed: number, stat?: StatfsFn): Promise<SpaceCheck> {
  const free = await freeBytes(target, stat)
  const ok = needed <= free
  const message = ok
    ? `${formatBytes(needed)} to write, ${formatBytes(free)} free in ${target}`
    : `Not enough free space in ${target}: the restore needs ${formatBytes(needed)} (${needed} bytes) but only ${formatBytes(free)} (${free} bytes) are free. Nothing was written.`
  return { ok, needed, free, message }
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u] ?? ''}`
}
