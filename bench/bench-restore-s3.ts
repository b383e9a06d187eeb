import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { startS3 } from '../engine/repository/testing/s3-server.js'
import { cephMissing, startCephRgw } from '../engine/repository/testing/ceph-rgw.js'
import { best, measure, type Measured } from './measure-command.js'
import type { RestorePartOptions } from './restore-part.js'

/** One S3 server to measure against: where it is, its credentials, a client, and how to stop it. */
interface S3Target extends AsyncDisposable {
  /** For the report: "s3rver on 127.0.0.1", "Ceph RGW on 127.0.0.1". */
  readonly name: string
  readonly endpoint: string
  readonly bucket: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly client: S3Client
}

async function s3rverTarget(dir: string): Promise<S3Target> {
  const s3 = await startS3(path.join(dir, 's3rver'))
  return { name: 's3rver on 127.0.0.1', endpoint: s3.endpoint, bucket: s3.bucket, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', client: s3.client, [Symbol.asyncDispose]: () => s3[Symbol.asyncDispose]() }
}

/** A single-node Ceph cluster with its RADOS Gateway (engine/repository/testing/ceph-rgw.sh), one new bucket. */
async function cephTarget(): Promise<S3Target> {
  const rgw = await startCephRgw()
  try {
    const client = rgw.client()
    const bucket = `lifeboat-bench-${process.pid}`
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    return { name: 'Ceph RGW on 127.0.0.1', endpoint: rgw.endpoint, bucket, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, client, [Symbol.asyncDispose]: () => rgw[Symbol.asyncDispose]() }
  } catch (error) {
    await rgw[Symbol.asyncDispose]()
    throw error
  }
}

/**
 * Part 3 of bench:restore: `points export --format raw` from an encrypted repository on s3rver, and on a Ceph RADOS
 * Gateway when Ceph is installed (`--no-ceph` skips it), each against one GET of one object of the image's size from
 * the same server (both in child processes).
 */
export async function s3Export(o: RestorePartOptions, options: { ceph: boolean }): Promise<{ lines: string[]; checks: [string, boolean][] }> {
  const lines: string[] = []
  const checks: [string, boolean][] = []
  const targets: (() => Promise<S3Target>)[] = [() => s3rverTarget(o.dir)]
  if (options.ceph) {
    const missing = await cephMissing()
    if (missing === undefined) targets.push(cephTarget)
    else lines.push(`Ceph RGW not measured: ${missing}`)
  }
  for (const start of targets) {
    await using target = await start()
    const part = await exportFrom(o, target)
    lines.push(...part.lines)
    checks.push(...part.checks)
  }
  return { lines, checks }
}

async function exportFrom(o: RestorePartOptions, s3: S3Target): Promise<{ lines: string[]; checks: [string, boolean][] }> {
  const credentials = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }
  const repo = `s3://${s3.bucket}/repo?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1`
  const env = { ...process.env, ...o.env }
  const init = spawn(process.execPath, [o.bin, 'repo', 'init', '--repo', repo, '--passphrase-stdin', '--s3-access-key', s3.accessKeyId, '--s3-secret-stdin', '--home', o.home], { env, stdio: ['pipe', 'ignore', 'inherit'] })
  init.stdin.end(`${String(o.env.LIFEBOAT_REPO_PASSPHRASE)}\n${s3.secretAccessKey}\n`)
  if ((await new Promise<number | null>((resolve) => init.on('close', resolve))) !== 0) throw new Error(`lifeboat repo init on ${s3.name} failed`)
  const backup = await measure(process.execPath, [o.bin, 'backup-file', o.image, '--repo', repo, '--json', '--home', o.home], o.env)
  console.log(`  backed up to ${s3.name} in ${backup.seconds.toFixed(1)} s`)
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
    plain.push(await measure(process.execPath, [get, s3.endpoint, s3.bucket, 'whole-image', String(size)], credentials))
    console.log(`  ${s3.name} round ${r}: export ${lb.at(-1)?.seconds.toFixed(2)} s, one GET ${plain.at(-1)?.seconds.toFixed(2)} s`)
  }
  const l = best(lb)
  const p = best(plain)
  const ratio = p.seconds / l.seconds
  return {
    lines: [
      `From S3 (${s3.name}, encrypted repository), best of ${o.repeat}:`,
      `  lifeboat points export --format raw: ${(o.sizeMiB / l.seconds).toFixed(0)} MiB/s (${l.seconds.toFixed(2)} s), peak RSS ${l.maxRssMiB?.toFixed(0) ?? '?'} MiB; runs ${lb.map((m) => m.seconds.toFixed(2)).join(' ')}`,
      `  one GET of one ${o.sizeMiB} MiB object:    ${(o.sizeMiB / p.seconds).toFixed(0)} MiB/s (${p.seconds.toFixed(2)} s); runs ${plain.map((m) => m.seconds.toFixed(2)).join(' ')}`,
    ],
    checks: [[`export from ${s3.name} ${(ratio * 100).toFixed(0)} % of one S3 GET of the same size (target ≥ 80 %)`, ratio >= 0.8]],
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
