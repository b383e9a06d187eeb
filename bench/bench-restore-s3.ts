import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { startS3 } from '../engine/repository/testing/s3-server.js'
import { best, measure, type Measured } from './measure-command.js'
import type { RestorePartOptions } from './restore-part.js'

const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }

/**
 * Part 3 of bench:restore: `points export --format raw` from an encrypted repository on s3rver, against one GET of
 * one object of the image's size from the same server (both in child processes; the server runs in this one).
 */
export async function s3Export(o: RestorePartOptions): Promise<{ lines: string[]; checks: [string, boolean][] }> {
  await using s3 = await startS3(path.join(o.dir, 's3rver'))
  const repo = `s3://${s3.bucket}/repo?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1`
  const env = { ...process.env, ...o.env }
  const init = spawn(process.execPath, [o.bin, 'repo', 'init', '--repo', repo, '--passphrase-stdin', '--s3-access-key', 'S3RVER', '--s3-secret-stdin', '--home', o.home], { env, stdio: ['pipe', 'ignore', 'inherit'] })
  init.stdin.end(`${String(o.env.LIFEBOAT_REPO_PASSPHRASE)}\nS3RVER\n`)
  if ((await new Promise<number | null>((resolve) => init.on('close', resolve))) !== 0) throw new Error('lifeboat repo init on s3rver failed')
  const backup = await measure(process.execPath, [o.bin, 'backup-file', o.image, '--repo', repo, '--json', '--home', o.home], o.env)
  console.log(`  backed up to s3rver in ${backup.seconds.toFixed(1)} s`)
  const { id } = await pointId(o, repo)
  const size = (await stat(o.image)).size
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'whole-image', Body: createReadStream(o.image), ContentLength: size }))
  const exported = path.join(o.dir, 'export-s3.raw')
  const get = path.join(path.dirname(o.bin), 's3-get.js')
  const lb: Measured[] = []
  const plain: Measured[] = []
  for (let r = 1; r <= o.repeat; r++) {
    await o.dropCaches()
    lb.push(await measure(process.execPath, [o.bin, 'points', 'export', id, '--format', 'raw', '--out', exported, '--repo', repo, '--home', o.home], o.env))
    await rm(exported, { force: true })
    await o.dropCaches()
    plain.push(await measure(process.execPath, [get, s3.endpoint, s3.bucket, 'whole-image', String(size)], CREDENTIALS))
    console.log(`  S3 round ${r}: export ${lb.at(-1)?.seconds.toFixed(2)} s, one GET ${plain.at(-1)?.seconds.toFixed(2)} s`)
  }
  const l = best(lb)
  const p = best(plain)
  const ratio = p.seconds / l.seconds
  return {
    lines: [
      `From S3 (s3rver on 127.0.0.1, encrypted repository), best of ${o.repeat}:`,
      `  lifeboat points export --format raw: ${(o.sizeMiB / l.seconds).toFixed(0)} MiB/s (${l.seconds.toFixed(2)} s), peak RSS ${l.maxRssMiB?.toFixed(0) ?? '?'} MiB; runs ${lb.map((m) => m.seconds.toFixed(2)).join(' ')}`,
      `  one GET of one ${o.sizeMiB} MiB object:    ${(o.sizeMiB / p.seconds).toFixed(0)} MiB/s (${p.seconds.toFixed(2)} s); runs ${plain.map((m) => m.seconds.toFixed(2)).join(' ')}`,
    ],
    checks: [[`export from S3 ${(ratio * 100).toFixed(0)} % of one S3 GET of the same size (target ≥ 80 %)`, ratio >= 0.8]],
  }
}

async function pointId(o: RestorePartOptions, repo: string): Promise<{ id: string }> {
  const child = spawn(process.execPath, [o.bin, 'points', 'list', '--repo', repo, '--json', '--home', o.home], { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  if ((await new Promise<number | null>((resolve) => child.on('close', resolve))) !== 0) throw new Error('lifeboat points list on s3rver failed')
  const points = JSON.parse(out) as { id: string }[]
  const first = points[0]
  if (first === undefined) throw new Error('the S3 repository has no restore point after backup-file')
  return first
}
