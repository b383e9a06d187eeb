import { createHash } from 'node:crypto'
import { CHUNK_SIZE, FORMAT_VERSION, MAX_DISK_SIZE, MAX_DISKS_PER_POINT, MAX_MANIFEST_BYTES, chunkCount, isChunkId, isPointId } from './format.js'
import { RepositoryError } from './errors.js'
import type { ChunkOps } from './codec/chunk-ops.js'
import type { DiskRecord, JsonValue, PointManifest, PointStats } from './types.js'

/** SHA-256 over the chunk list: for each chunk its 32-byte id, or 32 zero bytes for a zero chunk; then the size. */
export function chunkListSha256(size: number, chunks: readonly (string | null)[]): string {
  const h = createHash('sha256')
  const zero = Buffer.alloc(32)
  for (const id of chunks) h.update(id === null ? zero : Buffer.from(id, 'hex'))
  const tail = Buffer.alloc(8)
  tail.writeBigUInt64BE(BigInt(size))
  return h.update(tail).digest('hex')
}

function bodyChecksum(body: string): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`
}

/**
 * Serialises a manifest. Plain repositories store readable JSON whose last field `checksum` covers the rest;
 * encrypted ones seal the same JSON (GCM authenticates it, the checksum is kept for uniformity).
 */
export function encodeManifest(manifest: PointManifest, ops: ChunkOps, encrypted: boolean): Buffer {
  const body = JSON.stringify(manifest)
  const text = `${body.slice(0, -1)},"checksum":${JSON.stringify(bodyChecksum(body))}}`
  const bytes = Buffer.from(text, 'utf8')
  return encrypted ? ops.sealManifest(bytes, manifest.id) : bytes
}

/** Reads and validates a manifest; anything unexpected is CORRUPT_MANIFEST naming the point and the problem. */
export function decodeManifest(stored: Buffer, pointId: string, ops: ChunkOps, encrypted: boolean): PointManifest {
  const fail = (reason: string): never => {
    throw new RepositoryError('CORRUPT_MANIFEST', `Restore point ${pointId} is damaged: ${reason}. It cannot be used; other points are not affected.`, {
      pointId,
      reason,
    })
  }
  let text: string
  try {
    text = (encrypted ? ops.openManifest(stored, pointId, MAX_MANIFEST_BYTES) : stored).toString('utf8')
  } catch (error) {
    if (error instanceof RepositoryError) return fail(String(error.params.reason ?? error.message))
    throw error
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return fail('its manifest is not valid JSON')
  }
  if (!isObject(parsed)) return fail('its manifest is not a JSON object')
  const { checksum, ...rest } = parsed
  if (typeof checksum !== 'string' || checksum !== bodyChecksum(JSON.stringify(rest))) fail('its manifest checksum does not match (edited or damaged)')
  return validateManifest(rest, pointId, fail)
}

function validateManifest(m: Record<string, unknown>, pointId: string, fail: (reason: string) => never): PointManifest {
  if (m.format !== 'lifeboat-point') fail('it is not a Lifeboat restore point')
  if (m.version !== FORMAT_VERSION) fail(`it uses format version ${String(m.version)}, which this Lifeboat does not read`)
  if (m.id !== pointId) fail('its id does not match its file name')
  if (m.parentId !== null && !isPointId(m.parentId)) fail('its parent id is invalid')
  if (m.chunkSize !== CHUNK_SIZE) fail(`its chunk size is ${String(m.chunkSize)}, not ${CHUNK_SIZE}`)
  const vm = m.vm
  if (!isObject(vm) || !isShortString(vm.id) || !isShortString(vm.name) || !('config' in vm)) fail('its VM description is invalid')
  const host = m.sourceHost
  if (!isObject(host) || !isShortString(host.name) || !optionalShortString(host.kind) || !optionalShortString(host.id)) fail('its source host is invalid')
  if (m.mode !== 'cold' && m.mode !== 'warm' && m.mode !== 'hot') fail('its backup mode is invalid')
  if (m.consistency !== 'offline' && m.consistency !== 'app' && m.consistency !== 'crash') fail('its consistency is invalid')
  if (!isIsoTime(m.startedAt) || !isIsoTime(m.finishedAt)) fail('its times are invalid')
  if (!Array.isArray(m.disks) || m.disks.length === 0 || m.disks.length > MAX_DISKS_PER_POINT) fail('its disk list is invalid')
  const names = new Set<string>()
  const disks = (m.disks as unknown[]).map((d, i) => validateDisk(d, i, fail))
  for (const d of disks) {
    if (names.has(d.name)) fail(`it names disk "${d.name}" twice`)
    names.add(d.name)
  }
  const stats = m.stats
  const statKeys: (keyof PointStats)[] = ['bytesRead', 'bytesNew', 'bytesStored', 'chunksNew', 'chunksReused', 'chunksZero', 'chunksFromParent']
  if (!isObject(stats) || !statKeys.every((k) => isCount(stats[k]))) fail('its statistics are invalid')
  // Counted since points say what was skipped; older points lack them.
  if (!(['bytesHoles', 'bytesZero'] as const).every((k) => stats[k] === undefined || isCount(stats[k]))) fail('its statistics are invalid')
  return { ...(m as unknown as PointManifest), disks }
}

function validateDisk(d: unknown, index: number, fail: (reason: string) => never): DiskRecord {
  if (!isObject(d) || !isShortString(d.name)) return fail(`disk ${index} has no valid name`)
  const size = d.size
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > MAX_DISK_SIZE) return fail(`disk "${d.name}" has an impossible size`)
  // The count check comes first: it bounds every loop below by what the (already checked) size implies.
  if (!Array.isArray(d.chunks) || d.chunks.length !== chunkCount(size)) return fail(`disk "${d.name}" has a chunk list that does not match its size`)
  const chunks = d.chunks as unknown[]
  for (const c of chunks) if (c !== null && !isChunkId(c)) return fail(`disk "${d.name}" has an invalid chunk id`)
  const list = chunks as (string | null)[]
  if (d.chunkListSha256 !== chunkListSha256(size, list)) return fail(`disk "${d.name}" has a chunk list checksum that does not match`)
  const record: DiskRecord = { name: d.name, size, chunks: list, chunkListSha256: d.chunkListSha256 }
  return d.meta === undefined ? record : { ...record, meta: d.meta as JsonValue }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
function isShortString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 1024
}
function optionalShortString(v: unknown): boolean {
  return v === undefined || isShortString(v)
}
function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}
function isIsoTime(v: unknown): boolean {
  return typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v))
}
