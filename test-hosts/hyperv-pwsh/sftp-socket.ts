/**
 * The test host's SFTP subsystem. sshd's ForceCommand (lib/winshell.sh) also catches `internal-sftp` and relays the
 * session's stdin/stdout to this unix socket; here ssh2's SFTP packet layer, run over the raw stream, is served by
 * test-hosts/hyperv-sim/sftp.ts — the same code as the ssh2 simulator's subsystem, so `/C:/…` paths, Windows error
 * texts and the sharing violations for disks a running VM holds open are the model's on both hosts.
 */
import { rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer, type Server, type Socket } from 'node:net'
import type { SFTPWrapper } from 'ssh2'
import type { HyperVHost } from '../hyperv-sim/hyperv/host'
import { FileLocks } from '../hyperv-sim/hyperv/locks'
import { serveSftp } from '../hyperv-sim/sftp'

/** What ssh2's SFTP class needs of a channel and its connection (lib/protocol/SFTP.js: push, channelData, channelClose). */
interface SftpPacketLayer {
  push(data: Buffer | null): void
}
type SftpConstructor = new (client: unknown, chanInfo: unknown, cfg: { server: true }) => SftpPacketLayer

const require = createRequire(import.meta.url)
// ssh2 exports no way to serve SFTP on a plain stream; its SFTP class only needs the three calls faked below.
const { SFTP } = require('ssh2/lib/protocol/SFTP.js') as { SFTP: SftpConstructor }

export interface SftpSocket {
  readonly socketPath: string
  close(): Promise<void>
}

export async function startSftpSocket(host: HyperVHost, socketPath: string): Promise<SftpSocket> {
  // Job locks are real .NET FileShare.None opens (flock) in the pwsh sessions, not the simulator's FileLocks, so this
  // one stays empty: what sftp.ts refuses here is what a running VM holds open (host.inUse).
  const locks = new FileLocks(host.fs)
  const sockets = new Set<Socket>()

  function onConnection(socket: Socket): void {
    sockets.add(socket)
    const outgoing = { id: 0, state: 'open', window: Number.MAX_SAFE_INTEGER, packetSize: 1 << 30 }
    const protocol = {
      _remoteIdentRaw: 'SSH-2.0-OpenSSH_for_Windows_8.6',
      channelData: (_id: number, data: Buffer) => {
        if (!socket.destroyed) socket.write(data)
      },
      channelClose: () => {
        outgoing.state = 'closed'
        socket.end()
      },
    }
    const sftp = new SFTP({ _protocol: protocol }, { type: 'session', incoming: { id: 0, state: 'open' }, outgoing }, { server: true })
    serveSftp(sftp as unknown as SFTPWrapper, host, locks)
    socket.on('data', (chunk: Buffer) => sftp.push(chunk))
    socket.on('end', () => {
      sftp.push(null)
      socket.end()
    })
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  }

  await rm(socketPath, { force: true })
  const server: Server = createServer(onConnection)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => resolve())
  })
  return {
    socketPath,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(socketPath, { force: true })
    },
  }
}
