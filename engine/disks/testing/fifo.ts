import { constants } from 'node:fs'
import { open } from 'node:fs/promises'

/** Fails instead of waiting for ever: an open(2) stuck on a named pipe never settles. */
export async function settlesWithin<T>(p: Promise<T>, ms: number, what = 'a thread is blocked opening the file'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Opens the pipe's write end without blocking, which lets a reader stuck in open(2) go on, so no thread stays blocked
 * after a test. With no reader waiting the open fails with ENXIO, and nothing needs releasing.
 */
export async function releaseReaders(fifo: string): Promise<void> {
  const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') return undefined
    throw e
  })
  await writer?.close()
}
