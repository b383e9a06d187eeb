/**
 * One benchmark backup in its own process; prints {"ingestSeconds", "maxRssKiB", "stats", …} as its last line.
 * The image is opened as `lifeboat backup-file` opens it (raw with the filesystem's holes, qcow2, VHD, VHDX).
 * node --import tsx ingest-measured.ts REPO IMAGE [PASSPHRASE]
 */
import { openRepository } from '../engine/repository/repository.js'
import { localBackend } from '../engine/repository/backends/local-backend.js'
import { openImageFile } from '../engine/disks/open-image.js'

const [repoPath, image, passphrase] = process.argv.slice(2)
if (repoPath === undefined || image === undefined) throw new Error('usage: ingest-measured.ts REPO IMAGE [PASSPHRASE]')
const repo = await openRepository({ backend: localBackend({ path: repoPath }), ...(passphrase === undefined ? {} : { passphrase }) })
const source = await openImageFile(image)
const start = process.hrtime.bigint()
// When every chunk has been processed: what follows is waiting for the disk (flush) and the manifest.
let chunksDoneAt: bigint | undefined
let stats: unknown
try {
  const point = await repo.ingest({
    vm: { id: 'bench', name: 'bench', config: {} },
    sourceHost: { name: 'bench' },
    mode: 'cold',
    consistency: 'offline',
    disks: [{ name: 'disk0', source }],
    progress: (u) => {
      if (chunksDoneAt === undefined && u.bytesDone === u.bytesTotal) chunksDoneAt = process.hrtime.bigint()
    },
  })
  stats = point.stats
} finally {
  await source.close()
  await repo.close()
}
const end = process.hrtime.bigint()
const ingestSeconds = Number(end - start) / 1e9
const flushSeconds = Number(end - (chunksDoneAt ?? end)) / 1e9
const usage = process.resourceUsage()
console.log(JSON.stringify({ ingestSeconds, flushSeconds, maxRssKiB: usage.maxRSS, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, stats }))
