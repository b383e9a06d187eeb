/** Creates an empty repository for the benchmark: node --import tsx init-repo.ts DIR [PASSPHRASE] */
import { initRepository } from '../engine/repository/repository.js'
import { localBackend } from '../engine/repository/backends/local-backend.js'

const [dir, passphrase] = process.argv.slice(2)
if (dir === undefined) throw new Error('usage: init-repo.ts DIR [PASSPHRASE]')
const repo = await initRepository({ backend: localBackend({ path: dir }), ...(passphrase === undefined ? {} : { passphrase }) })
await repo.close()
