import { createHash } from 'node:crypto'
import { resolve, sep } from 'node:path'
import { FilesystemError } from '../errors'

/**
 * Names from a guest filesystem are hostile when written to the restore target: they may be "..", contain
 * separators, NUL, Windows-reserved characters or device names, NTFS stream syntax ("a:b"), or be too long.
 * Each name component is either made safe (and the change reported) or refused with a reason.
 */
export type TargetPlatform = 'posix' | 'windows'

export type NameDecision = { readonly ok: true; readonly name: string; readonly changed: boolean } | { readonly ok: false; readonly reason: string }

const WINDOWS_RESERVED = /^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)(\..*)?$/i
const WINDOWS_BAD_CHARS = new Set(['<', '>', ':', '"', '\\', '|', '?', '*'])
const MAX_BYTES = 255

export function defaultPlatform(): TargetPlatform {
  return process.platform === 'win32' ? 'windows' : 'posix'
}

export function safeName(name: string, platform: TargetPlatform = defaultPlatform()): NameDecision {
  if (name === '' || name === '.' || name === '..') return { ok: false, reason: `the name "${name}" would refer to a folder itself, not a file in it` }
  if (name.includes('\0')) return { ok: false, reason: 'the name contains a NUL character' }
  let out = name.replace(/\//g, '_')
  if (platform === 'windows') {
    out = replaceChars(out, (c) => WINDOWS_BAD_CHARS.has(c) || c.charCodeAt(0) < 0x20)
    // Windows silently drops trailing dots and spaces, which would merge names or escape checks.
    out = out.replace(/[. ]+$/, (m) => '_'.repeat(m.length))
    if (WINDOWS_RESERVED.test(out)) out = `_${out}`
  } else {
    out = replaceChars(out, (c) => c.charCodeAt(0) < 0x20)
  }
  if (Buffer.byteLength(out, 'utf8') > MAX_BYTES || (platform === 'windows' && out.length > MAX_BYTES)) out = shorten(out)
  if (out === '.' || out === '..') return { ok: false, reason: `the name "${name}" cannot be made safe` }
  return { ok: true, name: out, changed: out !== name }
}

function replaceChars(s: string, bad: (c: string) => boolean): string {
  let out = ''
  for (const c of s) out += bad(c) ? '_' : c
  return out
}

function dropLastCodePoint(s: string): string {
  const last = s.charCodeAt(s.length - 1)
  return s.slice(0, last >= 0xdc00 && last <= 0xdfff ? -2 : -1)
}

/** Keeps the extension and start, adds a short hash so that distinct long names stay distinct. */
function shorten(name: string): string {
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8)
  const dot = name.lastIndexOf('.')
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : ''
  let stem = name.slice(0, ext ? dot : name.length)
  const budget = 200 - Buffer.byteLength(ext, 'utf8')
  while (Buffer.byteLength(stem, 'utf8') > budget) stem = dropLastCodePoint(stem)
  return `${stem}~${hash}${ext}`
}

/** Joins sanitised components under root and proves the result is still inside it. */
export function joinInside(root: string, components: readonly string[]): string {
  const base = resolve(root)
  const full = resolve(base, ...components)
  if (full !== base && !full.startsWith(base.endsWith(sep) ? base : base + sep)) {
    throw new FilesystemError('unsafe-name', `Refusing to write outside ${base}: ${components.join('/')}`)
  }
  return full
}

/**
 * Whether a symlink created at `linkDir/…` with `target` would point inside `root` (lexically). Absolute
 * targets and Windows drive paths always count as outside: they name the restoring machine, not the guest.
 */
export function symlinkStaysInside(root: string, linkDir: string, target: string): boolean {
  if (target === '' || target.includes('\0') || target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.startsWith('\\')) return false
  const base = resolve(root)
  const full = resolve(linkDir, target.replace(/\\/g, '/'))
  return full === base || full.startsWith(base + sep)
}
