import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { createChunkCodec } from './codec-pool.js'
import { chunkIdOf } from '../codec/sealed-object.js'
import { CHUNK_SIZE } from '../format.js'
import { textBlock } from '../testing/fixtures.js'
import { bundleForNode } from '../testing/bundle.js'

const run = promisify(execFile)
const keys = { dataKey: randomBytes(32), idKey: randomBytes(32) }

describe('chunk codec', () => {
  it('reads and decompresses into recycled memory, and never lets a recycled buffer show an earlier chunk', async () => {
    const codec = createChunkCodec({ compressionLevel: 3, workers: 2, ...keys })
    try {
      // Compressible chunks of different lengths (each shorter one would show the previous one's tail if leaked),
      // a stored (incompressible) one whose result is a view of its object, and a zero-length read of neither.
      const plains = [textBlock(CHUNK_SIZE, 1), textBlock(CHUNK_SIZE - 5000, 2), randomBytes(CHUNK_SIZE), textBlock(300_000, 3), textBlock(CHUNK_SIZE, 4)]
      const stored: { id: string; object: Buffer; plain: Buffer }[] = []
      for (const plain of plains) {
        const { id, data } = await codec.hash(Buffer.from(plain))
        stored.push({ id: id!, object: await codec.seal(data, id!), plain })
      }
      for (let round = 0; round < 4; round++) {
        for (const { id, object, plain } of stored) {
          const into = codec.objectBuffer()!
          object.copy(into)
          const opened = await codec.open(into.subarray(0, object.length), id, plain.length)
          // Handed to the worker whole, not copied: the memory left this thread.
          expect(into.buffer.byteLength).toBe(0)
          expect(opened.equals(plain)).toBe(true)
          codec.recycle(opened)
          // The chunk's memory (decompressed into, or the object's own for a stored chunk) is what the next read gets.
          expect(codec.objectBuffer()!.buffer).toBe(opened.buffer)
        }
      }
      // Memory the codec did not hand out is never taken in.
      const foreign = Buffer.alloc(8 * 1024 * 1024)
      codec.recycle(foreign)
      expect(codec.objectBuffer()!.buffer).not.toBe(foreign.buffer)
    } finally {
      await codec.close()
    }
  })

  for (const workers of [0, 2]) {
    for (const encrypted of [false, true]) {
      it(`hashes, seals and opens chunks (${workers === 0 ? 'inline' : 'worker threads'}, ${encrypted ? 'encrypted' : 'plain'})`, async () => {
        const codec = createChunkCodec({ compressionLevel: 3, workers, ...(encrypted ? keys : {}) })
        try {
          const inputs = [textBlock(CHUNK_SIZE, 1), randomBytes(CHUNK_SIZE), Buffer.alloc(CHUNK_SIZE), textBlock(1234, 2)]
          const copies = inputs.map((b) => Buffer.from(b))
          const results = await Promise.all(inputs.map((b) => codec.hash(b)))
          expect(results[2]!.id).toBeNull()
          expect(results[0]!.id).toBe(chunkIdOf(copies[0]!, encrypted ? keys.idKey : undefined))
          for (const [i, r] of results.entries()) {
            if (r.id === null) continue
            const sealed = await codec.seal(r.data, r.id)
            // Text shrinks, random data is stored as is (never grows beyond header + IV + tag).
            if (i === 0) expect(sealed.length).toBeLessThan(CHUNK_SIZE / 2)
            if (i === 1) expect(sealed.length).toBeLessThanOrEqual(CHUNK_SIZE + 40)
            const opened = await codec.open(sealed, r.id, copies[i]!.length)
            expect(opened.equals(copies[i]!)).toBe(true)
          }
          const sealed = await codec.seal(Buffer.from(copies[0]!), results[0]!.id!)
          await expect(codec.open(Buffer.from(sealed), results[0]!.id!, 100)).rejects.toMatchObject({ code: 'CORRUPT_CHUNK' })
          await expect(codec.open(Buffer.from(sealed), 'f'.repeat(64), CHUNK_SIZE)).rejects.toMatchObject({ code: 'CORRUPT_CHUNK' })
        } finally {
          await codec.close()
        }
      })
    }
  }

  it.runIf(process.platform === 'linux')('lowers its workers\' priority at the first backup request, never for reading', async () => {
    const codec = createChunkCodec({ compressionLevel: 3, workers: 2, niceness: 7, ...keys })
    try {
      const { id, data } = await createChunkCodec({ compressionLevel: 3, workers: 0, ...keys }).hash(textBlock(CHUNK_SIZE, 3))
      const sealed = await createChunkCodec({ compressionLevel: 3, workers: 0, ...keys }).seal(data, id!)
      // Reads: an export or a restore is what the admin waits for, so no thread of this process runs niced.
      await Promise.all([0, 1, 2, 3].map(() => codec.open(Buffer.from(sealed), id!, CHUNK_SIZE)))
      expect(await threadNiceValues()).not.toContain(7)
      await Promise.all([0, 1, 2, 3].map(() => codec.hash(textBlock(CHUNK_SIZE, 4))))
      expect(await threadNiceValues()).toContain(7)
    } finally {
      await codec.close()
    }
  })

  it('starts its workers from an esbuild bundle laid out like dist/node', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-bundle-'))
    try {
      const entry = path.join(dir, 'entry.ts')
      const codecModule = path.resolve(import.meta.dirname, 'codec-pool.ts')
      await writeFile(
        entry,
        `import { createChunkCodec } from ${JSON.stringify(codecModule)}
const codec = createChunkCodec({ compressionLevel: 3, workers: 2 })
const data = Buffer.alloc(4096, 65)
const { id, data: back } = await codec.hash(data)
const sealed = await codec.seal(back, id!)
const opened = await codec.open(sealed, id!, 4096)
console.log(JSON.stringify({ id, ok: opened.equals(Buffer.alloc(4096, 65)) }))
await codec.close()
`,
      )
      const out = path.join(dir, 'dist', 'node')
      await bundleForNode(out, [{ in: entry, out: 'entry' }])
      const { stdout } = await run(process.execPath, [path.join(out, 'entry.js')])
      expect(JSON.parse(stdout)).toEqual({ id: chunkIdOf(Buffer.alloc(4096, 65), undefined), ok: true })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

/** The nice value of every thread of this process (Linux /proc; the field after the command name's closing parenthesis). */
async function threadNiceValues(): Promise<number[]> {
  const tasks = await readdir('/proc/self/task')
  const values = await Promise.all(
    tasks.map(async (tid) => {
      const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
    }),
  )
  return values.filter((v) => Number.isInteger(v))
}
