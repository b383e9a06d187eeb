import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const PYTHON = '/usr/bin/python3'

/** Debian's python3-aiosmtpd and openssl: without them the SMTP tests skip. */
export function smtpPeerMissing(): string | undefined {
  if (spawnSync(PYTHON, ['-c', 'import aiosmtpd'], { stdio: 'ignore' }).status !== 0) return 'python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)'
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) return 'openssl is missing'
  return undefined
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

export interface SmtpPeer extends AsyncDisposable {
  readonly port: number
  /** SHA-256 fingerprint of the server's certificate as openssl prints it (AB:CD:…). */
  readonly fingerprint: string
  /** The raw messages received so far, oldest first. */
  messages(): Promise<string[]>
}

/** A self-signed certificate made by openssl now, and aiosmtpd serving STARTTLS (or TLS) + AUTH with it on 127.0.0.1. */
export async function startSmtpPeer(user: string, password: string, mode: 'starttls' | 'tls' = 'starttls'): Promise<SmtpPeer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-smtp-'))
  const run = promisify(execFile)
  const cert = path.join(dir, 'cert.pem')
  const key = path.join(dir, 'key.pem')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=mail.lifeboat.test'])
  const { stdout } = await run('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', cert])
  const fingerprint = stdout.trim().split('=')[1] ?? ''
  const outdir = path.join(dir, 'mail')
  await run('mkdir', [outdir])
  const port = await freePort()
  const child: ChildProcess = spawn(PYTHON, [path.join(import.meta.dirname, 'smtp-peer.py'), String(port), cert, key, user, password, outdir, mode], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`aiosmtpd did not start: ${stderr}`)), 15_000)
    child.stdout?.on('data', (c: Buffer) => {
      if (c.toString().includes('READY')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`aiosmtpd exited with ${code}: ${stderr}`))
    })
  })
  const dispose = async () => {
    child.stdin?.end()
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
    await rm(dir, { recursive: true, force: true })
  }
  return {
    port,
    fingerprint,
    async messages() {
      const names = (await readdir(outdir)).filter((n) => n.endsWith('.eml')).sort((a, b) => parseInt(a) - parseInt(b))
      return Promise.all(names.map((n) => readFile(path.join(outdir, n), 'utf8')))
    },
    [Symbol.asyncDispose]: dispose,
  }
}
