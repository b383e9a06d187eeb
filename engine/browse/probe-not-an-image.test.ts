import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dispatch } from '../api/dispatch'
import { hasTool, run } from '../disks/testing/tools'
import { createEngine, type Engine } from '../engine'
import { releaseReaders, settlesWithin } from '../disks/testing/fifo'

/**
 * A named pipe given to the API as a disk image (the CLI refuses it itself; the UI and the bridge do not): opening it
 * used to block a libuv thread in open(2) for good, so the call never answered and the engine could not even exit.
 */
const haveMkfifo = process.platform !== 'win32' && (await hasTool('mkfifo'))



describe.skipIf(!haveMkfifo)('a named pipe as a disk image, through the API', () => {
  let dir: string
  let fifo: string
  let engine: Engine
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-probe-fifo-'))
    fifo = path.join(dir, 'disk.img')
    await run('mkfifo', [fifo])
    engine = await createEngine({ home: path.join(dir, 'home'), door: 'cli' })
  })
  afterAll(async () => {
    await engine.dispose()
    await rm(dir, { recursive: true, force: true })
  })

  it('files.probe answers at once with INVALID_INPUT naming the pipe', async () => {
    try {
      const res = await settlesWithin(dispatch(engine.handlers, 'files.probe', { source: { kind: 'image', paths: [fifo] } }, { signal: new AbortController().signal }), 5000)
      expect(res).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: `${fifo} is a named pipe, not a disk image file; nothing was read from it` } })
    } finally {
      await releaseReaders(fifo)
    }
  })
})
