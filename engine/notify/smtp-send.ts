import net from 'node:net'
import type { PeerCertificate } from 'node:tls'
import type { EmailChannel } from '../state/notify-settings'
import { AttemptError } from './delivery'
import type { NotifyMessage } from './events'
import { normalizeFingerprint, probeCertificate } from './certificate-probe'

const certificateProblem = /certificate|self[- ]signed|UNABLE_TO_|CERT_|DEPTH_ZERO|ERR_TLS_CERT/i

function errorText(err: unknown): { text: string; code: string; responseCode?: number } {
  const e = err as { message?: unknown; code?: unknown; responseCode?: unknown; response?: unknown }
  const text = typeof e.message === 'string' ? e.message : String(err)
  return { text, code: typeof e.code === 'string' ? e.code : '', ...(typeof e.responseCode === 'number' ? { responseCode: e.responseCode } : {}) }
}

/**
 * Sends one message over SMTP with nodemailer: STARTTLS required (or TLS from the start), AUTH when a user is set,
 * and the server's certificate checked — against the public CAs, or, for a server whose self-signed certificate the
 * admin accepted, against exactly that certificate (it is the only CA, and its SHA-256 must match).
 */
export async function sendMail(channel: EmailChannel, password: string | undefined, message: NotifyMessage, signal: AbortSignal, timeoutMs: number): Promise<string> {
  const pinned = channel.acceptedFingerprint !== undefined && channel.certificatePem !== undefined ? normalizeFingerprint(channel.acceptedFingerprint) : undefined
  // Loaded when a mail goes out, not with every CLI command.
  const { default: nodemailer } = await import('nodemailer')
  const transport = nodemailer.createTransport({
    host: channel.host,
    port: channel.port,
    secure: channel.security === 'tls',
    requireTLS: channel.security === 'starttls',
    ...(channel.user !== undefined && channel.user !== '' ? { auth: { user: channel.user, pass: password ?? '' } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    tls: {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(net.isIP(channel.host) === 0 ? { servername: channel.host } : {}),
      ...(pinned !== undefined && channel.certificatePem !== undefined
        ? {
            ca: [channel.certificatePem],
            checkServerIdentity: (_host: string, cert: PeerCertificate) =>
              normalizeFingerprint(cert.fingerprint256) === pinned ? undefined : new Error(`The server's certificate (${normalizeFingerprint(cert.fingerprint256)}) is not the one you accepted (${pinned}).`),
          }
        : {}),
    },
  })
  const onAbort = () => transport.close()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const info = await transport.sendMail({ from: channel.from, to: channel.to, subject: message.subject, text: message.text, headers: { 'X-Lifeboat-Event': message.kind } })
    return `Sent to ${channel.to.join(', ')} (${typeof info.response === 'string' ? info.response.slice(0, 120) : 'accepted'}).`
  } catch (err) {
    if (signal.aborted) throw err instanceof Error ? err : new Error(String(err))
    const { text, code, responseCode } = errorText(err)
    if (certificateProblem.test(text) || certificateProblem.test(code)) {
      const probe = await probeCertificate({ host: channel.host, port: channel.port, security: channel.security, signal }).catch(() => undefined)
      const hint = probe
        ? ` It presented a certificate for "${probe.subject}" with SHA-256 fingerprint ${probe.fingerprint}. If that is your server's (compare on the server: openssl x509 -noout -fingerprint -sha256 -in CERT), accept it: lifeboat notify trust ${channel.id} --fingerprint ${probe.fingerprint}`
        : ''
      throw new AttemptError(`The mail server's certificate is not trusted (${text}).${hint}`, false, probe ? { fingerprint: probe.fingerprint, subject: probe.subject, validTo: probe.validTo } : undefined)
    }
    if (code === 'EAUTH' || responseCode === 535 || responseCode === 534) throw new AttemptError(`The mail server refused the login for "${channel.user ?? ''}": ${text}`, false)
    if (responseCode !== undefined && responseCode >= 500) throw new AttemptError(`The mail server refused the message: ${text}`, false)
    throw new AttemptError(`Sending mail through ${channel.host}:${channel.port} failed: ${text}${code !== '' && !text.includes(code) ? ` (${code})` : ''}`, true)
  } finally {
    signal.removeEventListener('abort', onAbort)
    transport.close()
  }
}
