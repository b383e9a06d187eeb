/**
 * Ingest throughput over SFTP against a real sshd on this machine (a network namespace reached over a veth pair),
 * next to the same backup into a local folder. Needs root (the SSH test host). Runs only when invoked:
 *   node --import tsx bench/bench-sftp-backend.ts [--size-mib 256] [--workers N]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { startSshHost } from '../test-hosts/ssh-host'
import { SshConnection } from '../adapters/ssh/ssh-connection'
import { initRepository } from '../engine/repository/repository.js'
import { localBackend } from '../engine/repository/backends/local-backend.js'
import { sftpBackend } from '../engine/repository/backends/sftp-backend.js'
import type { RepositoryBackend } from '../engine/repository/backend.js'
import { openFileSource } from '../engine/repository/testing/file-source.js'
import { writeBenchImage } from './bench-image.js'
import { writeMixedImage, MiB } from '../engine/repository/testing/fixtures.js'

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '256' }, workers: { type: 'string' } } })
const sizeMiB = Number(values['size-mib'])
const workers = values.workers === undefined ? undefined : Number(values.workers)

const work = await mkdtemp(path.join(tmpdir(), 'lb-sftp-bench-'))
const host = await startSshHost({ hostname: 'lb-sftp-bench' })
try {
  const random = path.join(work, 'random.img')
  const mixed = path.join(work, 'mixed.img')
  await writeMixedImage(random, { blocks: sizeMiB, blockSize: MiB, pattern: ['random'] })
  await writeBenchImage(mixed, sizeMiB)
  const home = path.join(host.dir, 'home', host.user)
  const connect = () =>
    SshConnection.connect({ host: host.address, port: host.port, username: host.user, secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })

  const rows: string[] = []
  for (const [imageName, image] of [['random (incompressible)', random], ['mixed (zero/random/text)', mixed]] as const) {
    for (const target of ['local folder', 'SFTP'] as const) {
      const folder = path.join(home, `${target === 'SFTP' ? 'sftp' : 'local'}-${path.basename(image, '.img')}`)
      const backend: RepositoryBackend = target === 'SFTP' ? sftpBackend({ connection: await connect(), path: folder, ownsConnection: true }) : localBackend({ path: folder })
      const repo = await initRepository({ backend, ...(workers === undefined ? {} : { workers }) })
      try {
        for (const round of ['first backup', 're-backup (all known)']) {
          const source = await openFileSource(image)
          const started = process.hrtime.bigint()
          const point = await repo.ingest({ vm: { id: 'bench', name: 'bench', config: {} }, sourceHost: { name: 'bench' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'disk0', source }] })
          const seconds = Number(process.hrtime.bigint() - started) / 1e9
          await source.close()
          const stored = point.stats.bytesStored / MiB
          rows.push(
            `${imageName.padEnd(26)} ${target.padEnd(13)} ${round.padEnd(22)} ${seconds.toFixed(2).padStart(7)} s  ${(sizeMiB / seconds).toFixed(0).padStart(5)} MiB/s of disk  ${stored.toFixed(0).padStart(5)} MiB stored (${(stored / seconds).toFixed(0)} MiB/s)`,
          )
        }
      } finally {
        await repo.close()
      }
    }
  }
  console.log(`Ingest of a ${sizeMiB} MiB image, workers: ${workers ?? 'one per core'}`)
  for (const r of rows) console.log(r)
} finally {
  await host.stop()
  await rm(work, { recursive: true, force: true })
}
