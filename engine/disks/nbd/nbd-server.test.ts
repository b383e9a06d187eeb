import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { connect } from 'node:net'
import { readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { CHUNK_SIZE } from '../../repository/format.js'
import { withTempDir, writeMixedImage } from '../../repository/testing/fixtures.js'
import { FAST_SCRYPT, backupFile, newLocalRepo } from '../../repository/testing/helpers.js'
import type { Repository } from '../../repository/repository.js'
import { hasTool } from '../testing/tools.js'
import { startNbdServer, parseNbdAddress, type RunningNbdServer } from './nbd-server.js'
import { servedFromChunks, type ServedDisk } from './served-disk.js'
import { openWriteOverlay, OverlayError } from './write-overlay.js'

const exec = promisify(execFile)
const haveQemu = (await hasTool('qemu-img')) && (await hasTool('qemu-io'))

/** A 28 MiB disk: data, a whole zero chunk, text, zeros at the end (made by writeMixedImage). */
async function pointOf(dir: string, encrypted: boolean): Promise<{ repo: Repository; image: string; pointId: string }> {
  const image = path.join(dir, 'disk.raw')
  await writeMixedImage(image, { blocks: 7, blockSize: CHUNK_SIZE, pattern: ['random', 'zero', 'text', 'random', 'zero', 'zero', 'text'], tail: 24 * 512 })
  const repo = await newLocalRepo(dir, encrypted ? { passphrase: 'pw', scrypt: FAST_SCRYPT } : {})
  const point = await backupFile(repo, image)
  return { repo, image, pointId: point.id }
}

async function served(repo: Repository, pointId: string): Promise<ServedDisk> {
  const source = await repo.openDisk(pointId, 'disk0', { cacheChunks: 4 })
  return servedFromChunks(source, source.chunkList, CHUNK_SIZE)
}

async function qemuImg(...args: string[]): Promise<string> {
  return (await exec('qemu-img', args, { maxBuffer: 64 * 1024 * 1024 })).stdout
}

describe.skipIf(!haveQemu)('NBD server for restore points, against qemu-img and qemu-io', () => {
  for (const encrypted of [false, true]) {
    it(`serves the exact bytes, the holes and the size of a${encrypted ? 'n encrypted' : ''} restore point, read-only`, async () => {
      await withTempDir('nbd', async (dir) => {
        const { repo, image, pointId } = await pointOf(dir, encrypted)
        const socket = path.join(dir, 'disk.sock')
        const disk = await served(repo, pointId)
        let bytes = 0
        const server = await startNbdServer(parseNbdAddress(`unix:${socket}`), { disk, exportName: 'disk0', description: 'test', onServed: (n) => (bytes += n) })
        try {
          expect(server.uri).toBe(`nbd+unix:///disk0?socket=${socket}`)
          const info = JSON.parse(await qemuImg('info', '--output=json', server.uri)) as { 'virtual-size': number }
          expect(info['virtual-size']).toBe((await stat(image)).size)
          const out = path.join(dir, 'out.raw')
          await qemuImg('convert', '-O', 'raw', server.uri, out)
          expect((await readFile(out)).equals(await readFile(image))).toBe(true)
          expect(bytes).toBeGreaterThan(0)
          // Block status: the two zero stretches (chunk 1, chunks 4–5) are holes, qemu-img map sees them without reading.
          const map = JSON.parse(await qemuImg('map', '--output=json', '-f', 'raw', server.uri)) as { start: number; length: number; zero: boolean; data: boolean }[]
          const zeroAt = (offset: number) => map.find((m) => m.start <= offset && offset < m.start + m.length)?.zero
          expect([zeroAt(0), zeroAt(CHUNK_SIZE), zeroAt(2 * CHUNK_SIZE), zeroAt(4 * CHUNK_SIZE + 5), zeroAt(5 * CHUNK_SIZE + 9), zeroAt(6 * CHUNK_SIZE)]).toEqual([false, true, false, true, true, false])
          // Read-only: a write is refused, and the export still serves afterwards.
          const write = await exec('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 0 4096', server.uri]).then(
            (r) => `${r.stdout}${r.stderr}`,
            (e: unknown) => outputOf(e),
          )
          expect(write).toMatch(/read-only|Operation not permitted|Permission denied/i)
          const check = await exec('qemu-io', ['-r', '-f', 'raw', '-c', `read -P 0 ${CHUNK_SIZE} 65536`, server.uri])
          expect(check.stdout).toMatch(/read 65536\/65536 bytes/)
        } finally {
          await server.close()
          await disk.close()
          await repo.close()
        }
        await expect(stat(socket)).rejects.toThrow(/ENOENT/)
      })
    })
  }

  it('takes writes into an overlay file and never into the repository; the overlay survives a restart and fits only its disk', async () => {
    await withTempDir('nbd-overlay', async (dir) => {
      const { repo, image, pointId } = await pointOf(dir, false)
      const overlay = path.join(dir, 'writes.ovl')
      const socket = path.join(dir, 'rw.sock')
      const original = await readFile(image)
      const expected = Buffer.from(original)
      let server: RunningNbdServer | undefined
      let disk: ServedDisk | undefined
      try {
        disk = await openWriteOverlay(overlay, await served(repo, pointId), `${pointId}/disk0`)
        server = await startNbdServer(parseNbdAddress(`unix:${socket}`), { disk, exportName: 'disk0', description: 'rw' })
        // Unaligned writes across a 64 KiB overlay block border and into a hole of the restore point.
        await exec('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 65000 5000', '-c', `write -P 0xcd ${CHUNK_SIZE + 100} 300`, '-c', `write -z ${2 * CHUNK_SIZE} 131072`, '-c', 'flush', server.uri])
        expected.fill(0xab, 65000, 70000)
        expected.fill(0xcd, CHUNK_SIZE + 100, CHUNK_SIZE + 400)
        expected.fill(0, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 131072)
        await qemuImg('convert', '-O', 'raw', server.uri, path.join(dir, 'a.raw'))
        expect((await readFile(path.join(dir, 'a.raw'))).equals(expected)).toBe(true)
      } finally {
        await server?.close()
        await disk?.close()
      }
      // Served again from the same overlay: the writes are there.
      const again = await openWriteOverlay(overlay, await served(repo, pointId), `${pointId}/disk0`)
      const server2 = await startNbdServer(parseNbdAddress(`unix:${socket}`), { disk: again, exportName: 'disk0', description: 'rw' })
      try {
        await qemuImg('convert', '-O', 'raw', server2.uri, path.join(dir, 'b.raw'))
        expect((await readFile(path.join(dir, 'b.raw'))).equals(expected)).toBe(true)
      } finally {
        await server2.close()
        await again.close()
      }
      // The restore point is as it was, and the repository verifies.
      const plain = await served(repo, pointId)
      try {
        expect((await plain.read(0, plain.size)).equals(original)).toBe(true)
      } finally {
        await plain.close()
      }
      expect((await repo.verify()).ok).toBe(true)
      await expect(openWriteOverlay(overlay, await served(repo, pointId), `${pointId}/disk1`)).rejects.toThrow(OverlayError)
      await writeFile(path.join(dir, 'notes.txt'), 'not an overlay, but long enough to have a header'.repeat(100))
      await expect(openWriteOverlay(path.join(dir, 'notes.txt'), await served(repo, pointId), `${pointId}/disk0`)).rejects.toThrow(/not a Lifeboat write overlay/)
      await repo.close()
    })
  })

  it('answers a hostile client with errors or a disconnect, and goes on serving others', async () => {
    await withTempDir('nbd-hostile', async (dir) => {
      const { repo, image, pointId } = await pointOf(dir, false)
      const socket = path.join(dir, 'h.sock')
      const disk = await served(repo, pointId)
      const server = await startNbdServer(parseNbdAddress(`unix:${socket}`), { disk, exportName: 'disk0', description: 'h' })
      try {
        const talk = (bytes: Buffer) =>
          new Promise<Buffer>((resolve) => {
            const s = connect(socket)
            const got: Buffer[] = []
            s.on('data', (d: Buffer) => got.push(d))
            s.on('error', () => undefined)
            s.on('close', () => resolve(Buffer.concat(got)))
            s.write(bytes)
            setTimeout(() => s.end(), 300)
          })
        const hello = (await talk(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).subarray(0, 8).toString('latin1')
        expect(hello).toBe('NBDMAGIC')
        // Fixed newstyle, then an option claiming 4 GiB of data: dropped, not buffered.
        const huge = Buffer.alloc(20)
        huge.writeUInt32BE(1, 0)
        huge.writeBigUInt64BE(0x49484156454f5054n, 4)
        huge.writeUInt32BE(7, 12)
        huge.writeUInt32BE(0xffffffff, 16)
        await talk(huge)
        // Unknown options and malformed GO get error replies (type ≥ 2^31), never a crash.
        const opt = (n: number, data: Buffer) => Buffer.concat([Buffer.from([0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54]), u32(n), u32(data.length), data])
        const replies = await talk(Buffer.concat([u32(1), opt(99, Buffer.alloc(0)), opt(7, Buffer.from([0, 0, 0, 50, 1]))]))
        const types = [replies.readUInt32BE(18 + 12), replies.readUInt32BE(18 + 20 + replies.readUInt32BE(18 + 16) + 12)]
        expect(types.every((t) => t >= 0x80000000)).toBe(true)
        // After all that, a real client still gets the exact disk.
        const out = path.join(dir, 'after.raw')
        await qemuImg('convert', '-O', 'raw', server.uri, out)
        expect((await readFile(out)).equals(await readFile(image))).toBe(true)
        // Reads beyond the end are refused by the client library already; qemu-io reports them without hanging.
        const beyond = await exec('qemu-io', ['-r', '-f', 'raw', '-c', `read ${disk.size} 4096`, server.uri]).then(
          (r) => r.stdout + r.stderr,
          (e: unknown) => outputOf(e),
        )
        expect(beyond).toMatch(/out of range|Input\/output error|Invalid argument|beyond/i)
      } finally {
        await server.close()
        await disk.close()
        await repo.close()
      }
    })
  })

  it('serves on loopback TCP only, and says why another address is refused', () => {
    expect(parseNbdAddress('127.0.0.1:10809')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 10809 })
    expect(() => parseNbdAddress('0.0.0.0:10809')).toThrow(/this machine only/)
    expect(() => parseNbdAddress('192.168.1.5:10809')).toThrow(/this machine only/)
    expect(() => parseNbdAddress('unix:relative.sock')).toThrow(/absolute path/)
  })
})

/** What a failed execFile printed (its error carries stdout and stderr). */
function outputOf(e: unknown): string {
  const { stdout, stderr } = e as { stdout?: unknown; stderr?: unknown }
  return `${typeof stdout === 'string' ? stdout : ''}${typeof stderr === 'string' ? stderr : ''}`
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
