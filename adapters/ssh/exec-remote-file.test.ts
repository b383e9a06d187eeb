import { randomBytes } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunSshHosts, type SshTestHost } from '../../test-hosts/ssh-host'
import { ExecRemoteFile } from './exec-remote-file'
import { RemoteWriter } from './remote-writer'
import { uploadDisk } from '../linux/disk-upload'
import { RootShell } from './root-shell'
import { SshConnection } from './ssh-connection'
import { startFileHost, type FileHost } from './testing/file-host'

const MiB = 1024 * 1024

describe.skipIf(!canRunSshHosts().ok)('exec-based remote files, writer and root shell', () => {
  let fh: FileHost
  let host: SshTestHost
  let root: SshConnection
  let dir: string
  let file: string
  const data = randomBytes(24 * MiB + 777)

  beforeAll(async () => {
    fh = await startFileHost('lb-exec-file', data)
    ;({ host, root, dir, file } = fh)
  })
  afterAll(() => fh.stop())

  it('reads many random ranges in flight through the pipelined reader, exactly', async () => {
    const f = await ExecRemoteFile.open(await RootShell.for(root), file)
    try {
      expect(f.size).toBe(data.length)
      const ranges = Array.from({ length: 200 }, (_, i) => ({ offset: (i * 1_048_573) % (data.length - 2 * MiB), length: 1 + ((i * 97_777) % (2 * MiB)) }))
      const parts = await Promise.all(ranges.map((r) => f.readRange(r.offset, r.length)))
      parts.forEach((p, i) => expect(p.equals(data.subarray(ranges[i]?.offset ?? 0, (ranges[i]?.offset ?? 0) + (ranges[i]?.length ?? 0)))).toBe(true))
      const whole: Buffer[] = []
      for await (const c of f.stream(0, f.size)) whole.push(c)
      expect(Buffer.concat(whole).equals(data)).toBe(true)
      await expect(f.readRange(data.length - 1, 2)).rejects.toThrow(RangeError)
    } finally {
      await f.close()
    }
  })

  it('uploads a disk from lent chunks and gives each back only once the channel has taken its bytes', async () => {
    const size = 13 * 4 * MiB + 4321
    const disk = randomBytes(size)
    disk.fill(0, 4 * MiB, 12 * MiB)
    const lent = new Set<Buffer>()
    let released = 0
    const source = {
      size,
      label: 'lent test disk',
      read: (offset: number, length: number) => Promise.resolve(Buffer.from(disk.subarray(offset, offset + length))),
      lend: (offset: number, length: number) => {
        const data = Buffer.from(disk.subarray(offset, offset + length))
        lent.add(data)
        return Promise.resolve({
          data,
          release: () => {
            expect(lent.delete(data)).toBe(true)
            released++
            // What reuse would do to the memory: had the channel not taken the bytes yet, these would be sent.
            data.fill(0xee)
          },
        })
      },
      close: () => Promise.resolve(),
    }
    const target = path.join(dir, 'uploaded.img')
    await uploadDisk(await RootShell.for(root), source, target, { fresh: true, signal: new AbortController().signal, progress: () => undefined })
    expect((await readFile(target)).equals(disk)).toBe(true)
    expect(lent.size).toBe(0)
    expect(released).toBe(14)
  })

  it('fails a read loudly when the file shrinks under it instead of shifting bytes', async () => {
    const small = path.join(dir, 'shrinks.img')
    await writeFile(small, randomBytes(4 * MiB))
    const f = await ExecRemoteFile.open(await RootShell.for(root), small)
    try {
      await writeFile(small, randomBytes(MiB))
      await expect(f.readRange(2 * MiB, MiB)).rejects.toMatchObject({ code: 'COMMAND_FAILED' })
    } finally {
      await f.close()
    }
  })

  it('writes ranges into a sparse file, leaving holes where nothing was written', async () => {
    const target = path.join(dir, 'written.raw')
    const shell = await RootShell.for(root)
    await shell.run((await import('./shell-quote')).sh`truncate -s ${32 * MiB} ${target}`)
    const w = await RemoteWriter.open(shell, target)
    const a = randomBytes(3 * MiB)
    const b = randomBytes(MiB + 5)
    await w.write(0, a)
    await w.write(20 * MiB, b)
    await w.finish()
    const out = await readFile(target)
    expect(out.length).toBe(32 * MiB)
    expect(out.subarray(0, 3 * MiB).equals(a)).toBe(true)
    expect(out.subarray(20 * MiB, 21 * MiB + 5).equals(b)).toBe(true)
    expect(out.subarray(3 * MiB, 20 * MiB).equals(Buffer.alloc(17 * MiB))).toBe(true)
    expect((await stat(target)).blocks * 512).toBeLessThan(8 * MiB)
  })

  it('a non-root login without sudo gets one clear PERMISSION_DENIED', async () => {
    await using user = await SshConnection.connect({ host: host.address, port: host.port, username: host.user, secret: { type: 'password', password: host.password }, pinnedFingerprint: host.fingerprint })
    const shell = await RootShell.for(user)
    expect(shell.privilege).toBe('sudo')
    await expect(ExecRemoteFile.open(shell, file)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('sudo') as unknown })
  })
})
