import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeSparseFile } from '../../test-hosts/data-disk'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { ExecRemoteFile } from '../ssh/exec-remote-file'
import { RootShell } from '../ssh/root-shell'
import { SshConnection } from '../ssh/ssh-connection'
import { hostAllocation } from './host-allocation'

const MiB = 1024 * 1024
const haveQemuImg = await promisify(execFile)('sh', ['-c', 'command -v qemu-img']).then(
  () => true,
  () => false,
)

describe.skipIf(!canRunSshHosts().ok || !haveQemuImg)('a raw file on a Linux host: its allocation map, and a stream of only its data', () => {
  let host: SshTestHost
  let conn: SshConnection
  let dir: string
  let file: string
  /** 2 GiB + an odd tail, 3 MiB of data at 10 MiB, 64 KiB at 1 GiB + 12345, 4 KiB near the end. */
  const size = 2048 * MiB + 12345
  const pieces = [
    { offset: 10 * MiB, data: randomBytes(3 * MiB) },
    { offset: 1024 * MiB + 12345, data: randomBytes(64 * 1024) },
    { offset: 2048 * MiB, data: randomBytes(4096) },
  ]

  beforeAll(async () => {
    host = await startSshHost({ hostname: 'lb-allocation' })
    dir = await mkdtemp(path.join(tmpdir(), 'lb-alloc-'))
    await chmod(dir, 0o755)
    file = await writeSparseFile(path.join(dir, "thin disk 'a'.raw"), size, pieces)
    conn = await SshConnection.connect({ host: host.address, port: host.port, username: 'root', secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })
  }, 120_000)

  afterAll(async () => {
    await conn.close()
    await host.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('reports the written ranges as data and everything else as holes', async () => {
    const shell = await RootShell.for(conn)
    const remote = await ExecRemoteFile.open(shell, file)
    try {
      const a = await hostAllocation(shell, remote)
      if (!a.known) throw new Error(a.reason)
      const dataBytes = a.dataRanges.reduce((sum, r) => sum + r.length, 0)
      // Filesystems allocate in blocks, so the map may be a little wider than what was written, never narrower.
      expect(dataBytes).toBeLessThan(4 * MiB)
      for (const p of pieces) {
        expect(a.dataRanges.some((r) => r.offset <= p.offset && r.offset + r.length >= p.offset + p.data.length)).toBe(true)
      }
      const ranges = [
        { offset: 8 * MiB, length: 8 * MiB },
        { offset: 1024 * MiB, length: 4 * MiB },
        { offset: 2048 * MiB, length: 12345 },
      ]
      const got: Buffer[] = []
      for await (const piece of a.stream(ranges)) got.push(Buffer.from(piece))
      const all = Buffer.concat(got)
      expect(all.length).toBe(8 * MiB + 4 * MiB + 12345)
      expect(all.subarray(2 * MiB, 5 * MiB).equals(pieces[0]?.data ?? Buffer.alloc(0))).toBe(true)
      expect(all.subarray(8 * MiB + 12345, 8 * MiB + 12345 + 64 * 1024).equals(pieces[1]?.data ?? Buffer.alloc(0))).toBe(true)
      expect(all.subarray(12 * MiB, 12 * MiB + 4096).equals(pieces[2]?.data ?? Buffer.alloc(0))).toBe(true)
      expect(all.subarray(0, 2 * MiB).every((b) => b === 0)).toBe(true)
      expect(() => a.stream([{ offset: 4096, length: 10 }, { offset: 0, length: 10 }])).toThrow(RangeError)
      expect(() => a.stream([{ offset: size - 1, length: 2 }])).toThrow(RangeError)
    } finally {
      await remote.close()
    }
  })

  it('says why it cannot tell for a path qemu-img would not read as a plain file', async () => {
    const shell = await RootShell.for(conn)
    const a = await hostAllocation(shell, { path: 'nbd:evil:10809', size: 4096, label: 'relative', isBlockDevice: false })
    expect(a).toMatchObject({ known: false })
    const b = await hostAllocation(shell, { path: '/dev/null', size: 0, label: '/dev/null', isBlockDevice: true })
    expect(b).toMatchObject({ known: false })
  })
})
