import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto'
import { RepositoryError } from '../errors.js'

/** The secrets of an encrypted repository, derived from one random master key that the passphrase unwraps. */
export interface RepositoryKeys {
  /** AES-256-GCM key for chunk and manifest contents. */
  readonly dataKey: Buffer
  /** HMAC-SHA-256 key for chunk ids, so an id reveals nothing about the content it names. */
  readonly idKey: Buffer
}

export interface ScryptParams {
  readonly N: number
  readonly r: number
  readonly p: number
}

/** 2^15 × 8 × 128 B = 32 MiB and ~0.1 s per attempt: slows guessing without making opening a chore. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 }

/** Bounds on what a (possibly edited) config may ask of scrypt, so a hostile file cannot exhaust memory or time. */
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024

export interface WrappedKeys {
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string }
  readonly cipher: 'aes-256-gcm'
  readonly iv: string
  readonly data: string
}

export function validateScrypt(params: ScryptParams): string | undefined {
  const { N, r, p } = params
  if (!Number.isSafeInteger(N) || N < 1024 || N > 2 ** 22 || (N & (N - 1)) !== 0) return 'scrypt N must be a power of two between 2^10 and 2^22'
  if (!Number.isSafeInteger(r) || r < 1 || r > 32) return 'scrypt r must be between 1 and 32'
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) return 'scrypt p must be between 1 and 16'
  if (128 * N * r > MAX_SCRYPT_MEMORY) return 'scrypt parameters need more than 1 GiB of memory'
  return undefined
}

/**
 * Key derivations started ahead of the repository's opening (prefetchWrappingKey), by salt. Each is used once, by the
 * first unlock with the same passphrase and parameters, and then forgotten; a mismatch derives afresh.
 */
const early = new Map<string, { readonly passphrase: string; readonly params: ScryptParams; readonly key: Promise<Buffer> }>()

/**
 * Starts the passphrase's key derivation for a repository's key record before the code that opens the repository has
 * loaded (the CLI does this while it loads): scrypt runs on libuv's thread pool, so its ~0.1 s overlaps the loading
 * instead of following it. Invalid parameters are left for the real unlock to report.
 */
export function prefetchWrappingKey(passphrase: string, wrapped: WrappedKeys): void {
  if (validateScrypt(wrapped.kdf) !== undefined || early.has(wrapped.kdf.salt)) return
  const key = deriveNow(passphrase, Buffer.from(wrapped.kdf.salt, 'base64'), wrapped.kdf)
  key.catch(() => undefined)
  early.set(wrapped.kdf.salt, { passphrase, params: { N: wrapped.kdf.N, r: wrapped.kdf.r, p: wrapped.kdf.p }, key })
}

async function deriveWrappingKey(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const saltText = salt.toString('base64')
  const started = early.get(saltText)
  if (started !== undefined) {
    early.delete(saltText)
    if (started.passphrase === passphrase && started.params.N === params.N && started.params.r === params.r && started.params.p === params.p) return await started.key
  }
  return await deriveNow(passphrase, salt, params)
}

function deriveNow(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), salt, 32, { ...params, maxmem: 128 * params.N * params.r * 2 + 1024 * 1024 }, (error, key) =>
      error === null ? resolve(key) : reject(error),
    )
  })
}

function expand(master: Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), label, 32))
}

function keysFromMaster(master: Buffer): RepositoryKeys {
  return { dataKey: expand(master, 'lifeboat v1 data'), idKey: expand(master, 'lifeboat v1 chunk-id') }
}

/** Makes a new master key and wraps it with the passphrase. The AAD binds the wrapped key to this repository. */
export async function createKeys(passphrase: string, repoId: string, params: ScryptParams): Promise<{ keys: RepositoryKeys; wrapped: WrappedKeys }> {
  const problem = validateScrypt(params)
  if (problem !== undefined) throw new RepositoryError('INVALID_ARGUMENT', `Cannot create the repository: ${problem}.`)
  if (passphrase.length === 0) throw new RepositoryError('INVALID_ARGUMENT', 'The passphrase must not be empty.')
  const master = randomBytes(64)
  const salt = randomBytes(32)
  const iv = randomBytes(12)
  const kek = await deriveWrappingKey(passphrase, salt, params)
  const cipher = createCipheriv('aes-256-gcm', kek, iv)
  cipher.setAAD(Buffer.from(`lifeboat-keys:${repoId}`))
  const data = Buffer.concat([cipher.update(master), cipher.final(), cipher.getAuthTag()])
  return {
    keys: keysFromMaster(master),
    wrapped: { kdf: { name: 'scrypt', ...params, salt: salt.toString('base64') }, cipher: 'aes-256-gcm', iv: iv.toString('base64'), data: data.toString('base64') },
  }
}

/** Unwraps the master key; a wrong passphrase fails the GCM tag check and is reported as such. */
export async function unlockKeys(passphrase: string, repoId: string, wrapped: WrappedKeys): Promise<RepositoryKeys> {
  const salt = Buffer.from(wrapped.kdf.salt, 'base64')
  const iv = Buffer.from(wrapped.iv, 'base64')
  const data = Buffer.from(wrapped.data, 'base64')
  if (salt.length < 16 || iv.length !== 12 || data.length !== 64 + 16) {
    throw new RepositoryError('CORRUPT_CONFIG', 'The repository configuration holds a damaged key record.')
  }
  const kek = await deriveWrappingKey(passphrase, salt, wrapped.kdf)
  const decipher = createDecipheriv('aes-256-gcm', kek, iv)
  decipher.setAAD(Buffer.from(`lifeboat-keys:${repoId}`))
  decipher.setAuthTag(data.subarray(64))
  let master: Buffer
  try {
    master = Buffer.concat([decipher.update(data.subarray(0, 64)), decipher.final()])
  } catch {
    throw new RepositoryError('WRONG_PASSPHRASE', 'The passphrase does not open this repository. Nothing was read or changed.')
  }
  return keysFromMaster(master)
}
