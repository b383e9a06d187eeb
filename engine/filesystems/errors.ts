/**
 * Errors raised while reading a filesystem inside a volume. Stable codes for the UI and contract; messages in plain
 * words that name the volume and the path.
 */
export type FilesystemErrorCode =
  | 'not-found'
  | 'not-a-directory'
  | 'is-a-directory'
  | 'not-a-symlink'
  | 'unknown-filesystem' // no supported filesystem signature in the volume
  | 'corrupt' // structures contradict each other or point outside the volume
  | 'truncated' // a structure lies beyond the end of the volume
  | 'unsupported' // a valid feature this reader does not implement (encryption, …)
  | 'too-large' // a count or size beyond sanity limits, refused before allocating
  | 'loop' // a cycle: symlinks, directory loops, cluster chains, extent trees
  | 'unsafe-name' // a name that cannot be written safely to the restore target
  | 'bad-locator' // an IMAGE#partition locator that names nothing on the disk
  | 'limit' // a search or extraction stopped at a caller's limit
  | 'invalid-argument' // the caller asked for something malformed (a byte range, a path)

export class FilesystemError extends Error {
  override readonly name = 'FilesystemError'
  readonly code: FilesystemErrorCode
  readonly params: Readonly<Record<string, string | number>>

  constructor(code: FilesystemErrorCode, message: string, params: Record<string, string | number> = {}, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.params = params
  }
}

export const corrupt = (label: string) => (message: string) => new FilesystemError('corrupt', `${label}: ${message}`)
