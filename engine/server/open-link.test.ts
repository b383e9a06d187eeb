import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openLinkPrivately } from './open-link'

describe('openLinkPrivately', () => {
  it('writes a forwarding page only its owner can read and removes it after the timeout', async () => {
    const previous = process.umask(0o022)
    try {
      const url = 'http://127.0.0.1:1234/#token=abc"<x>&y'
      const opened = await openLinkPrivately({ url, command: ['true'], timeoutMs: 300 })
      expect((await stat(opened.file)).mode & 0o777).toBe(0o600)
      expect((await stat(path.dirname(opened.file))).mode & 0o777).toBe(0o700)
      const page = await readFile(opened.file, 'utf8')
      expect(page).toContain('url=http://127.0.0.1:1234/#token=abc&#34;&#60;x&#62;&#38;y"')
      expect(page).not.toContain('"<x>')
      await new Promise((r) => setTimeout(r, 600))
      expect(existsSync(path.dirname(opened.file))).toBe(false)
      await opened.remove()
    } finally {
      process.umask(previous)
    }
  })

  it('leaves nothing behind when the opener cannot be started', async () => {
    const opened = await openLinkPrivately({ url: 'http://127.0.0.1:1/#token=t', command: ['/nonexistent/opener'] })
    expect(existsSync(opened.file)).toBe(true)
    await opened.remove()
    expect(existsSync(path.dirname(opened.file))).toBe(false)
  })
})
