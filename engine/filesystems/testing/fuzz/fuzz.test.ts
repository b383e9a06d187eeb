import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileSource } from '../../../disks/file-source'
import { makeTempDir } from '../../../disks/testing/tools'
import { buildCorpus, type CorpusItem } from './corpus'
import { fuzzImage } from './fuzz-core'

/**
 * A fixed-seed fuzz pass over every parser (longer runs: `node --import tsx engine/filesystems/testing/fuzz/fuzz.ts`).
 * Each corrupted image must end in success or a typed error within the time bound.
 */
let dir: string
let corpus: CorpusItem[] = []

beforeAll(async () => {
  dir = await makeTempDir('fuzz')
  corpus = await buildCorpus(dir)
}, 300_000)
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const ITERATIONS = Number(process.env.LIFEBOAT_FUZZ_ITERATIONS ?? 120)

describe('fuzzing every parser with truncated and corrupted images', () => {
  it('ends every case with a result or a typed error, in bounded time', async () => {
    const summary: string[] = []
    for (const item of corpus) {
      const file = await FileSource.open(item.path)
      try {
        const result = await fuzzImage(item.name, file, { iterations: ITERATIONS, seed: 20261121, timeBoundMs: 10_000 })
        summary.push(`${item.name}: ${JSON.stringify(result.outcomes)} slowest ${result.slowestMs} ms`)
        expect(result.findings, `${item.name}\n${result.findings.map((f) => `${f.mutation}: ${f.error}`).join('\n')}`).toEqual([])
      } finally {
        await file.close()
      }
    }
    console.log(summary.join('\n'))
  }, 600_000)
})
