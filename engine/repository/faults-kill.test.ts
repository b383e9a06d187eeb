import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CHUNK_SIZE } from './format.js'
import { withTempDir, writeMixedImage } from './testing/fixtures.js'
import { backupFile, expectSameAsFile, newLocalRepo, reopenLocalRepo } from './testing/helpers.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'ingest-child.ts')

interface ChildRun {
  readonly killedAfterProgress: number
  readonly finished: boolean
}

/** Runs a backup in a separate process and SIGKILLs it after `killAfter` progress lines (or lets it finish). */
function runChild(repoDir: string, image: string, killAfter: number | undefined, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, repoDir, image], { stdio: ['ignore', 'pipe', 'pipe'] })
    let progress = 0
    let finished = false
    let stderr = ''
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    proc.stdout.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (line.startsWith('progress ')) progress++
        if (line.startsWith('done ')) finished = true
        if (killAfter !== undefined && progress >= killAfter) setTimeout(() => proc.kill('SIGKILL'), delayMs)
      }
    })
    if (killAfter === 0) setTimeout(() => proc.kill('SIGKILL'), delayMs)
    proc.on('error', reject)
    proc.on('exit', (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`ingest child failed (${code}): ${stderr}`))
      else resolve({ killedAfterProgress: progress, finished })
    })
  })
}

describe('kill -9 during a backup', { timeout: 240_000 }, () => {
  it('leaves the repository clean and earlier points byte-identical, again and again', async () => {
    await withTempDir('kill', async (dir) => {
      const first = path.join(dir, 'first.img')
      const second = path.join(dir, 'second.img')
      await writeMixedImage(first, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['text', 'random'], seed: 1 })
      await writeMixedImage(second, { blocks: 20, blockSize: CHUNK_SIZE, pattern: ['random', 'text', 'random', 'zero'], seed: 2 })
      const setup = await newLocalRepo(dir)
      const good = await backupFile(setup, first)
      await setup.close()
      const repoDir = path.join(dir, 'repo')
      // Kill at start-up, early, in the middle and near the end; random extra delay each time.
      const plan = [0, 1, 5, 10, 16]
      const outcomes: ChildRun[] = []
      for (const killAfter of plan) {
        outcomes.push(await runChild(repoDir, second, killAfter, Math.floor(Math.random() * (killAfter === 0 ? 800 : 30))))
        await using repo = await reopenLocalRepo(dir)
        // A killed backup leaves either no restore point or a whole one (when the kill came after its manifest):
        // never one that looks whole and is not.
        const points = await repo.listPoints()
        expect(points.length).toBeLessThanOrEqual(1 + outcomes.length)
        expect(points.length).toBeGreaterThanOrEqual(1 + outcomes.filter((o) => o.finished).length)
        for (const p of points) {
          expect(await expectSameAsFile(await repo.openDisk(p.id, 'disk0'), p.id === good.id ? first : second)).toBe(true)
        }
        const check = await repo.check()
        expect(check.problems).toEqual([])
        expect(check.locks).toBe(0)
      }
      expect(outcomes.filter((o) => !o.finished).length).toBeGreaterThanOrEqual(3)
      await using repo = await reopenLocalRepo(dir)
      expect((await repo.verify()).ok).toBe(true)
      const gc = await repo.gc()
      expect(gc.backupsRunning).toBe(0)
      const after = await repo.check()
      expect(after.unreferencedChunks).toBe(0)
      expect(after.tempFiles).toBe(0)
      // A backup after all that simply works.
      const done = await runChild(repoDir, second, undefined, 0)
      expect(done.finished).toBe(true)
      const points = await repo.listPoints()
      const latest = points.at(-1)!
      expect(await expectSameAsFile(await repo.openDisk(latest.id, 'disk0'), second)).toBe(true)
      expect(await expectSameAsFile(await repo.openDisk(good.id, 'disk0'), first)).toBe(true)
    })
  })
})
