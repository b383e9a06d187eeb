import { protocol } from 'electron'
import { readFile } from 'node:fs/promises'
import path from 'node:path'

export const APP_SCHEME = 'lifeboat'
export const APP_ORIGIN = `${APP_SCHEME}://app`

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
}

const csp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ')

/** Must run before the app is ready: the renderer's origin is a standard, secure scheme of its own. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }])
}

/** Serves the built renderer read-only from one folder, with a strict CSP; nothing outside it is reachable. */
export function serveRenderer(root: string): void {
  const base = path.resolve(root)
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url)
    if (url.host !== 'app') return new Response('Not found', { status: 404 })
    let rel: string
    try {
      rel = decodeURIComponent(url.pathname)
    } catch {
      return new Response('Bad request', { status: 400 })
    }
    if (rel === '/' || rel === '') rel = '/index.html'
    const file = path.resolve(base, '.' + path.posix.normalize(rel))
    if (rel.includes('\0') || (file !== base && !file.startsWith(base + path.sep))) return new Response('Not found', { status: 404 })
    try {
      const body = await readFile(file)
      return new Response(body, {
        headers: { 'Content-Type': types[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'Content-Security-Policy': csp, 'X-Content-Type-Options': 'nosniff' },
      })
    } catch {
      return new Response('Not found', { status: 404 })
    }
  })
}
