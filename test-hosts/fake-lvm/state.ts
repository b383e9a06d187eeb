/**
 * The fake LVM's metadata: volume groups and logical volumes in one JSON file, changed only under a lock, written
 * atomically — the part of an LVM VG's text metadata that the emulated commands need.
 *
 * Data lives in plain files: LV `vg/lv` is `<dataDir>/<vg>/<lv>`, reachable as `<devRoot>/<vg>/<lv>` and
 * `<devRoot>/mapper/<vg>-<lv>` (hyphens doubled, as device-mapper names them) through symlinks, like the real
 * /dev/<vg>/<lv> → ../dm-N links. A snapshot's data file is a reflink (copy-on-write) or plain copy of its origin
 * taken at lvcreate time; its COW-space use is tracked as the set of chunks written since (see cow.ts).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { withFileLock } from '../file-lock'

export interface FakeLvmConfig {
  readonly stateDir: string
  /** Where the device symlinks go: `/dev` for real paths, or a folder of the test's own. */
  readonly devRoot: string
  /** Where LV data files live (ideally on a reflink-capable filesystem). */
  readonly dataDir: string
  readonly copyMode: 'reflink' | 'copy'
  /** Refuse to run for non-root callers, as LVM does (it cannot take its locks). */
  readonly requireRoot: boolean
}

export interface VgRecord {
  readonly name: string
  readonly uuid: string
  readonly extentSize: number
  readonly extentCount: number
  readonly tags: readonly string[]
  seqno: number
}

export interface SnapshotRecord {
  readonly origin: string
  readonly chunkSize: number
  /** Chunks (of the origin's address space) already copied to the COW store: each cost one chunk of space. */
  exceptions: number[]
  invalid: boolean
  /** mtime+size of origin and snapshot files when last compared, to skip re-reading unchanged files. */
  scanned?: string
}

export interface LvRecord {
  readonly vg: string
  readonly name: string
  readonly uuid: string
  /** For a snapshot: the COW store's extents (what lvs reports as its size). */
  readonly extents: number
  /** Size of the data the device exposes (for a snapshot: the origin's size). */
  readonly deviceBytes: number
  readonly createdAt: number
  readonly host: string
  readonly tags: readonly string[]
  readonly readOnly: boolean
  readonly minor: number
  snapshot?: SnapshotRecord
}

export interface FakeLvmState {
  vgs: VgRecord[]
  lvs: LvRecord[]
  nextMinor: number
}

export const CONFIG_FILE = 'config.json'

export async function loadConfig(stateDir: string): Promise<FakeLvmConfig> {
  return JSON.parse(await readFile(path.join(stateDir, CONFIG_FILE), 'utf8')) as FakeLvmConfig
}

export async function saveConfig(config: FakeLvmConfig): Promise<void> {
  await mkdir(config.stateDir, { recursive: true })
  await writeFile(path.join(config.stateDir, CONFIG_FILE), JSON.stringify(config, null, 2))
}

async function loadState(config: FakeLvmConfig): Promise<FakeLvmState> {
  try {
    return JSON.parse(await readFile(path.join(config.stateDir, 'state.json'), 'utf8')) as FakeLvmState
  } catch {
    return { vgs: [], lvs: [], nextMinor: 0 }
  }
}

async function saveState(config: FakeLvmConfig, state: FakeLvmState): Promise<void> {
  const file = path.join(config.stateDir, 'state.json')
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(state))
  await rename(tmp, file)
}

/** Runs `fn` on the state under the state lock and saves what it leaves (LVM holds its VG lock the same way). */
export async function withState<T>(config: FakeLvmConfig, fn: (state: FakeLvmState) => Promise<T>): Promise<T> {
  return withFileLock(path.join(config.stateDir, 'lock'), async () => {
    const state = await loadState(config)
    const result = await fn(state)
    await saveState(config, state)
    return result
  })
}

export const dataFile = (config: FakeLvmConfig, vg: string, lv: string): string => path.join(config.dataDir, vg, lv)
export const devPath = (config: FakeLvmConfig, vg: string, lv: string): string => path.join(config.devRoot, vg, lv)
export const dmPath = (config: FakeLvmConfig, vg: string, lv: string): string =>
  path.join(config.devRoot, 'mapper', `${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`)
/** What the device links of an invalidated snapshot point at: a folder, so reads fail (real LVM: EIO). */
export const invalidTarget = (config: FakeLvmConfig): string => path.join(config.stateDir, 'invalid-snapshot')

export async function linkDevice(config: FakeLvmConfig, vg: string, lv: string, target: string): Promise<void> {
  for (const link of [devPath(config, vg, lv), dmPath(config, vg, lv)]) {
    await mkdir(path.dirname(link), { recursive: true })
    await rm(link, { force: true })
    await symlink(target, link)
  }
}

export async function unlinkDevice(config: FakeLvmConfig, vg: string, lv: string): Promise<void> {
  await rm(devPath(config, vg, lv), { force: true })
  await rm(dmPath(config, vg, lv), { force: true })
}

/** LVM's UUID text form: 32 characters of [A-Za-z0-9] grouped 6-4-4-4-4-4-6. */
export function lvmUuid(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  const chars = [...randomBytes(32)].map((b) => alphabet[b % alphabet.length] ?? 'A').join('')
  let at = 0
  return [6, 4, 4, 4, 4, 4, 6]
    .map((n) => {
      at += n
      return chars.slice(at - n, at)
    })
    .join('-')
}

export const findVg = (state: FakeLvmState, name: string): VgRecord | undefined => state.vgs.find((v) => v.name === name)
export const findLv = (state: FakeLvmState, vg: string, name: string): LvRecord | undefined => state.lvs.find((l) => l.vg === vg && l.name === name)
export const snapshotsOf = (state: FakeLvmState, vg: string, origin: string): LvRecord[] =>
  state.lvs.filter((l) => l.vg === vg && l.snapshot?.origin === origin)
export const isOrigin = (state: FakeLvmState, lv: LvRecord): boolean => snapshotsOf(state, lv.vg, lv.name).length > 0

export function freeExtents(state: FakeLvmState, vg: VgRecord): number {
  const used = state.lvs.filter((l) => l.vg === vg.name).reduce((sum, l) => sum + l.extents, 0)
  return vg.extentCount - used
}
