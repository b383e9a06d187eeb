import { spawn } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

export interface OpenLinkOptions {
  readonly url: string
  /** The opener and its leading arguments; the page's path is appended. Defaults to the platform's opener. */
  readonly command?: readonly string[]
  /** The page is removed after this long even if the link was never used. */
  readonly timeoutMs?: number
}

export interface OpenedLink {
  /** The page handed to the opener (inside a folder only this user can enter). */
  readonly file: string
  /** Removes the page and its folder; safe to call more than once. */
  remove(): Promise<void>
}

const DEFAULT_TIMEOUT_MS = 60_000

function platformOpener(): readonly string[] {
  if (process.platform === 'darwin') return ['open']
  if (process.platform === 'win32') return ['explorer']
  return ['xdg-open']
}

const htmlEscape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * Opens the bridge link in the user's browser without putting its token on a command line, where any local
 * user could read it (/proc/PID/cmdline, `ps`): the link goes into a small page in a private folder (0700, file
 * 0600) that forwards the browser to it, and the opener is given only that page's path. Remove the page once the
 * link was used; it removes itself after `timeoutMs` regardless.
 */
export async function openLinkPrivately({ url, command = platformOpener(), timeoutMs = DEFAULT_TIMEOUT_MS }: OpenLinkOptions): Promise<OpenedLink> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-open-'))
  await chmod(dir, 0o700)
  const file = path.join(dir, 'open-lifeboat.html')
  const href = htmlEscape(url)
  const page = [
    '<!doctype html>',
    '<meta charset="utf-8">',
    '<meta name="referrer" content="no-referrer">',
    `<meta http-equiv="refresh" content="0; url=${href}">`,
    '<title>Opening Lifeboat…</title>',
    `<p>Opening Lifeboat… If nothing happens, <a href="${href}">open it here</a>.</p>`,
    '',
  ].join('\n')
  let removed: Promise<void> | undefined
  const remove = () => (removed ??= rm(dir, { recursive: true, force: true }))
  try {
    await writeFile(file, page, { mode: 0o600, flag: 'wx' })
    await chmod(file, 0o600)
    const [program, ...args] = command
    if (program === undefined) throw new Error('No program to open the browser with.')
    const child = spawn(program, [...args, file], { stdio: 'ignore', detached: true })
    // No browser opener installed is not fatal: the link is printed in the terminal too.
    child.on('error', () => undefined)
    child.unref()
  } catch (err) {
    await remove()
    throw err
  }
  setTimeout(() => void remove(), timeoutMs).unref()
  return { file, remove }
}
