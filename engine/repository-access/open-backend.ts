import { ApiError } from '../api/contract-errors'
import { localBackend, sftpBackend, type ObjectLockSupport, type ObjectVersions, type RepositoryBackend } from '../repository'
import type { HostsStore } from '../state/hosts-store'
import type { S3Credentials, SecretStore } from '../state/secret-store'
import type { RepositoryLocation } from './location'

export interface BackendDeps {
  readonly secrets: SecretStore
  readonly hosts?: HostsStore
  readonly env: NodeJS.ProcessEnv
  readonly connectTimeoutMs?: number
}

/** The secret-store id under which an S3 repository's credentials are kept. */
export function s3CredentialsId(location: string): string {
  return `repo-s3:${location}`
}

/**
 * The storage behind a location, labelled with the location's normalised spelling (so messages and
 * `repo info` name the place the admin gave). Connections are new and owned by the backend: closing the
 * repository closes them.
 */
export async function openBackend(
  location: RepositoryLocation,
  label: string,
  deps: BackendDeps,
  options: { s3Credentials?: S3Credentials | undefined; signal?: AbortSignal | undefined } = {},
): Promise<RepositoryBackend> {
  switch (location.kind) {
    case 'local':
      return localBackend({ path: location.path })
    case 'sftp':
      return await openSftp(location, label, deps, options.signal)
    case 's3': {
      const credentials = options.s3Credentials ?? (await s3CredentialsFor(label, deps))
      // The AWS SDK is loaded only for an S3 repository: every other command would pay ~140 ms for it.
      const [{ S3Client }, { s3Backend }] = await Promise.all([import('@aws-sdk/client-s3'), import('../repository/backends/s3-backend.js')])
      const client = new S3Client({
        region: location.region ?? 'us-east-1',
        credentials,
        // The SDK's own default waits for ever on a connection that stopped answering: a stalled S3 endpoint would
        // hang a backup (and the schedule behind it). A connect that takes 30 s, or a request that receives nothing
        // for 2 minutes, fails and is retried by the SDK like any other network error.
        requestHandler: { connectionTimeout: 30_000, socketTimeout: 120_000 },
        ...(location.endpoint !== undefined
          ? {
              endpoint: location.endpoint,
              // S3-compatible servers (MinIO, Ceph, Garage, s3rver) address buckets by path, and many of them
              // reject the request checksums newer SDKs send by default.
              forcePathStyle: true,
              requestChecksumCalculation: 'WHEN_REQUIRED' as const,
              responseChecksumValidation: 'WHEN_REQUIRED' as const,
            }
          : { followRegionRedirects: true }),
      })
      const backend = s3Backend({ client, bucket: location.bucket, prefix: location.prefix, ownsClient: true })
      return guarded(backend, label, [credentials.secretAccessKey, credentials.accessKeyId, ...(credentials.sessionToken !== undefined ? [credentials.sessionToken] : [])])
    }
  }
}

async function openSftp(location: Extract<RepositoryLocation, { kind: 'sftp' }>, label: string, deps: BackendDeps, signal?: AbortSignal): Promise<RepositoryBackend> {
  const hosts = deps.hosts === undefined ? [] : await deps.hosts.list()
  const record = hosts.find((h) => h.name.toLowerCase() === location.host)
  if (record === undefined) {
    throw new ApiError(
      'HOST_NOT_FOUND',
      `There is no saved host named "${location.host}". In sftp://HOST/FOLDER, HOST is the name of a host saved in Lifeboat: add it first with \`lifeboat host add\` (which confirms its SSH key).`,
      { host: location.host, field: 'repo' },
    )
  }
  if (record.kind === 'xenserver') {
    throw new ApiError('INVALID_INPUT', `${record.name} is a XenServer/XCP-ng pool, reached over XAPI rather than SSH; keep SFTP repositories on a Linux or Hyper-V host.`, { field: 'repo', host: record.name })
  }
  const secret = await deps.secrets.get(record.id)
  // The SSH code is loaded only for an SFTP repository, like the AWS SDK for S3.
  const { SshConnection } = await import('../../adapters/ssh/ssh-connection')
  // Only ever with the key the admin confirmed when adding the host: an unknown or changed key stops the connection.
  const connection = await SshConnection.connect(
    {
      host: record.address,
      port: record.port,
      username: record.user,
      secret,
      pinnedFingerprint: record.fingerprint,
      ...(deps.connectTimeoutMs !== undefined ? { connectTimeoutMs: deps.connectTimeoutMs } : {}),
    },
    signal,
  )
  return sftpBackend({ connection, path: location.path, label, ownsConnection: true })
}

