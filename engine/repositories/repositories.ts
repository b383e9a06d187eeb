import path from 'node:path'
import { ApiError } from '../api/contract-errors'
import { initRepository, localBackend, openRepository, type Repository } from '../repository'
import { isRepositoryError } from '../repository/errors'
import type { SecretStore } from '../state/secret-store'

export interface RepositoryRef {
  /** A local folder; defaults to $LIFEBOAT_HOME/repository. (SFTP and S3 repositories join later.) */
  readonly path?: string
}

export interface RepositoriesOptions {
  readonly defaultPath: string
  /** Where passphrases of encrypted repositories are kept (with the hosts' credentials). */
  readonly secrets: SecretStore
  readonly env?: NodeJS.ProcessEnv
}

/** The secret-store id under which a repository's passphrase is kept. */
export function passphraseId(location: string): string {
  return `repo:${location}`
}

/**
 * Opens the repositories backups go to. The default local repository is created on first use, so a first
 * backup "just works"; any other folder must have been initialised on purpose (`lifeboat repo init`), so a
 * typo in a path never silently starts a new, empty repository. Passphrases come from
 * LIFEBOAT_REPO_PASSPHRASE, else from what `repo init` saved with the credentials.
 */
export class Repositories {
  constructor(private readonly options: RepositoriesOptions) {}

  resolve(ref: RepositoryRef = {}): string {
    return path.resolve(ref.path ?? this.options.defaultPath)
  }

  async open(ref: RepositoryRef = {}, signal?: AbortSignal): Promise<Repository> {
    const location = this.resolve(ref)
    const passphrase = await this.passphrase(location)
    const common = { backend: localBackend({ path: location }), ...(passphrase !== undefined ? { passphrase } : {}), ...(signal ? { signal } : {}) }
    try {
      return await openRepository(common)
    } catch (err) {
      if (isRepositoryError(err) && err.code === 'REPO_NOT_FOUND') {
        if (location === path.resolve(this.options.defaultPath)) return await initRepository(common)
        throw new ApiError('REPO_NOT_FOUND', `There is no Lifeboat repository in ${location}. Create one with \`lifeboat repo init --repo ${location}\`.`, { path: location })
      }
      throw err
    }
  }

  /** Creates a repository; with a passphrase it is encrypted and the passphrase is saved with the credentials. */
  async init(ref: RepositoryRef, options: { passphrase?: string; signal?: AbortSignal } = {}): Promise<Repository> {
    const location = this.resolve(ref)
    const repo = await initRepository({
      backend: localBackend({ path: location }),
      ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })
    if (options.passphrase !== undefined) await this.options.secrets.setPassphrase(passphraseId(location), options.passphrase)
    return repo
  }

  private async passphrase(location: string): Promise<string | undefined> {
    const env = (this.options.env ?? process.env).LIFEBOAT_REPO_PASSPHRASE
    if (env !== undefined && env !== '') return env
    return await this.options.secrets.getPassphrase(passphraseId(location))
  }
}
