import { RepositoryError } from './errors.js'

/** Format constants. FORMAT.md documents each of them; changing one means a new FORMAT_VERSION. */
export const FORMAT_NAME = 'lifeboat-repository'
export const FORMAT_VERSION = 1
export const CHUNK_SIZE = 4 * 1024 * 1024

/** Object keys (paths relative to the repository root, '/'-separated on every backend). */
export const CONFIG_KEY = 'config.json'
export const CHUNKS_PREFIX = 'chunks/'
export const POINTS_PREFIX = 'points/'
export const TRASH_PREFIX = 'trash/'
export const LOCKS_PREFIX = 'locks/'

/** Largest sealed chunk object: header + IV + a stored-raw 4 MiB chunk + GCM tag, with a little slack. */
export const MAX_CHUNK_OBJECT_BYTES = CHUNK_SIZE + 4096
/** Largest manifest we agree to read: ~2.4 M chunk ids, i.e. ~9 TiB of disks in one restore point. */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024
export const MAX_CONFIG_BYTES = 64 * 1024
export const MAX_LOCK_BYTES = 16 * 1024
/** Largest disk a manifest may describe (64 TiB): bounds the chunk list a hostile manifest can make us build. */
export const MAX_DISK_SIZE = 64 * 1024 ** 4
export const MAX_DISKS_PER_POINT = 256

const CHUNK_ID = /^[0-9a-f]{64}$/
const POINT_ID = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$/

export function isChunkId(value: unknown): value is string {
  return typeof value === 'string' && CHUNK_ID.test(value)
}

export function isPointId(value: unknown): value is string {
  return typeof value === 'string' && POINT_ID.test(value)
}

export function chunkKey(id: string): string {
  if (!CHUNK_ID.test(id)) throw new RepositoryError('INVALID_ARGUMENT', `"${id.slice(0, 80)}" is not a chunk id.`, { id: id.slice(0, 80) })
  return `${CHUNKS_PREFIX}${id.slice(0, 2)}/${id}`
}

export function pointKey(pointId: string): string {
  assertPointId(pointId)
  return `${POINTS_PREFIX}${pointId}.json`
}

export function trashKey(pointId: string): string {
  assertPointId(pointId)
  return `${TRASH_PREFIX}${pointId}.json`
}

export function assertPointId(pointId: string): void {
  if (!POINT_ID.test(pointId)) {
    throw new RepositoryError('POINT_NOT_FOUND', `"${pointId.slice(0, 80)}" is not a restore point id.`, { pointId: pointId.slice(0, 80) })
  }
}

/** The chunk id a key names, or undefined for anything else (temp files, strays). */
export function chunkIdFromKey(key: string): string | undefined {
  if (!key.startsWith(CHUNKS_PREFIX)) return undefined
  const rest = key.slice(CHUNKS_PREFIX.length)
  const id = rest.slice(3)
  return rest.length === 67 && rest[2] === '/' && isChunkId(id) && rest.startsWith(id.slice(0, 2)) ? id : undefined
}

export function pointIdFromKey(key: string, prefix: string): string | undefined {
  if (!key.startsWith(prefix) || !key.endsWith('.json')) return undefined
  const id = key.slice(prefix.length, -'.json'.length)
  return isPointId(id) ? id : undefined
}

/** Point ids sort by creation time: UTC timestamp plus 32 random bits so two backups in one second differ. */
export function newPointId(now: Date, random: Buffer): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${stamp}-${random.subarray(0, 4).toString('hex')}`
}

export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_SIZE)
}