/** Environment first (like LIFEBOAT_REPO_PASSPHRASE), then what `repo init` saved. */
async function s3CredentialsFor(location: string, deps: BackendDeps): Promise<S3Credentials> {
  const id = deps.env.AWS_ACCESS_KEY_ID
  const key = deps.env.AWS_SECRET_ACCESS_KEY
  if (id !== undefined && id !== '' && key !== undefined && key !== '') {
    const token = deps.env.AWS_SESSION_TOKEN
    return token !== undefined && token !== '' ? { accessKeyId: id, secretAccessKey: key, sessionToken: token } : { accessKeyId: id, secretAccessKey: key }
  }
  const saved = await deps.secrets.getS3Credentials(s3CredentialsId(location))
  if (saved !== undefined) return saved
  throw new ApiError(
    'SECRET_MISSING',
    `Lifeboat has no credentials for ${location}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY${id !== undefined && id !== '' ? ' (only the first is set)' : ''}, or save them with \`lifeboat repo init --repo LOCATION --s3-access-key ID --s3-secret-stdin\`.`,
    { field: 'repo' },
  )
}

/**
 * Gives a backend the location's label and keeps credentials out of every message it throws: storage services
 * echo request details in errors, and those messages reach logs, job records and the UI.
 */
function guarded(inner: RepositoryBackend, label: string, secrets: readonly string[]): RepositoryBackend {
  const hidden = secrets.filter((s) => s.length >= 4)
  const scrub = (error: unknown): unknown => {
    if (!(error instanceof Error)) return error
    // The SDK reports an HTTP failure without a body (a HEAD refused with 403, say) as just "UnknownError".
    const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode
    if (typeof status === 'number' && status >= 400) {
      const detail = error.message !== '' && error.message !== 'UnknownError' ? `: ${error.message}` : ''
      const hint = status === 401 || status === 403 ? ' Check the S3 credentials and that they may use this bucket.' : ''
      error.message = `${label} answered HTTP ${status}${error.name !== 'Error' && error.name !== 'UnknownError' ? ` (${error.name})` : ''}${detail}.${hint}`
    }
    for (const s of hidden) if (error.message.includes(s)) error.message = error.message.split(s).join('***')
    return error
  }
  const wrap = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (error) {
      throw scrub(error)
    }
  }
  return {
    label,
    get: (key, options) => wrap(() => inner.get(key, options)),
    put: (key, data, signal) => wrap(() => inner.put(key, data, signal)),
    flush: (signal) => wrap(() => inner.flush(signal)),
    async *list(prefix, signal) {
      try {
        yield* inner.list(prefix, signal)
      } catch (error) {
        throw scrub(error)
      }
    },
    stat: (key, signal) => wrap(() => inner.stat(key, signal)),
    delete: (key, signal) => wrap(() => inner.delete(key, signal)),
    close: () => wrap(() => inner.close()),
    ...(inner.objectLock !== undefined ? { objectLock: guardedLock(inner.objectLock, wrap) } : {}),
    ...(inner.versions !== undefined ? { versions: guardedVersions(inner.versions, wrap, scrub) } : {}),
  }
}

function guardedVersions(versions: ObjectVersions, wrap: <T>(run: () => Promise<T>) => Promise<T>, scrub: (error: unknown) => unknown): ObjectVersions {
  return {
    versioning: (signal) => wrap(() => versions.versioning(signal)),
    async *list(prefix, maxEntries, signal) {
      try {
        yield* versions.list(prefix, maxEntries, signal)
      } catch (error) {
        throw scrub(error)
      }
    },
    get: (key, versionId, options) => wrap(() => versions.get(key, versionId, options)),
    retention: (key, versionId, signal) => wrap(() => versions.retention(key, versionId, signal)),
    remove: (key, versionId, signal) => wrap(() => versions.remove(key, versionId, signal)),
    promote: (key, versionId, retention, signal) => wrap(() => versions.promote(key, versionId, retention, signal)),
  }
}

function guardedLock(lock: ObjectLockSupport, wrap: <T>(run: () => Promise<T>) => Promise<T>): ObjectLockSupport {
  return {
    assertAvailable: (signal) => wrap(() => lock.assertAvailable(signal)),
    use: (setting) => lock.use(setting),
    lockedUntil: (key, signal) => wrap(() => lock.lockedUntil(key, signal)),
    extend: (key, untilMs, signal) => wrap(() => lock.extend(key, untilMs, signal)),
  }
}
