import { createHash } from 'node:crypto'

/**
 * OpenSSH-style fingerprint of a raw host key blob: "SHA256:" + unpadded base64 of its SHA-256, exactly what
 * `ssh-keygen -lf key.pub` prints, so the admin can compare it with the host's console.
 */
export function sshKeyFingerprint(keyBlob: Buffer): { fingerprint: string; keyType: string } {
  const digest = createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')
  return { fingerprint: `SHA256:${digest}`, keyType: sshKeyType(keyBlob) }
}

/** The key type is the first SSH string in the blob (uint32 length + ASCII), e.g. "ssh-ed25519". */
export function sshKeyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown'
  const len = keyBlob.readUInt32BE(0)
  if (len === 0 || len > 64 || 4 + len > keyBlob.length) return 'unknown'
  const type = keyBlob.subarray(4, 4 + len).toString('latin1')
  return /^[\x21-\x7e]+$/.test(type) ? type : 'unknown'
}
