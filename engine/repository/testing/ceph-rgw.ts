import { execFile } from 'node:child_process'
import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { S3Client } from '@aws-sdk/client-s3'

const run = promisify(execFile)
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ceph-rgw.sh')

export interface CephRgw extends AsyncDisposable {
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
  client(): S3Client
}

/** Why a Ceph test cannot run here (the packages are missing), or undefined when it can. */
export async function cephMissing(): Promise<string | undefined> {
  for (const tool of ['/usr/bin/radosgw', '/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/ceph']) {
    try {
      await access(tool)
    } catch {
      return `${tool} is not installed (apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common)`
    }
  }
  return undefined
}

/**
 * A single-node Ceph cluster with a RADOS Gateway on 127.0.0.1 (ceph-rgw.sh), stopped again on dispose by the pids it
 * recorded. LIFEBOAT_CEPH_S3_ENV=DIR/s3.env reuses one already running (`npm run s3:ceph`) and leaves it running.
 */
export async function startCephRgw(): Promise<CephRgw> {
  const reuse = process.env.LIFEBOAT_CEPH_S3_ENV
  if (reuse !== undefined && reuse !== '') return fromEnv(await readFile(reuse, 'utf8'), () => Promise.resolve())
  // Short: the daemons' admin sockets live inside it and unix socket paths are limited to 107 bytes.
  const dir = await mkdtemp('/tmp/lbceph-')
  await rm(dir, { recursive: true, force: true })
  const [rgwPort, monPort] = [await freePort(), await freePort()]
  try {
    await run('bash', [SCRIPT, 'start', dir], { env: { ...process.env, RGW_PORT: String(rgwPort), MON_PORT: String(monPort) }, timeout: 400_000 })
  } catch (error) {
    await run('bash', [SCRIPT, 'stop', dir]).catch(() => undefined)
    throw error
  }
  return fromEnv(await readFile(path.join(dir, 's3.env'), 'utf8'), async () => {
    await run('bash', [SCRIPT, 'stop', dir], { timeout: 60_000 })
  })
}

function fromEnv(text: string, stop: () => Promise<void>): CephRgw {
  const env = new Map(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const endpoint = env.get('S3_ENDPOINT') ?? ''
  const accessKeyId = env.get('S3_ACCESS_KEY') ?? ''
  const secretAccessKey = env.get('S3_SECRET_KEY') ?? ''
  const clients: S3Client[] = []
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    client() {
      const c = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId, secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      })
      clients.push(c)
      return c
    },
    async [Symbol.asyncDispose]() {
      for (const c of clients) c.destroy()
      await stop()
    },
  }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
