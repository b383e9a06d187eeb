import { ApiError } from '../api/contract-errors'
import type { FsEntryDto } from '../api/contract-files'

/** What `cat` reads: a file, or one of its named NTFS data streams. */
export interface CatTarget {
  readonly path: string
  readonly entry: FsEntryDto
  readonly stream?: string
}

/**
 * Resolves `PATH` or `PATH:STREAM` (NTFS alternate data streams, as Windows writes them; `PATH:STREAM:$DATA` too).
 * The whole path is tried first, so on ext, XFS and the like — where ':' is an ordinary name character — a name
 * holding ':' is always the file of that name. Only when no such file exists is the last ':' split off, and only a
 * stream the file really lists (only NTFS files list streams; NTFS names cannot hold ':') is taken: there is no
 * reading of `a:b` as a stream of `a` on a filesystem that has none.
 */
export async function resolveCatTarget(file: string, stat: (path: string) => Promise<FsEntryDto>): Promise<CatTarget> {
  let notFound: ApiError
  try {
    return { path: file, entry: await stat(file) }
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'PATH_NOT_FOUND')) throw err
    notFound = err
  }
  const spec = file.endsWith(':$DATA') ? file.slice(0, -':$DATA'.length) : file
  const slash = spec.lastIndexOf('/')
  const colon = spec.indexOf(':', slash + 1)
  if (colon <= slash + 1 || colon === spec.length - 1) throw notFound
  const path = spec.slice(0, colon)
  const stream = spec.slice(colon + 1)
  const entry = await stat(path).catch(() => undefined)
  if (entry?.streams?.some((s) => s.name === stream) !== true) throw notFound
  return { path, entry, stream }
}
