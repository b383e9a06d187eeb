import { constants } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dispatch } from '../api/dispatch'
import { hasTool, run } from '../disks/testing/tools'
import { createEngine, type Engine } from '../engine'

/**
 * A named pipe given to the API as a disk image (the CLI refuses it itself; the UI and the bridge do not): opening it
 * used to block a libuv thread in open(2) for good, so the call never answered and the engine could not even exit.
 */
const haveMkfifo = process.platform !== 'win32' && (await hasTool('mkfifo'))

async function settlesWithin<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer after ${ms} ms: the engine is stuck opening the pipe`)), ms)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/** Lets a reader stuck in open(2) go on (ENXIO: none is waiting), so no thread stays blocked after the test. */
async function releaseReaders(fifo: string): Promise<void> {
  const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') return undefined
    throw e
  })
  await writer?.close()
}

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
