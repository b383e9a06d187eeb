import path from 'node:path'
import { ApiError } from '../api/contract-errors'
import { initRepository, localBackend, openRepository, type Repository } from '../repository'
import { isRepositoryError } from '../repository/errors'

export interface RepositoryRef {
  /** A local folder; defaults to $LIFEBOAT_HOME/repository. (SFTP and S3 repositories join later.) */
  readonly path?: string
}

export interface RepositoriesOptions {
  readonly defaultPath: string
  /** Passphrase for encrypted repositories (today from LIFEBOAT_REPO_PASSPHRASE). */
  readonly passphrase?: () => string | undefined
}

/**
 * Opens the repositories backups go to. The default local repository is created on first use, so a first
 * backup "just works"; any other folder must have been initialised on purpose (`lifeboat repo init`), so a
 * typo in a path never silently starts a new, empty repository.
 */
export class Repositories {
  constructor(private readonly options: RepositoriesOptions) {}

  resolve(ref: RepositoryRef = {}): string {
    return path.resolve(ref.path ?? this.options.defaultPath)
  }

  async open(ref: RepositoryRef = {}, signal?: AbortSignal): Promise<Repository> {
    const location = this.resolve(ref)
    const passphrase = this.options.passphrase?.()
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

  async init(ref: RepositoryRef, options: { passphrase?: string; signal?: AbortSignal } = {}): Promise<Repository> {
    return await initRepository({
      backend: localBackend({ path: this.resolve(ref) }),
      ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })
  }
}
