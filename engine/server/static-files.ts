import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
}

/**
 * Serves the built renderer, read-only, from one folder. The URL path is decoded and normalised, and anything
 * that would resolve outside the folder (../, encoded slashes, NUL) is a 404, not a file.
 */
export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', ...headers }).end()
    return
  }
  const url = new URL(req.url ?? '/', 'http://localhost')
  let rel: string
  try {
    rel = decodeURIComponent(url.pathname)
  } catch {
    res.writeHead(400, headers).end()
    return
  }
  if (rel.includes('\0') || rel.includes('\\')) {
    res.writeHead(404, headers).end()
    return
  }
  if (rel === '/' || rel === '') rel = '/index.html'
  const base = path.resolve(root)
  const file = path.resolve(base, '.' + path.posix.normalize(rel))
  if (file !== base && !file.startsWith(base + path.sep)) {
    res.writeHead(404, headers).end()
    return
  }
  try {
    const info = await stat(file)
    if (!info.isFile()) throw new Error('not a file')
    const ext = path.extname(file).toLowerCase()
    res.writeHead(200, {
      'Content-Type': types[ext] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
      'Cache-Control': ext === '.html' ? 'no-store' : 'public, max-age=31536000, immutable',
      ...headers,
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    createReadStream(file).on('error', () => res.destroy()).pipe(res)
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end('Not found')
  }
}
