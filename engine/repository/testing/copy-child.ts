/**
 * Copies one restore point between two local repositories in its own process, for the kill -9 test.
 * Usage: node --import tsx copy-child.ts SOURCE TARGET POINT [PASSPHRASE]
 * Prints "progress <bytesDone>" lines while it works and "done <json report>" at the end.
 */
import { openRepository } from '../repository.js'
import { localBackend } from '../backends/local-backend.js'

const [sourcePath, targetPath, pointId, passphrase] = process.argv.slice(2)
if (sourcePath === undefined || targetPath === undefined || pointId === undefined) {
  console.error('usage: copy-child.ts SOURCE TARGET POINT [PASSPHRASE]')
  process.exit(2)
}
const repo = await openRepository({ backend: localBackend({ path: sourcePath }), workers: 1, ...(passphrase === undefined ? {} : { passphrase }), locking: { timeoutMs: 30_000 } })
const target = localBackend({ path: targetPath })
try {
  let last = -1
  const report = await repo.copyPoint({
    pointId,
    target,
    progress: (u) => {
      if (u.bytesDone !== last) {
        last = u.bytesDone
        process.stdout.write(`progress ${u.bytesDone}\n`)
      }
    },
  })
  process.stdout.write(`done ${JSON.stringify(report)}\n`)
} finally {
  await target.close()
  await repo.close()
}
