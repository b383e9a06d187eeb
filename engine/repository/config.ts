import { CHUNK_SIZE, CONFIG_KEY, FORMAT_NAME, FORMAT_VERSION, MAX_CONFIG_BYTES } from './format.js'
import { RepositoryError } from './errors.js'
import { ObjectTooLargeError, type ObjectLockSetting, type RepositoryBackend } from './backend.js'
import { validateScrypt, type WrappedKeys } from './codec/keys.js'

/** config.json: the one object that says what a repository is. Written once by init, never changed after. */
export interface RepositoryConfig {
  readonly format: typeof FORMAT_NAME
  readonly version: number
  readonly id: string
  readonly createdAt: string
  readonly chunkSize: number
  readonly compression: { readonly algorithm: 'zstd'; readonly level: number }
  readonly encryption: WrappedKeys | null
  /** Optional (S3 only): every restore point's chunks and manifest stay immutable this long (object-lock.ts). */
  readonly objectLock?: ObjectLockSetting
}

export async function readConfig(backend: RepositoryBackend, signal?: AbortSignal): Promise<RepositoryConfig> {
  let raw: Buffer | undefined
  try {
    raw = await backend.get(CONFIG_KEY, { maxBytes: MAX_CONFIG_BYTES, signal })
  } catch (error) {
    if (error instanceof ObjectTooLargeError) throw corrupt('the configuration file is far too large')
    throw error
  }
  if (raw === undefined) {
    throw new RepositoryError('REPO_NOT_FOUND', `There is no Lifeboat repository at ${backend.label}.`, { location: backend.label })
  }
  return parseConfig(raw)
}

/** A stored config.json's bytes as a configuration (CORRUPT_CONFIG / UNSUPPORTED_FORMAT when they are not one). */
export function parseConfig(raw: Buffer): RepositoryConfig {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw.toString('utf8'))
  } catch {
    throw corrupt('the configuration file is not valid JSON')
  }
  return validateConfig(parsed)
}

function validateConfig(c: unknown): RepositoryConfig {
  if (typeof c !== 'object' || c === null) throw corrupt('the configuration is not a JSON object')
  const o = c as Record<string, unknown>
  if (o.format !== FORMAT_NAME) throw corrupt('it is not a Lifeboat repository configuration')
  if (typeof o.version !== 'number' || o.version > FORMAT_VERSION || o.version < 1) {
    throw new RepositoryError('UNSUPPORTED_FORMAT', `This repository uses format version ${String(o.version)}; this Lifeboat reads version ${FORMAT_VERSION}. Update Lifeboat to open it.`, {
      version: String(o.version),
    })
  }
  if (typeof o.id !== 'string' || !/^[0-9a-f-]{36}$/.test(o.id)) throw corrupt('the repository id is invalid')
  if (o.chunkSize !== CHUNK_SIZE) throw corrupt(`the chunk size ${String(o.chunkSize)} is not supported`)
  const comp = o.compression as { algorithm?: unknown; level?: unknown } | undefined
  if (comp?.algorithm !== 'zstd' || typeof comp.level !== 'number' || !Number.isInteger(comp.level) || comp.level < -7 || comp.level > 22) {
    throw corrupt('the compression setting is invalid')
  }
  const e = o.encryption as Partial<WrappedKeys> | null | undefined
  if (e !== null) {
    const kdf = e?.kdf
    if (e?.cipher !== 'aes-256-gcm' || kdf?.name !== 'scrypt' || typeof kdf.salt !== 'string' || typeof e.iv !== 'string' || typeof e.data !== 'string') {
      throw corrupt('the encryption record is invalid')
    }
    const problem = validateScrypt({ N: kdf.N, r: kdf.r, p: kdf.p })
    if (problem !== undefined) throw corrupt(`the key derivation settings are unsafe (${problem})`)
  }
  const lock = o.objectLock as { mode?: unknown; days?: unknown } | undefined
  if (lock !== undefined && ((lock.mode !== 'GOVERNANCE' && lock.mode !== 'COMPLIANCE') || typeof lock.days !== 'number' || !Number.isInteger(lock.days) || lock.days < 1 || lock.days > 36_500)) {
    throw corrupt('the object lock setting is invalid')
  }
  return o as unknown as RepositoryConfig
}

function corrupt(reason: string): RepositoryError {
  return new RepositoryError('CORRUPT_CONFIG', `The repository configuration is damaged: ${reason}. Nothing was changed.`, { reason })
}
