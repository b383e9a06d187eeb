import path from 'node:path'
import { ApiError } from '../api/contract-errors'
import { initRepository, openRepository, type Repository, type RepositoryBackend } from '../repository'
import { isRepositoryError, toRepositoryError } from '../repository/errors'
import { folderSummaryCache, type SummaryCache } from '../repository/summary-cache'
import type { HostsStore } from '../state/hosts-store'
import type { S3Credentials, SecretStore } from '../state/secret-store'
import { formatLocation, parseLocation, type RepositoryLocation } from './location'
import { openBackend, s3CredentialsId } from './open-backend'

export interface RepositoryRef {
  /**
   * Where the repository is: an absolute folder, file:///FOLDER, sftp://HOST/FOLDER or s3://BUCKET/PREFIX?… (see
   * location.ts). Default: the local repository in $LIFEBOAT_HOME/repository.
   */
  readonly location?: string
}

export interface RepositoriesOptions {
  readonly defaultPath: string
  /** Where passphrases of encrypted repositories and S3 credentials are kept (with the hosts' credentials). */
  readonly secrets: SecretStore
  /** The saved hosts sftp:// locations name; without it, sftp:// locations find no host. */
  readonly hosts?: HostsStore
  readonly env?: NodeJS.ProcessEnv
  readonly connectTimeoutMs?: number
  /** Folder of the restore-point summaries listing remembers (summary-cache.ts); without it each listing decodes every manifest. */
  readonly summaryCacheDir?: string
}

export interface InitRepositoryOptions {
  readonly passphrase?: string | undefined
  /** For s3:// locations: used to create it, then saved (instead of AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). */
  readonly s3Credentials?: S3Credentials | undefined
  readonly signal?: AbortSignal | undefined
}

/** The secret-store id under which a repository's passphrase is kept (by its normalised location). */
export function passphraseId(location: string): string {
  return `repo:${location}`
}

/**
 * Opens the repositories backups go to. The default local repository is created on first use, so a first
 * backup "just works"; any other location must have been initialised on purpose (`lifeboat repo init`), so a
 * typo never silently starts a new, empty repository. Passphrases come from LIFEBOAT_REPO_PASSPHRASE, else from
 * what `repo init` saved with the credentials; S3 credentials likewise from AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, else from what `repo init` saved.
 */
export class Repositories {
  private readonly summaryCache: SummaryCache | undefined
  constructor(private readonly options: RepositoriesOptions) {
    this.summaryCache = options.summaryCacheDir === undefined ? undefined : folderSummaryCache(options.summaryCacheDir)
  }

  /** Parses a reference (INVALID_INPUT naming the `repo` field when it is not a valid location). */
  locate(ref: RepositoryRef = {}): RepositoryLocation {
    return ref.location === undefined ? { kind: 'local', path: path.resolve(this.options.defaultPath) } : parseLocation(ref.location)
  }

  /** The normalised location, for messages and job titles (never contains a secret). */
  resolve(ref: RepositoryRef = {}): string {
    return formatLocation(this.locate(ref))
  }

  async open(ref: RepositoryRef = {}, signal?: AbortSignal): Promise<Repository> {
    const location = this.locate(ref)
    const label = formatLocation(location)
    const passphrase = await this.passphrase(label)
    const backend = await openBackend(location, label, this.deps(), { signal })
    const common = { backend, ...(passphrase !== undefined ? { passphrase } : {}), ...(signal ? { signal } : {}), ...(this.summaryCache !== undefined ? { summaryCache: this.summaryCache } : {}) }
    try {
      return await openRepository(common)
    } catch (err) {
      if (isRepositoryError(err) && err.code === 'REPO_NOT_FOUND' && this.isDefault(location)) {
        try {
          return await initRepository(common)
        } catch (initErr) {
          await backend.close().catch(() => undefined)
          throw initErr
        }
      }
      await backend.close().catch(() => undefined)
      if (isRepositoryError(err) && err.code === 'REPO_NOT_FOUND') {
        throw new ApiError('REPO_NOT_FOUND', `There is no Lifeboat repository at ${label}. Create one with \`lifeboat repo init --repo ${label}\`.`, {
          location: label,
          ...(location.kind === 'local' ? { path: location.path } : {}),
        })
      }
      // Storage failures (refused credentials, a lost connection) become STORAGE_FAILED with their message.
      throw toRepositoryError(err, 'opening the repository')
    }
  }

