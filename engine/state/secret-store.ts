import { readFile } from 'node:fs/promises'
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto'
import { z } from 'zod'
import type { HostSecret } from '../../adapters/host-adapter'
import { writeFileAtomic } from './atomic-file'
import { withFileLock } from './file-lock'
import { StateError } from './state-error'

const SealedSchema = z.object({
  scheme: z.string().max(64),
  data: z.string().max(1_000_000),
  params: z.record(z.string(), z.union([z.string().max(1000), z.number()])).optional(),
})
export type SealedSecret = z.infer<typeof SealedSchema>
const SecretsFileSchema = z.object({ version: z.literal(1), secrets: z.record(z.string(), SealedSchema) })

const HostSecretSchema = z.union([
  z.object({ type: z.literal('password'), password: z.string() }),
  z.object({ type: z.literal('key'), privateKey: z.string(), passphrase: z.string().optional() }),
])
const PassphraseSchema = z.object({ type: z.literal('passphrase'), passphrase: z.string() })
const S3CredentialsSchema = z.object({ type: z.literal('s3'), accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string().optional() })
const NotifySecretSchema = z.object({ type: z.literal('notify'), password: z.string().optional(), url: z.string().optional(), token: z.string().optional() })

/** The secret parts of an alert channel: an SMTP password, a webhook URL (its path is the key), a token. */
export interface NotifySecret {
  readonly password?: string
  readonly url?: string
  readonly token?: string
}

/** Credentials of an S3-compatible repository (kept like host credentials; never returned by the API). */
export interface S3Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

/** Turns a secret into stored form and back. The desktop app adds one backed by the OS keychain. */
export interface SecretCodec {
  readonly scheme: string
  /** Plain words for the UI: how the secrets are protected. */
  readonly description: string
  seal(plain: string): Promise<SealedSecret>
  open(sealed: SealedSecret): Promise<string>
}

/** Protection by file permissions only (0600 in a 0700 folder), like ~/.ssh. */
export const fileCodec: SecretCodec = {
  scheme: 'file',
  description: 'saved in a file only your user can read (0600)',
  seal: (plain) => Promise.resolve({ scheme: 'file', data: Buffer.from(plain, 'utf8').toString('base64') }),
  open: (sealed) => Promise.resolve(Buffer.from(sealed.data, 'base64').toString('utf8')),
}

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))))

/** AES-256-GCM with a key derived from the admin's passphrase (scrypt N=2^15, r=8, p=1). */
export function passphraseCodec(passphrase: string): SecretCodec {
  const N = 32768
  return {
    scheme: 'scrypt-aes-256-gcm',
    description: 'encrypted with your Lifeboat passphrase',
    async seal(plain) {
      const salt = randomBytes(16)
      const iv = randomBytes(12)
      const key = await scrypt(passphrase, salt, 32, { N, r: 8, p: 1, maxmem: 64 * 1024 * 1024 })
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return {
        scheme: 'scrypt-aes-256-gcm',
        data: ct.toString('base64'),
        params: { salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), N },
      }
    },
    async open(sealed) {
      const p = sealed.params ?? {}
      const n = typeof p.N === 'number' && p.N >= 1024 && p.N <= 1 << 20 ? p.N : N
      const key = await scrypt(passphrase, Buffer.from(String(p.salt), 'base64'), 32, { N: n, r: 8, p: 1, maxmem: 256 * 1024 * 1024 })
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(String(p.iv), 'base64'))
      decipher.setAuthTag(Buffer.from(String(p.tag), 'base64'))
      try {
        return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8')
      } catch (err) {
        throw new StateError('SECRET_LOCKED', 'The Lifeboat passphrase is wrong: the saved credentials could not be decrypted.', {}, { cause: err })
      }
    },
  }
}

const lockedHints: Record<string, string> = {
  'electron-safe-storage':
    'These credentials were saved by the Lifeboat desktop app in the OS keychain, which only the desktop app can open. Enter them again here with `lifeboat host credentials`.',
  'scrypt-aes-256-gcm': 'These credentials are encrypted with a Lifeboat passphrase. Set LIFEBOAT_SECRETS_PASSPHRASE to use them.',
}

/**
 * Host credentials, one sealed entry per host id, in `secrets.json` (0600). New secrets are sealed with the
 * `writer` codec; any codec in `readers` can open what it knows, so the desktop app can use a host added from
 * the CLI. Secrets never leave the engine: the API returns only whether a host has them.
 */
export class SecretStore {
  private readonly readers: Map<string, SecretCodec>

  constructor(
    private readonly file: string,
    private readonly writer: SecretCodec,
    readers: readonly SecretCodec[] = [],
  ) {
    this.readers = new Map([writer, ...readers].map((c) => [c.scheme, c]))
  }

  get protection(): string {
    return this.writer.description
  }

