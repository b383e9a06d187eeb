/**
 * The simulated host's drives on the local disk: drive C: is the folder `<data>/C`. Windows paths are case-insensitive,
 * so existing components are matched without regard to case. SFTP speaks Windows OpenSSH's form (`/C:/Users/x`).
 */
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { PsError } from './values'

export const HOME = 'C:\\Users\\Administrator'

export class WinFs {
  constructor(readonly root: string) {}

  /** 'C:\\a\\b' → '<root>/C/a/b'; rejects relative, UNC and `..` paths (a real host would allow some; the adapter never needs them). */
  toLocal(winPath: string): string {
    const norm = normalizeWin(winPath)
    const m = /^([A-Za-z]):\\?(.*)$/.exec(norm)
    if (m?.[1] === undefined) throw notFound(winPath)
    const drive = m[1].toUpperCase()
    let current = path.join(this.root, drive)
    if (!existsSync(current)) throw new PsError({ message: `Cannot find drive. A drive with the name '${drive}' does not exist.`, fqid: 'DriveNotFound', category: 'ObjectNotFound', exceptionType: 'System.Management.Automation.DriveNotFoundException', targetName: drive })
    for (const part of (m[2] ?? '').split('\\').filter((p) => p !== '')) {
      if (part === '..' || part === '.') throw notFound(winPath)
      let next = path.join(current, part)
      if (!existsSync(next) && existsSync(current)) {
        const hit = readdirSync(current).find((e) => e.toLowerCase() === part.toLowerCase())
        if (hit !== undefined) next = path.join(current, hit)
      }
      current = next
    }
    return current
  }

  /** The canonical Windows path of a local path below the root. */
  toWin(local: string): string {
    const rel = path.relative(this.root, local)
    const [drive, ...rest] = rel.split(path.sep)
    return `${drive ?? 'C'}:\\${rest.join('\\')}`
  }

  /** Windows OpenSSH SFTP path ('/C:/a/b', also 'C:/a/b'; relative paths are below the user's home) → Windows path. */
  fromSftp(p: string): string {
    const s = p.replace(/\\/g, '/')
    const abs = /^\/?([A-Za-z]):(\/.*)?$/.exec(s)
    if (abs?.[1] !== undefined) return normalizeWin(`${abs[1].toUpperCase()}:${(abs[2] ?? '/').replace(/\//g, '\\')}`)
    if (s === '' || s === '.') return HOME
    if (s.startsWith('/')) return normalizeWin(`C:${s.replace(/\//g, '\\')}`)
    return normalizeWin(`${HOME}\\${s.replace(/\//g, '\\')}`)
  }

  toSftp(winPath: string): string {
    return `/${normalizeWin(winPath).replace(/\\/g, '/')}`
  }
}

/** Collapses separators and resolves `.`/`..` the way Windows path APIs do. */
export function normalizeWin(p: string): string {
  const s = p.replace(/\//g, '\\')
  const m = /^([A-Za-z]):(.*)$/.exec(s)
  if (m?.[1] === undefined) return s
  const parts: string[] = []
  for (const part of (m[2] ?? '').split('\\')) {
    if (part === '' || part === '.') continue
    if (part === '..') parts.pop()
    else parts.push(part)
  }
  return `${m[1].toUpperCase()}:\\${parts.join('\\')}`
}

export function winDirname(p: string): string {
  const n = normalizeWin(p)
  const i = n.lastIndexOf('\\')
  return i <= 2 ? n.slice(0, 3) : n.slice(0, i)
}

export function winBasename(p: string): string {
  const n = normalizeWin(p)
  return n.slice(n.lastIndexOf('\\') + 1)
}

export function notFound(p: string): PsError {
  return new PsError({ message: `Cannot find path '${p}' because it does not exist.`, fqid: 'PathNotFound', category: 'ObjectNotFound', exceptionType: 'System.Management.Automation.ItemNotFoundException', targetName: p })
}

/** What Windows allows in a file name (used when the simulator itself names files after VMs). */
export function safeFileName(name: string): string {
  const cleaned = name.replace(/[\\/:*?"<>|\p{Cc}]/gu, '_').trim().replace(/[. ]+$/, '')
  return cleaned === '' ? 'disk' : cleaned.slice(0, 100)
}
