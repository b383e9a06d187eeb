import { rm } from 'node:fs/promises'
import { FileSource } from '../../../disks/file-source'
import { makeTempDir } from '../../../disks/testing/tools'
import { buildCorpus } from './corpus'
import { fuzzImage } from './fuzz-core'

/**
 * Long fuzz run: node --import tsx engine/filesystems/testing/fuzz/fuzz.ts [iterations-per-image] [seed] [image-name-filter]
 * Builds the corpus with the real tools (needs root for the XFS loop mount), prints each finding with the seed
 * and mutation that reproduce it, and exits 1 if there was any.
 */
const iterations = Number(process.argv[2] ?? 2000)
const seed = Number(process.argv[3] ?? Date.now() % 1_000_000)
const filter = process.argv[4]

const dir = await makeTempDir('fuzz-long')
let failures = 0
try {
  const corpus = (await buildCorpus(dir)).filter((c) => !filter || c.name.includes(filter))
  console.log(`fuzzing ${corpus.length} images × ${iterations} iterations, seed ${seed}`)
  for (const item of corpus) {
    const file = await FileSource.open(item.path)
    try {
      const started = Date.now()
      const r = await fuzzImage(item.name, file, { iterations, seed, timeBoundMs: 10_000 })
      console.log(`${item.name.padEnd(22)} ok ${r.outcomes.ok}  typed errors ${r.outcomes['typed-error']}  timeouts ${r.outcomes.timeout}  slowest ${r.slowestMs} ms  total ${((Date.now() - started) / 1000).toFixed(1)} s`)
      for (const f of r.findings) {
        failures++
        console.log(`  FINDING iteration ${f.iteration} seed ${f.seed} (${f.mutation}): ${f.error}`)
      }
    } finally {
      await file.close()
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
console.log(failures === 0 ? 'no findings' : `${failures} findings`)
process.exitCode = failures === 0 ? 0 : 1