  /** A repository passphrase saved under `id`, or undefined when none was saved. */
  async getPassphrase(id: string): Promise<string | undefined> {
    if ((await this.read()).secrets[id] === undefined) return undefined
    const parsed = PassphraseSchema.safeParse(await this.openJson(id))
    if (!parsed.success) throw new StateError('STATE_CORRUPT', 'The saved repository passphrase is damaged. Enter it again.', { id })
    return parsed.data.passphrase
  }

  async setPassphrase(id: string, passphrase: string): Promise<void> {
    const sealed = await this.writer.seal(JSON.stringify({ type: 'passphrase', passphrase }))
    await this.mutate((secrets) => {
      secrets[id] = sealed
    })
  }

  /** S3 credentials saved under `id`, or undefined when none were saved. */
  async getS3Credentials(id: string): Promise<S3Credentials | undefined> {
    if ((await this.read()).secrets[id] === undefined) return undefined
    const parsed = S3CredentialsSchema.safeParse(await this.openJson(id))
    if (!parsed.success) throw new StateError('STATE_CORRUPT', 'The saved S3 credentials are damaged. Enter them again.', { id })
    const { accessKeyId, secretAccessKey, sessionToken } = parsed.data
    return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken }
  }

  async setS3Credentials(id: string, credentials: S3Credentials): Promise<void> {
    const sealed = await this.writer.seal(JSON.stringify({ type: 's3', ...credentials }))
    await this.mutate((secrets) => {
      secrets[id] = sealed
    })
  }

  /** The secrets of an alert channel saved under `id` (empty when it has none). */
  async getNotifySecret(id: string): Promise<NotifySecret> {
    if ((await this.read()).secrets[id] === undefined) return {}
    const parsed = NotifySecretSchema.safeParse(await this.openJson(id))
    if (!parsed.success) throw new StateError('STATE_CORRUPT', 'The saved secrets of an alert channel are damaged. Remove the channel and add it again.', { id })
    const { password, url, token } = parsed.data
    return { ...(password !== undefined ? { password } : {}), ...(url !== undefined ? { url } : {}), ...(token !== undefined ? { token } : {}) }
  }

  async setNotifySecret(id: string, secret: NotifySecret): Promise<void> {
    const sealed = await this.writer.seal(JSON.stringify({ type: 'notify', ...secret }))
    await this.mutate((secrets) => {
      secrets[id] = sealed
    })
  }

  private async openJson(id: string): Promise<unknown> {
    const sealed = (await this.read()).secrets[id]
    if (sealed === undefined) throw new StateError('SECRET_MISSING', 'No saved credentials for this host. Enter them again.', { hostId: id })
    const codec = this.readers.get(sealed.scheme)
    if (codec === undefined) {
      throw new StateError('SECRET_LOCKED', lockedHints[sealed.scheme] ?? `The credentials are protected by "${sealed.scheme}", which this Lifeboat cannot open.`, {
        scheme: sealed.scheme,
      })
    }
    const plain = await codec.open(sealed)
    try {
      return JSON.parse(plain) as unknown
    } catch {
      return undefined
    }
  }

  async get(id: string): Promise<HostSecret> {
    const json = await this.openJson(id)
    const parsed = HostSecretSchema.safeParse(json)
    if (!parsed.success) throw new StateError('STATE_CORRUPT', 'The saved credentials for this host are damaged. Enter them again.', { hostId: id })
    const s = parsed.data
    return s.type === 'password'
      ? { type: 'password', password: s.password }
      : s.passphrase === undefined
        ? { type: 'key', privateKey: s.privateKey }
        : { type: 'key', privateKey: s.privateKey, passphrase: s.passphrase }
  }

  async set(id: string, secret: HostSecret): Promise<void> {
    const sealed = await this.writer.seal(JSON.stringify(secret))
    await this.mutate((secrets) => {
      secrets[id] = sealed
    })
  }

  async delete(id: string): Promise<void> {
    await this.mutate((secrets) => {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by host id
      delete secrets[id]
    })
  }

  private async mutate(change: (secrets: Record<string, SealedSecret>) => void): Promise<void> {
    await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      change(data.secrets)
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n', 0o600)
    })
  }

  private async read(): Promise<z.infer<typeof SecretsFileSchema>> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, secrets: {} }
      throw err
    }
    try {
      return SecretsFileSchema.parse(JSON.parse(text))
    } catch (err) {
      throw new StateError('STATE_CORRUPT', `${this.file} is damaged; Lifeboat has not changed it.`, { file: this.file }, { cause: err })
    }
  }
}

/** The CLI's and the web bridge's store: passphrase-encrypted when LIFEBOAT_SECRETS_PASSPHRASE is set. */
export function nodeSecretStore(file: string, env: NodeJS.ProcessEnv = process.env): SecretStore {
  const passphrase = env.LIFEBOAT_SECRETS_PASSPHRASE
  if (passphrase !== undefined && passphrase !== '') return new SecretStore(file, passphraseCodec(passphrase), [fileCodec])
  return new SecretStore(file, fileCodec)
}