  /** Creates a repository; its passphrase (encrypted repositories) and S3 credentials are saved once it exists. */
  async init(ref: RepositoryRef, options: InitRepositoryOptions = {}): Promise<Repository> {
    const location = this.locate(ref)
    const label = formatLocation(location)
    if (options.s3Credentials !== undefined && location.kind !== 's3') {
      throw new ApiError('INVALID_INPUT', 'S3 credentials go with s3:// locations only.', { field: 's3Credentials' })
    }
    const backend = await openBackend(location, label, this.deps(), { s3Credentials: options.s3Credentials, signal: options.signal })
    let repo: Repository
    try {
      repo = await initRepository({
        backend,
        ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      })
    } catch (err) {
      await backend.close().catch(() => undefined)
      throw toRepositoryError(err, 'creating the repository')
    }
    // Saved only once the repository exists: a failed init leaves no secrets behind.
    if (options.passphrase !== undefined) await this.options.secrets.setPassphrase(passphraseId(label), options.passphrase)
    if (options.s3Credentials !== undefined) await this.options.secrets.setS3Credentials(s3CredentialsId(label), options.s3Credentials)
    return repo
  }

  /**
   * The storage at a location without opening a repository there: a copy goes to a place that may not hold one
   * yet (it becomes a copy of the source). S3 credentials given here are saved once the caller says it worked.
   */
  async openStorage(ref: RepositoryRef, options: { s3Credentials?: S3Credentials | undefined; signal?: AbortSignal | undefined } = {}): Promise<RepositoryBackend> {
    const location = this.locate(ref)
    if (options.s3Credentials !== undefined && location.kind !== 's3') {
      throw new ApiError('INVALID_INPUT', 'S3 credentials go with s3:// locations only.', { field: 's3Credentials' })
    }
    return await openBackend(location, formatLocation(location), this.deps(), options)
  }

  /** Keeps S3 credentials for a location (after a copy to it worked), as `init` does. */
  async saveS3Credentials(ref: RepositoryRef, credentials: S3Credentials): Promise<void> {
    await this.options.secrets.setS3Credentials(s3CredentialsId(this.resolve(ref)), credentials)
  }

  /**
   * A copy carries the source's key record, so the source's passphrase opens it: saved for the copy's location too,
   * so restoring from the copy asks for nothing more (unless the passphrase comes from LIFEBOAT_REPO_PASSPHRASE).
   */
  async sharePassphrase(from: RepositoryRef, to: RepositoryRef): Promise<void> {
    const saved = await this.options.secrets.getPassphrase(passphraseId(this.resolve(from)))
    const target = passphraseId(this.resolve(to))
    if (saved !== undefined && (await this.options.secrets.getPassphrase(target)) === undefined) await this.options.secrets.setPassphrase(target, saved)
  }

  private isDefault(location: RepositoryLocation): boolean {
    return location.kind === 'local' && location.path === path.resolve(this.options.defaultPath)
  }

  private deps() {
    return {
      secrets: this.options.secrets,
      env: this.options.env ?? process.env,
      ...(this.options.hosts !== undefined ? { hosts: this.options.hosts } : {}),
      ...(this.options.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.options.connectTimeoutMs } : {}),
    }
  }

  private async passphrase(location: string): Promise<string | undefined> {
    const env = (this.options.env ?? process.env).LIFEBOAT_REPO_PASSPHRASE
    if (env !== undefined && env !== '') return env
    return await this.options.secrets.getPassphrase(passphraseId(location))
  }
}
