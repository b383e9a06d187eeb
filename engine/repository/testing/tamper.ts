import { createHash } from 'node:crypto'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

/** Rewrites a plain manifest the way a careful attacker would: edited, with its checksum recomputed to match. */
export async function editManifest(repoDir: string, pointId: string, edit: (m: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(repoDir, 'points', `${pointId}.json`)
  const { checksum: _checksum, ...body } = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  edit(body)
  const text = JSON.stringify(body)
  const sum = `sha256:${createHash('sha256').update(text).digest('hex')}`
  await writeFile(file, `${text.slice(0, -1)},"checksum":${JSON.stringify(sum)}}`)
}

export async function chunkFiles(repoDir: string): Promise<string[]> {
  const out: string[] = []
  const root = path.join(repoDir, 'chunks')
  for (const sub of await readdir(root)) for (const f of await readdir(path.join(root, sub))) out.push(path.join(root, sub, f))
  return out.sort()
}

export async function flipBit(file: string, offset: number): Promise<void> {
  const data = await readFile(file)
  const at = offset < 0 ? data.length + offset : offset
  // A Buffer silently ignores writes past its end: a "flip" there would leave the file intact and a test passing
  // for the wrong reason (small, well-compressed chunks are shorter than the offset asked).
  if (at < 0 || at >= data.length) throw new Error(`flipBit: offset ${offset} is outside ${file} (${data.length} bytes)`)
  data[at] = (data[at] ?? 0) ^ 0x10
  await writeFile(file, data)
}
