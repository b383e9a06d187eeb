import { posix } from 'node:path'
import { AdapterError } from '../host-adapter'

/**
 * Names that arrive from a restore point (a manifest anyone with write access to the repository could edit) or from
 * a caller, and that Lifeboat turns into host file names or virsh arguments. They are refused, not repaired: a
 * silently rewritten name would restore to a file or snapshot the admin did not ask for.
 */

/** A disk name (libvirt target dev: vda, sdb, xvda, hdc…) fit to be part of a file name on the host. */
const DISK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/

export function checkDiskName(name: string): string {
  if (!DISK_NAME.test(name)) {
    throw new AdapterError(
      'BAD_RESPONSE',
      `The restore point names a disk "${printable(name)}", which Lifeboat does not turn into a file name on the host (a disk name is 1-64 letters, digits, ".", "_", "+" or "-", starting with a letter or digit). Nothing was written.`,
      { disk: printable(name) },
    )
  }
  return name
}

/** A folder on the host that new files go into: absolute, no ".." step, no control characters; returned normalised. */
export function checkHostDir(dir: string, what: string): string {
  if (!isPlainHostPath(dir)) {
    throw new AdapterError('BAD_RESPONSE', `${what} "${printable(dir)}" is not an absolute folder path without ".." on the host; nothing was written.`, { path: printable(dir) })
  }
  return posix.normalize(dir)
}

/**
 * A snapshot or checkpoint name that virsh must read as a name, never as an option: virsh takes a word starting with
 * "-" as an option wherever it stands (and not every command accepts "--"), so such names are refused outright.
 */
export function checkSnapshotName(name: string, what = 'snapshot'): string {
  if (name.length === 0 || name.length > 200 || name.startsWith('-') || /[\n\r\0/]/.test(name)) {
    throw new AdapterError('NOT_FOUND', `"${printable(name)}" is not a ${what} name Lifeboat works with (1-200 characters, not starting with "-", without "/" or line breaks).`, { name: printable(name) })
  }
  return name
}

/** Absolute, no ".." step, no control characters, at most 4096 characters: a path that means what it says. */
export function isPlainHostPath(p: string): boolean {
  // eslint-disable-next-line no-control-regex
  return posix.isAbsolute(p) && !p.split('/').includes('..') && !/[\u0000-\u001f\u007f]/.test(p) && p.length <= 4096
}

/** A name from a restore point, shortened and with control characters shown as "?", fit for an error message. */
export function printable(s: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  return s.slice(0, max).replace(/[\u0000-\u001f\u007f]/g, '?')
}
