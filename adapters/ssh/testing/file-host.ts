import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startSshHost, type SshTestHost } from '../../../test-hosts/ssh-host'
import { SshConnection } from '../ssh-connection'

/** A test SSH host with one file of `data` under a name that needs quoting, and a root connection to it. */
export interface FileHost {
  readonly host: SshTestHost
  readonly root: SshConnection
  readonly dir: string
  readonly file: string
  stop(): Promise<void>
}

export async function startFileHost(hostname: string, data: Buffer): Promise<FileHost> {
  const host = await startSshHost({ hostname })
  const dir = await mkdtemp(path.join(tmpdir(), `${hostname}-`))
  try {
    await chmod(dir, 0o755)
    const file = path.join(dir, "disk 'one' $(x).img")
    await writeFile(file, data)
    const root = await SshConnection.connect({ host: host.address, port: host.port, username: 'root', secret: { type: 'key', privateKey: host.clientPrivateKey }, pinnedFingerprint: host.fingerprint })
    return {
      host,
      root,
      dir,
      file,
      async stop() {
        await root.close()
        await host.stop()
        await rm(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await host.stop()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
