import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, fileReadout } from '../../adapters/linux/file-readout'
import type { BackupDisk, RemoteFile } from '../../adapters/host-adapter'
import { RootShell } from '../../adapters/ssh/root-shell'
import { SshConnection } from '../../adapters/ssh/ssh-connection'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { writeSparseFile } from '../../test-hosts/data-disk'
import { hasTool } from '../disks/testing/tools'
import { newLocalRepo, VM } from '../repository/testing/helpers'
import { prepareDisk } from './disk-ingest'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const CHUNK = 4 * MiB

describe.skipIf(!canRunSshHosts().ok || !(await hasTool('qemu-img')))('a thin raw disk on a Linux host moves only its data', () => {
  let host: SshTestHost
  let conn: SshConnection
  let shell: RootShell
  let dir: string
  /** 100 GiB + an odd tail with a few MiB written: what a freshly installed thin VM disk looks like. */
  const size = 100 * GiB + 12345
  const pieces = [
    { offset: 10 * MiB, data: randomBytes(3 * MiB) },
    { offset: 50 * GiB + 12345, data: randomBytes(64 * 1024) },
    { offset: 100 * GiB, data: randomBytes(4096) },
  ]

  const sparseFile = (name: string, fileSize: number, writes: typeof pieces): Promise<string> => writeSparseFile(path.join(dir, name), fileSize, writes)

  beforeAll(async () => {
    host = await startSshHost({ hostname: 'lb-thin-disk' })
    dir = await mkdtemp(path.join(tmpdir(), 'lb-thin-'))
    await chmod(dir, 0o755)
    conn = await SshConnection.connect({ host: host.address, port: host.port, username: 'root', secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })
    shell = await RootShell.for(conn)
  }, 120_000)

  afterAll(async () => {
    await conn.close()
    await host.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('asks the host for the allocated extents, streams only those chunks and counts the rest as holes', async () => {
    const file = await sparseFile('thin.raw', size, pieces)
    const opened: RemoteFile[] = []
    const log: string[] = []
    await using repo = await newLocalRepo(dir)
    try {
      const readout = await fileReadout(shell, file, 'raw', [], opened, AbortSignal.timeout(30_000))
      const disk: BackupDisk = { id: 'vda', name: 'vda', sizeBytes: size, readout }
      const prepared = await prepareDisk(disk, AbortSignal.timeout(60_000), { log: (m) => log.push(m) })
      try {
        const point = await repo.ingest({ vm: VM, sourceHost: { name: 'kvm1', kind: 'linux' }, mode: 'cold', consistency: 'offline', disks: [prepared.ingest], signal: AbortSignal.timeout(60_000) })
        // Four chunks hold data (two for the 3 MiB across a chunk boundary, one at 50 GiB, the odd-sized tail).
        expect(point.stats.bytesRead).toBe(3 * CHUNK + (size % CHUNK))
        expect(point.stats.bytesHoles).toBe(size - point.stats.bytesRead)
        expect(point.stats.bytesZero).toBe(0)
        expect(log).toEqual([])
        const back = await repo.openDisk(point.id, 'vda')
        try {
          for (const p of pieces) expect((await back.read(p.offset, p.data.length)).equals(p.data)).toBe(true)
          expect((await back.read(10 * MiB - 4096, 4096)).every((b) => b === 0)).toBe(true)
          expect((await back.read(70 * GiB, 4096)).every((b) => b === 0)).toBe(true)
        } finally {
          await back.close()
        }
      } finally {
        await prepared.close()
      }
    } finally {
      await closeAll(opened)
    }
  }, 90_000)

  it('reads the file whole, and says why, when the host cannot tell where its data is', async () => {
    const small = 24 * MiB + 512
    const file = await sparseFile('small.raw', small, [{ offset: 5 * MiB, data: randomBytes(MiB) }])
    const opened: RemoteFile[] = []
    const log: string[] = []
    await using repo = await newLocalRepo(path.join(dir, 'second'))
    try {
      const readout = await fileReadout(shell, file, 'raw', [], opened)
      if (readout.kind !== 'file') throw new Error('expected a file readout')
      const blind = { ...readout, allocation: () => Promise.resolve({ known: false as const, reason: 'qemu-img is not installed on kvm1' }) }
      const prepared = await prepareDisk({ id: 'vda', name: 'vda', sizeBytes: small, readout: blind }, AbortSignal.timeout(60_000), { log: (m) => log.push(m) })
      try {
        const point = await repo.ingest({ vm: VM, sourceHost: { name: 'kvm1', kind: 'linux' }, mode: 'cold', consistency: 'offline', disks: [prepared.ingest] })
        expect(point.stats.bytesRead).toBe(small)
        expect(point.stats.bytesHoles).toBe(0)
        // Every chunk but the one holding the MiB of data was read and found to be zeros.
        expect(point.stats.bytesZero).toBe(small - CHUNK)
        expect(log).toEqual(['vda: read whole, holes included (qemu-img is not installed on kvm1).'])
      } finally {
        await prepared.close()
      }
    } finally {
      await closeAll(opened)
    }
  }, 90_000)
})
