import { Client } from 'ssh2'
import type { SshTestHost } from '../test-hosts/ssh-host'

/**
 * The cipher ssh2 (Lifeboat's SSH layer) negotiates with a test host's sshd, so a plain `ssh` transfer measured beside
 * Lifeboat can use the same one (OpenSSH's own default differs, and would compare two ciphers, not two programs).
 */
export async function negotiatedCipher(host: SshTestHost): Promise<string> {
  return await new Promise((resolve, reject) => {
    const c = new Client()
    c.on('handshake', (n: { cs: { cipher: string } }) => {
      resolve(n.cs.cipher)
      c.end()
    })
    c.on('error', reject)
    c.connect({ host: host.address, port: host.port, username: 'root', privateKey: host.clientPrivateKey, hostVerifier: () => true })
  })
}
