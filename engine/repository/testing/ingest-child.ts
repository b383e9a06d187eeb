/**
 * Runs one backup of an image file in its own process, for the kill -9 fault test and the benchmark (which
 * measures this process's peak RSS). Usage: node --import tsx ingest-child.ts REPO IMAGE [PASSPHRASE]
 * Prints "progress <bytesDone>" lines while it works and "done <json summary>" at the end.
 */
import { openRepository } from '../repository.js'
import { localBackend } from '../backends/local-backend.js'
import { openFileSource } from './file-source.js'

const [repoPath, image, passphrase] = process.argv.slice(2)
if (repoPath === undefined || image === undefined) {
  console.error('usage: ingest-child.ts REPO IMAGE [PASSPHRASE]')
  process.exit(2)
}
const repo = await openRepository({ backend: localBackend({ path: repoPath }), ...(passphrase === undefined ? {} : { passphrase }), locking: { timeoutMs: 30_000 } })
const source = await openFileSource(image)
try {
  let last = -1
  const summary = await repo.ingest({
    vm: { id: 'vm-child', name: 'child', config: { image } },
    sourceHost: { name: 'local' },
    mode: 'cold',
    consistency: 'offline',
    disks: [{ name: 'disk0', source }],
    progress: (u) => {
      if (u.bytesDone !== last) {
        last = u.bytesDone
        process.stdout.write(`progress ${u.bytesDone}\n`)
      }
    },
  })
  process.stdout.write(`done ${JSON.stringify(summary)}\n`)
} finally {
  await source.close()
  await repo.close()
}
