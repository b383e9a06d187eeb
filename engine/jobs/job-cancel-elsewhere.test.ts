import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../e2e/support/cli'
import { createEngine, type Engine } from '../engine'

/**
 * The desktop app runs a backup; the admin types `lifeboat jobs cancel ID` in a terminal. That is another
 * process with its own job runner: it must reach the job's owner, which cleans up and records the end.
 */
describe('cancelling a job that another Lifeboat process runs', () => {
  let home: string
  let app: Engine
  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'lb-cancel-elsewhere-'))
    app = await createEngine({ home, door: 'cli' })
  })
  afterAll(async () => {
    await app.dispose()
    await rm(home, { recursive: true, force: true })
  })

  it('`lifeboat jobs cancel ID --wait` in a terminal stops the app\'s job after its cleanup ran', async () => {
    const order: string[] = []
    const job = app.jobs.start({
      kind: 'backup',
      title: 'Back up web01',
      run: async (ctx) => {
        ctx.progress({ phase: 'backup', bytesDone: 1 })
        try {
          await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))
        } finally {
          await new Promise((r) => setTimeout(r, 300))
          ctx.log('info', 'Removed the snapshot of web01.')
          order.push('cleanup')
        }
      },
    })
    const cli = await runCli(home, ['jobs', 'cancel', job.id, '--wait'])
    expect(cli.stderr).toContain('Cancel requested; waiting for "Back up web01"')
    expect(cli.stdout.trim()).toBe('Back up web01: cancelled')
    expect(cli.code).toBe(0)
    await expect(job.done).rejects.toMatchObject({ code: 'CANCELLED' })
    expect(order).toEqual(['cleanup'])
    const record = await app.jobs.get(job.id)
    expect(record.log.map((l) => l.message)).toEqual(
      expect.arrayContaining(['Another Lifeboat window or command asked to cancel this job.', 'Removed the snapshot of web01.']) as unknown,
    )
    // The request is gone with the job; cancelling a finished job again changes nothing.
    await expect.poll(async () => (await readdir(path.join(home, 'jobs'))).filter((n) => n.endsWith('.cancel'))).toEqual([])
    const again = await runCli(home, ['jobs', 'cancel', job.id])
    expect(again.stdout.trim()).toBe('Back up web01: cancelled')
  }, 120_000)
})
