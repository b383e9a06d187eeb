import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, sleep } from '../../../test-hosts/run'
import { NbdClient } from './nbd-client'
import { BASE_ALLOCATION, flaggedRanges, nbdBlockSource } from './nbd-guest-disk'

const MiB = 1024 * 1024
const hasQemuNbd = existsSync('/usr/bin/qemu-nbd')

// The real peer: qemu-nbd serving a qcow2 image with a persistent dirty bitmap, as QEMU does for a libvirt backup.
describe.skipIf(!hasQemuNbd)('NBD client against qemu-nbd', () => {
  let dir: string
  let server: ChildProcess
  let socket: string

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-nbd-'))
    const image = path.join(dir, 'disk.qcow2')
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', image, String(64 * MiB)])
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 1M', image])
    await run('qemu-img', ['bitmap', '--add', image, 'b0'])
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x22 40M 3M', image])
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x33 5M 64k', image])
    socket = path.join(dir, 'nbd.sock')
    server = spawn('qemu-nbd', ['-r', '-t', '-k', socket, '-f', 'qcow2', '-x', 'vdb', '-B', 'b0', '--shared', '4', image], { stdio: 'ignore' })
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50)
  })

  afterAll(async () => {
    if (server.pid !== undefined && server.exitCode === null) process.kill(server.pid, 'SIGTERM')
    await rm(dir, { recursive: true, force: true })
  })

  const connect = async (contexts: string[] = ['qemu:dirty-bitmap:b0']) => {
    const stream = createConnection({ path: socket })
    await new Promise<void>((resolve, reject) => stream.once('connect', resolve).once('error', reject))
    return NbdClient.connect(stream, 'vdb', contexts, 'test export')
  }

  it('reads exactly what the image holds, many requests in flight, holes as zeros', async () => {
    const client = await connect([])
    const disk = nbdBlockSource(client, 'test export')
    try {
      expect(disk.size).toBe(64 * MiB)
      const [a, b, c, d] = await Promise.all([disk.read(0, MiB), disk.read(40 * MiB, 3 * MiB), disk.read(5 * MiB, 64 * 1024), disk.read(10 * MiB, 4 * MiB)])
      expect(a.equals(Buffer.alloc(MiB, 0x11))).toBe(true)
      expect(b.equals(Buffer.alloc(3 * MiB, 0x22))).toBe(true)
      expect(c.equals(Buffer.alloc(64 * 1024, 0x33))).toBe(true)
      expect(d.equals(Buffer.alloc(4 * MiB))).toBe(true)
      await expect(disk.read(64 * MiB - 1, 2)).rejects.toThrow(RangeError)
    } finally {
      await disk.close()
    }
  })

  it('reports exactly the blocks the dirty bitmap marks', async () => {
    const client = await connect()
    try {
      const id = client.info.contexts.get('qemu:dirty-bitmap:b0')
      expect(id).toBeDefined()
      expect(await flaggedRanges(client, id ?? 0, 1)).toEqual([
        { offset: 5 * MiB, length: 64 * 1024 },
        { offset: 40 * MiB, length: 3 * MiB },
      ])
    } finally {
      await client.close()
    }
  })

  it('reports what base:allocation says reads as zeros as zero extents, the rest as data', async () => {
    const stream = createConnection({ path: socket })
    await new Promise<void>((resolve, reject) => stream.once('connect', resolve).once('error', reject))
    const client = await NbdClient.connect(stream, 'vdb', [], 'test export', [BASE_ALLOCATION, 'qemu:not-offered'])
    const disk = nbdBlockSource(client, 'test export')
    try {
      const extents = []
      for await (const e of disk.extents?.() ?? []) extents.push(e)
      expect(extents).toEqual([
        { offset: 0, length: MiB, kind: 'data' },
        { offset: MiB, length: 4 * MiB, kind: 'zero' },
        { offset: 5 * MiB, length: 64 * 1024, kind: 'data' },
        { offset: 5 * MiB + 64 * 1024, length: 35 * MiB - 64 * 1024, kind: 'zero' },
        { offset: 40 * MiB, length: 3 * MiB, kind: 'data' },
        { offset: 43 * MiB, length: 21 * MiB, kind: 'zero' },
      ])
    } finally {
      await disk.close()
    }
  })

  it('keeps each meta context\'s answer apart when several are negotiated', async () => {
    const client = await connect(['qemu:dirty-bitmap:b0', BASE_ALLOCATION])
    try {
      expect(await flaggedRanges(client, client.info.contexts.get('qemu:dirty-bitmap:b0') ?? 0, 1)).toEqual([
        { offset: 5 * MiB, length: 64 * 1024 },
        { offset: 40 * MiB, length: 3 * MiB },
      ])
    } finally {
      await client.close()
    }
  })

  it('fails clearly for a missing export or meta context', async () => {
    const stream = createConnection({ path: socket })
    await new Promise<void>((resolve) => stream.once('connect', resolve))
    await expect(NbdClient.connect(stream, 'nope', [], 'x')).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
    await expect(connect(['qemu:dirty-bitmap:missing'])).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
  })
})
