import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { X509Certificate, createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdapterError } from '../host-adapter'
import { certificateFingerprint } from './pinned-tls'
import { XenServerAdapter } from './xenserver-adapter'

function selfSigned(cn: string): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'lb-xapi-cert-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-days', '1', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' })
  return { key: readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'c.pem'), 'utf8') }
}

/** Just enough of XAPI's JSON-RPC for a login and a VM list (the full simulator is its own test peer). */
function xapiPeer(credentials: { key: string; cert: string }, seen: string[], params: unknown[][] = []): Server {
  const records: Record<string, unknown> = {
    'pool.get_all_records': { 'OpaqueRef:p1': { name_label: 'Main pool', master: 'OpaqueRef:h1' } },
    'host.get_all_records': { 'OpaqueRef:h1': { uuid: 'h-1', name_label: 'xen1', hostname: 'xen1', software_version: { product_brand: 'XCP-ng', product_version: '8.3.0' } } },
    'VM.get_all_records': {
      'OpaqueRef:v1': { uuid: 'vm-1', name_label: 'web', power_state: 'Running', is_a_template: false, is_a_snapshot: false, is_control_domain: false, resident_on: 'OpaqueRef:h1', VCPUs_at_startup: '2', memory_static_max: '2147483648' },
      'OpaqueRef:v2': { uuid: 'dom0', name_label: 'Control domain', power_state: 'Running', is_a_template: false, is_a_snapshot: false, is_control_domain: true },
    },
    'system.listMethods': ['pool.get_all_records', 'host.get_all_records', 'VM.get_all_records'],
  }
  return createServer(credentials, (req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      const call = JSON.parse(body) as { id: number; method: string; params: unknown[] }
      seen.push(call.method)
      params.push(call.params)
      const reply = (payload: object) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: call.id, ...payload }))
      if (call.method === 'session.login_with_password') {
        const [user, password] = call.params as [string, string]
        if (user === 'root' && password === 'xenpass') reply({ result: 'OpaqueRef:session-1' })
        else reply({ error: { code: 1, message: 'SESSION_AUTHENTICATION_FAILED', data: [user, 'Authentication failure'] } })
      } else if (call.method === 'session.logout') reply({ result: '' })
      else if (call.method in records) reply({ result: records[call.method] })
      else reply({ error: { code: 1, message: 'MESSAGE_METHOD_UNKNOWN', data: [call.method] } })
    })
  })
}

describe('XenServer adapter: pinned TLS and login', () => {
  const cert = selfSigned('xen1')
  const seen: string[] = []
  const params: unknown[][] = []
  let server: Server
  let port: number
  const fingerprint = certificateFingerprint(new X509Certificate(cert.cert).raw)

  beforeAll(async () => {
    server = xapiPeer(cert, seen, params)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  const adapter = (password: string, pinned?: string) =>
    new XenServerAdapter({
      endpoint: { kind: 'xenserver', address: '127.0.0.1', port, user: 'root' },
      secret: { type: 'password', password },
      ...(pinned !== undefined ? { pinnedFingerprint: pinned } : {}),
      connectTimeoutMs: 5000,
    })

  it('shows the certificate fingerprint (as openssl prints it) before sending any credential', async () => {
    seen.length = 0
    const err = await adapter('xenpass').connect(AbortSignal.timeout(10_000)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AdapterError)
    expect((err as AdapterError).code).toBe('HOST_KEY_UNKNOWN')
    const openssl = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: cert.cert }).toString().trim().split('=')[1]
    expect((err as AdapterError).params.fingerprint).toBe(`SHA256:${openssl}`)
    expect(seen).toEqual([])
  })

  it('refuses a certificate that differs from the pinned one: no credential is sent, only the empty "are you a pool member?" login', async () => {
    seen.length = 0
    params.length = 0
    const other = `SHA256:${createHash('sha256').update('other').digest('hex').toUpperCase().match(/../g)!.join(':')}`
    const err = await adapter('xenpass', other).connect(AbortSignal.timeout(10_000)).catch((e: unknown) => e)
    expect((err as AdapterError).code).toBe('HOST_KEY_MISMATCH')
    expect(seen).toEqual(['session.login_with_password'])
    expect(params).toEqual([['', '']])
  })

  it('maps a wrong password to AUTH_FAILED', async () => {
    const err = await adapter('nope', fingerprint).connect(AbortSignal.timeout(10_000)).catch((e: unknown) => e)
    expect((err as AdapterError).code).toBe('AUTH_FAILED')
  })
})
