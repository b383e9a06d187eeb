import { DiskFormatError } from '../../disks/errors'
import { openImage } from '../browse'
import { FilesystemError } from '../errors'
import type { EntryType } from '../types'
import { walk, type WalkProblem } from '../walk'

/** Test-only: a whole volume as `lifeboat image get` walks it, reduced to what other tools can also list. */
export interface ListedEntry {
  readonly type: EntryType
  readonly size: number
}

export type ListingOutcome =
  | { readonly kind: 'listing'; readonly entries: Map<string, ListedEntry>; readonly problems: readonly string[]; readonly dataErrors: readonly string[] }
  | { readonly kind: 'typed-error'; readonly error: string }

export function isTyped(e: unknown): e is DiskFormatError | FilesystemError {
  return e instanceof DiskFormatError || e instanceof FilesystemError
}

/**
 * Opens an image file with the CLI's entry point (openImage → the only browsable volume), walks it with the walk
 * every restore uses and, with `readData`, reads every file's stored data. A typed error (DiskFormatError,
 * FilesystemError) is an outcome; anything else is a crash and is thrown.
 */
export async function listImage(file: string, options: { signal: AbortSignal; readData: boolean }): Promise<ListingOutcome> {
  let opened: Awaited<ReturnType<typeof openImage>> | undefined
  try {
    opened = await openImage(file, { signal: options.signal })
    const volume = await opened.openVolume(undefined, { signal: options.signal })
    const entries = new Map<string, ListedEntry>()
    const problems: string[] = []
    const dataErrors: string[] = []
    const root = await volume.node('/', { signal: options.signal })
    const onProblem = (p: WalkProblem): void => {
      problems.push(`${p.path}: ${p.reason}`)
      // A folder met again (hard link, loop) is not entered, but it is there.
      if (p.kind === 'loop' || p.kind === 'repeat') entries.set(p.path, { type: 'directory', size: 0 })
    }
    for await (const event of walk(volume, root, '/', { signal: options.signal, onProblem })) {
      if (event.kind !== 'entry' && event.kind !== 'enter') continue
      const { visit } = event
      if (visit.depth === 0) continue
      const { entry } = visit.node
      entries.set(`/${visit.parts.join('/')}`, { type: entry.type, size: entry.type === 'directory' ? 0 : entry.size })
      if (options.readData && entry.type === 'file') {
        try {
          let bytes = 0
          for await (const piece of volume.readData(visit.node, { signal: options.signal })) bytes += piece.data.length
          if (bytes > entry.size) dataErrors.push(`${visit.path}: ${bytes} bytes of data for a ${entry.size}-byte file`)
        } catch (e) {
          if (!isTyped(e)) throw e
          dataErrors.push(`${visit.path}: ${e.message}`)
        }
      }
    }
    return { kind: 'listing', entries, problems, dataErrors }
  } catch (e) {
    if (isTyped(e)) return { kind: 'typed-error', error: e.message }
    throw e
  } finally {
    await opened?.close()
  }
}
