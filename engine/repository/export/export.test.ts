import { describe, expect, it } from 'vitest'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { once } from 'node:events'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { CHUNK_SIZE } from '../format.js'
import { EXPORT_FORMATS } from './export.js'
import { MiB, withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { backupFile, newLocalRepo, wrapBackend } from '../testing/helpers.js'
import { localBackend } from '../backends/local-backend.js'
import { openRepository } from '../repository.js'
import { QEMU_FORMAT, qemuCheck, qemuImg } from '../testing/qemu.js'
import { qcow2Image } from './qcow2-writer.js'
import { vhdxImage } from './vhdx-writer.js'
import { vhdImage } from './vhd-writer.js'
import { rawImage } from './raw-writer.js'
import { writePieces, type ExportInput } from './pieces.js'

describe('export', () => {
  it('writes raw, qcow2, VHD and VHDX that qemu-img accepts and finds identical to the original', async () => {
    await withTempDir('export', async (dir) => {
      const img = path.join(dir, 'disk.img')
      // 9 chunks' worth of 3 MiB blocks plus an odd tail: zero chunks, mixed chunks and a partial last chunk.
      await writeMixedImage(img, { blocks: 12, blockSize: 3 * MiB, pattern: ['random', 'zero', 'zero', 'zero', 'text', 'zero'], tail: MiB + 512 })
      await using repo = await newLocalRepo(dir)
      const point = await backupFile(repo, img)
      expect(point.stats.chunksZero).toBeGreaterThan(0)
      for (const format of EXPORT_FORMATS) {
        const out = path.join(dir, `out.${format}`)
        const result = await repo.export({ pointId: point.id, disk: 'disk0', format, output: out })
        expect(result.virtualSize).toBe(12 * 3 * MiB + MiB + 512)
        const check = await qemuCheck(out, format)
        expect(check.code, `${format}: ${check.output}`).toBe(0)
        const compare = await qemuImg('compare', '-f', 'raw', '-F', QEMU_FORMAT[format], img, out)
        expect(compare.code, `${format}: ${compare.output}`).toBe(0)
        expect(compare.output).toContain('Images are identical')
      }
      // Streamed output (no seeking, zeros written out) is the same image.
      const streamed = path.join(dir, 'streamed.qcow2')
      const stream = createWriteStream(streamed)
      await repo.export({ pointId: point.id, disk: 'disk0', format: 'qcow2', output: stream })
      stream.end()
      await once(stream, 'close')
      expect((await qemuImg('compare', '-f', 'raw', '-F', 'qcow2', img, streamed)).code).toBe(0)
      await expect(repo.export({ pointId: point.id, disk: 'nope', format: 'raw', output: path.join(dir, 'x') })).rejects.toMatchObject({ code: 'DISK_NOT_FOUND' })
    })
  })

  it('exports a many-chunk disk to a file byte for byte while its chunk memory is recycled', async () => {
    await withTempDir('export-recycle', async (dir) => {
      const img = path.join(dir, 'disk.img')
      // 26 chunks: text (compressed), random (stored as is), zeros; lengths that do not line up with chunks.
      await writeMixedImage(img, { blocks: 35, blockSize: 3 * MiB, pattern: ['text', 'random', 'text', 'zero', 'text', 'zero', 'random'], tail: 777 })
      await using repo = await newLocalRepo(dir, { workers: 2 })
      const point = await backupFile(repo, img)
      for (const format of ['raw', 'vhdx'] as const) {
        const out = path.join(dir, `out.${format}`)
        await repo.export({ pointId: point.id, disk: 'disk0', format, output: out })
        if (format === 'raw') expect((await readFile(out)).equals(await readFile(img))).toBe(true)
        else expect((await qemuImg('compare', '-f', 'raw', '-F', QEMU_FORMAT[format], img, out)).code).toBe(0)
      }
    })
  })

  it('lays out large sparse disks correctly (several qcow2 L2 tables, VHDX sector-bitmap entries in the BAT)', async () => {
    await withTempDir('export-big', async (dir) => {
      // > 1024 VHDX blocks (one sector-bitmap entry in the BAT) and 9 qcow2 L2 tables, yet quick to compare.
      const size = 4 * 1024 * MiB + 64 * MiB + 512
      const chunks = Math.ceil(size / CHUNK_SIZE)
      const dataAt = new Map<number, Buffer>([0, 1, 200, 1023, 1024, 1025, chunks - 1].map((i) => [i, randomBytes(Math.min(CHUNK_SIZE, size - i * CHUNK_SIZE))]))
      const zeroChunks = Array.from({ length: chunks }, (_, i) => !dataAt.has(i))
      const zeros = Buffer.alloc(CHUNK_SIZE)
      const input: ExportInput = {
        size,
        zeroChunks,
        async *chunks() {
          for (let i = 0; i < chunks; i++) yield await Promise.resolve(dataAt.get(i) ?? zeros.subarray(0, Math.min(CHUNK_SIZE, size - i * CHUNK_SIZE)))
        },
      }
      const raw = path.join(dir, 'big.raw')
      await writePieces(rawImage(input), raw)
      for (const [format, writer] of [['qcow2', qcow2Image], ['vhdx', vhdxImage], ['vhd', vhdImage]] as const) {
        const out = path.join(dir, `big.${format}`)
        await writePieces(writer(input), out)
        expect((await qemuCheck(out, format)).code).toBe(0)
        const compare = await qemuImg('compare', '-f', 'raw', '-F', QEMU_FORMAT[format], raw, out)
        expect(compare.code, `${format}: ${compare.output}`).toBe(0)
      }
    })
  })

  it('keeps as many chunk reads in flight as the storage asks for (a network backend), and two per worker on a local disk', async () => {
    await withTempDir('export', async (dir) => {
      const img = path.join(dir, 'disk.img')
      await writeMixedImage(img, { blocks: 24, blockSize: CHUNK_SIZE, pattern: ['random'] })
      // The same folder behind a backend that answers each chunk after 30 ms, counting the reads at once.
      const slow = (readsInFlight: number | undefined) => {
        const inner = localBackend({ path: path.join(dir, 'repo') })
        const seen = { now: 0, most: 0 }
        const backend = wrapBackend(inner, {
          ...(readsInFlight !== undefined ? { readsInFlight } : {}),
          get: async (key, options) => {
            if (!key.startsWith('chunks/')) return await inner.get(key, options)
            seen.now++
            seen.most = Math.max(seen.most, seen.now)
            try {
              await new Promise((resolve) => setTimeout(resolve, 30))
              return await inner.get(key, options)
            } finally {
              seen.now--
            }
          },
        })
        return { backend, seen }
      }
      const pointId = await (async () => {
        await using repo = await newLocalRepo(dir, { workers: 2 })
        return (await backupFile(repo, img)).id
      })()
      for (const [hint, expected] of [[12, 12], [undefined, 4]] as const) {
        const { backend, seen } = slow(hint)
        await using repo = await openRepository({ backend, workers: 2 })
        const out = path.join(dir, 'out.raw')
        await repo.export({ pointId, disk: 'disk0', format: 'raw', output: out })
        expect(seen.most).toBe(expected)
        expect((await readFile(out)).equals(await readFile(img))).toBe(true)
      }
    })
  })

  it('refuses a VHD beyond the format limit with a clear error', async () => {
    const input: ExportInput = { size: 3 * 1024 ** 4, zeroChunks: [], chunks: async function* () {} }
    await expect(vhdImage(input).next()).rejects.toMatchObject({ code: 'EXPORT_UNSUPPORTED' })
  })
})
