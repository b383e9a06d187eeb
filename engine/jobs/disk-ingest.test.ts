import { open, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupDisk, RemoteFile } from '../../adapters/host-adapter'
import { run } from '../../test-hosts/run'
import { prepareDisk } from './disk-ingest'

const MiB = 1024 * 1024

/** A RemoteFile over a local file, as the adapters hand them out (random reads + one sequential stream). */
async function localRemote(file: string): Promise<RemoteFile> {
  const fh = await open(file, 'r')
  const size = (await fh.stat()).size
  return {
    path: file,
    size,
    label: file,
    async readRange(offset, length) {
      const b = Buffer.alloc(length)
      await fh.read(b, 0, length, offset)
      return b
    },
    async *stream(offset, length) {
      yield (await fh.read(Buffer.alloc(length), 0, length, offset)).buffer
    },
    close: () => fh.close(),
  }
}

describe('disks as the repository ingests them', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-ingest-'))
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'base.qcow2'), String(16 * MiB)])
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x61 0 2M', path.join(dir, 'base.qcow2')])
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', path.join(dir, 'top.qcow2')])
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x62 1M 3M', path.join(dir, 'top.qcow2')])
    await run('qemu-img', ['convert', '-O', 'raw', path.join(dir, 'top.qcow2'), path.join(dir, 'expected.raw')])
  })
  afterAll(async () => rm(dir, { recursive: true, force: true }))

  const disk = async (allowed: readonly string[]): Promise<{ disk: BackupDisk; asked: string[] }> => {
    const asked: string[] = []
    const file = await localRemote(path.join(dir, 'top.qcow2'))
    return {
      asked,
      disk: {
        id: 'vda',
        name: 'vda',
        sizeBytes: 0,
        readout: {
          kind: 'file',
          file,
          format: 'qcow2',
          openRelated: async (p) => {
            asked.push(p)
            if (!allowed.includes(p)) throw new Error(`${p} is not in the chain`)
            return await localRemote(p)
          },
        },
      },
    }
  }

  it('decodes a remote qcow2 with its backing file, resolved beside the child', async () => {
    const { disk: d, asked } = await disk([path.join(dir, 'base.qcow2')])
    const prepared = await prepareDisk(d, AbortSignal.timeout(30_000))
    try {
      if (!('source' in prepared.ingest)) throw new Error('expected a random-access source')
      const bytes = await prepared.ingest.source.read(0, prepared.ingest.source.size)
      expect(bytes.equals(await readFile(path.join(dir, 'expected.raw')))).toBe(true)
      expect(asked).toEqual([path.join(dir, 'base.qcow2')])
    } finally {
      await prepared.close()
    }
  })

  it('fails when the adapter refuses a backing file the host did not list', async () => {
    const { disk: d } = await disk([])
    await expect(prepareDisk(d, AbortSignal.timeout(30_000))).rejects.toThrow(/backing file not readable/)
  })
})
