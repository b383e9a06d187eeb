import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export interface SelfSigned {
  readonly certPem: string
  readonly keyPem: string
  /** "SHA256:AB:CD:…", as Lifeboat and `openssl x509 -fingerprint -sha256` show it. */
  readonly fingerprint: string
  /** "AB:CD:…", as XAPI's Certificate.fingerprint_sha256 holds it. */
  readonly sha256: string
  readonly sha1: string
  readonly subject: string
  readonly notBefore: Date
  readonly notAfter: Date
}

/** A self-signed EC certificate made by openssl (as XenServer makes its own on first boot). */
export function selfSigned(commonName: string, address: string): SelfSigned {
  const dir = mkdtempSync(path.join(tmpdir(), 'xapi-sim-tls-'))
  try {
    const san = /^[\d.]+$/.test(address) ? `IP:${address}` : `DNS:${address}`
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${san},DNS:${commonName}`, '-days', '3650', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    )
    const certPem = readFileSync(path.join(dir, 'cert.pem'), 'utf8')
    const keyPem = readFileSync(path.join(dir, 'key.pem'), 'utf8')
    const x = new X509Certificate(certPem)
    return { certPem, keyPem, fingerprint: `SHA256:${x.fingerprint256}`, sha256: x.fingerprint256, sha1: x.fingerprint, subject: commonName, notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
