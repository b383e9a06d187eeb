import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CHUNK_SIZE } from '../format.js'
import { localBackend } from '../backends/local-backend.js'
import { openRepository } from '../repository.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, expectSameAsFile, newLocalRepo } from '../testing/helpers.js'
import { chunkFiles } from '../testing/tamper.js'
import type { CopyReport } from './copy-point.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testing', 'copy-child.ts')
const passphrase = 'kill test passphrase'

/** Runs a copy in its own process and SIGKILLs it once `killAfter` progress lines came, or lets it finish. */
function runCopy(source: string, target: string, pointId: string, killAfter: number | undefined): Promise<{ report?: CopyReport; progress: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, source, target, pointId, passphrase], { stdio: ['ignore', 'pipe', 'pipe'] })
    let progress = 0
    let report: CopyReport | undefined
    let stderr = ''
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    proc.stdout.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (line.startsWith('progress ')) progress++
        if (line.startsWith('done ')) report = JSON.parse(line.slice(5)) as CopyReport
        if (killAfter !== undefined && progress >= killAfter) proc.kill('SIGKILL')
      }
    })
    proc.on('error', reject)
    proc.on('exit', (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`copy child failed (${code}): ${stderr}`))
      else resolve({ progress, ...(report ? { report } : {}) })
    })
  })
}

describe('kill -9 during a copy', { timeout: 240_000 }, () => {
  it('leaves the target consistent, and the next copy resumes without sending a chunk twice or losing one', async () => {
    await withTempDir('copy-kill', async (dir) => {
      const image = path.join(dir, 'a.img')
      await writeMixedImage(image, { blocks: 16, blockSize: CHUNK_SIZE, pattern: ['random', 'text', 'random', 'zero'], seed: 4 })
      const repo = await newLocalRepo(dir, { passphrase })
      const point = await backupFile(repo, image)
      await repo.close()
      const source = path.join(dir, 'repo')
      const target = path.join(dir, 'copy')

      const killed = await runCopy(source, target, point.id, 5)
      expect(killed.report).toBeUndefined()
      expect(await readdir(path.join(target, 'points')).catch(() => [])).toEqual([])
      const leftover = (await chunkFiles(target)).filter((f) => !f.includes('.tmp-'))
      expect(leftover.length).toBeGreaterThan(0)

      // The dead process's lock is recognised as stale on this host; the copy resumes at once.
      const resumed = await runCopy(source, target, point.id, undefined)
      const report = resumed.report!
      expect(report.alreadyThere).toBe(false)
      expect(report.chunksResumed).toBe(leftover.length)
      expect(report.chunksSent + report.chunksResumed).toBe(report.chunks)

      await using copy = await openRepository({ backend: localBackend({ path: target }), passphrase, workers: 1 })
      expect(await expectSameAsFile(await copy.openDisk(point.id, 'disk0'), image)).toBe(true)
      expect((await copy.verify()).ok).toBe(true)
      const check = await copy.check()
      expect(check.problems).toEqual([])
      expect(check.unreferencedChunks).toBe(0)
      expect(check.locks).toBe(0)
      // A write cut by the kill may have left its temp file; GC of the copy removes it like any backup's.
      await copy.gc()
      expect((await copy.check()).tempFiles).toBe(0)
      expect((await chunkFiles(target)).length).toBe(report.chunks)
    })
  })
})
