import net from 'node:net'
import tls from 'node:tls'

export interface ProbedCertificate {
  /** SHA-256 of the DER certificate, upper-case hex pairs joined by colons (as Node and openssl print it). */
  readonly fingerprint: string
  readonly subject: string
  readonly validTo: string
  readonly pem: string
}

/** "SHA256:ab:cd…" or "abcd…" → "AB:CD:…", so fingerprints typed by people compare equal to Node's. */
export function normalizeFingerprint(text: string): string {
  const hex = text.trim().replace(/^SHA256:/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase()
  return (hex.match(/../g) ?? []).join(':')
}

const MAX_REPLY = 16 * 1024

/** Reads one complete SMTP reply (the last line has a space after the code); bounded, since the server is untrusted. */
function reply(socket: net.Socket, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    const done = (err?: Error, value?: string) => {
      socket.off('data', onData)
      socket.off('error', onError)
      socket.off('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve(value ?? '')
    }
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1')
      if (buffer.length > MAX_REPLY) return done(new Error('The server sent an endless reply.'))
      const lines = buffer.split('\r\n')
      const last = lines.slice(0, -1).reverse()[0]
      if (last !== undefined && /^\d{3} /.test(last)) done(undefined, buffer)
    }
    const onError = (err: Error) => done(err)
    const onClose = () => done(new Error('The server closed the connection.'))
    const onAbort = () => done(new Error('Gave up waiting for the server.'))
    socket.on('data', onData)
    socket.on('error', onError)
    socket.on('close', onClose)
    signal.addEventListener('abort', onAbort)
  })
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${b64.join('\n')}\n-----END CERTIFICATE-----\n`
}

/**
 * Fetches the certificate an SMTP server presents, without trusting it and without sending mail: so the admin can
 * compare its fingerprint with the server's own and accept it. STARTTLS is spoken only as far as the handshake.
 */
export async function probeCertificate(options: { host: string; port: number; security: 'starttls' | 'tls'; signal: AbortSignal }): Promise<ProbedCertificate> {
  const { host, port, security, signal } = options
  const servername = net.isIP(host) === 0 ? host : undefined
  let plain: net.Socket | undefined
  let secure: tls.TLSSocket | undefined
  try {
    if (security === 'starttls') {
      const socket = net.connect({ host, port })
      plain = socket
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', reject)
        signal.addEventListener('abort', () => reject(new Error('Gave up connecting.')), { once: true })
      })
      const greeting = await reply(socket, signal)
      if (!greeting.startsWith('220')) throw new Error(`The server did not greet as an SMTP server: ${greeting.slice(0, 80)}`)
      socket.write('EHLO lifeboat.invalid\r\n')
      const ehlo = await reply(socket, signal)
      if (!/^250[- ]STARTTLS/im.test(ehlo)) throw new Error('The server does not offer STARTTLS.')
      socket.write('STARTTLS\r\n')
      const ready = await reply(socket, signal)
      if (!ready.startsWith('220')) throw new Error(`The server refused STARTTLS: ${ready.slice(0, 80)}`)
    }
    const connection = tls.connect({ ...(plain ? { socket: plain } : { host, port }), ...(servername !== undefined ? { servername } : {}), rejectUnauthorized: false })
    secure = connection
    await new Promise<void>((resolve, reject) => {
      connection.once('secureConnect', resolve)
      connection.once('error', reject)
      signal.addEventListener('abort', () => reject(new Error('Gave up during the TLS handshake.')), { once: true })
    })
    const cert = connection.getPeerCertificate()
    // An empty object when there is none, whatever the types say.
    const raw: unknown = cert.raw
    if (!Buffer.isBuffer(raw)) throw new Error('The server presented no certificate.')
    const cn = cert.subject.CN
    return { fingerprint: normalizeFingerprint(cert.fingerprint256), subject: typeof cn === 'string' ? cn : JSON.stringify(cert.subject), validTo: cert.valid_to, pem: toPem(raw) }
  } finally {
    secure?.destroy()
    plain?.destroy()
  }
}
