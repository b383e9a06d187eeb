import { statfs } from 'node:fs/promises'
import path from 'node:path'
import type { RepositoryLocation } from '../repository-access/location'

/**
 * Linux statfs magic numbers of network filesystems: a "local folder" on one of these is on another machine
 * (a NAS share), which is what "off this machine" is about — one fire or one stolen laptop does not take both.
 */
const NETWORK_FILESYSTEMS = new Set([
  0x6969, // NFS
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x517b, // SMB
  0x65735546, // FUSE (sshfs, s3fs, rclone mounts)
  0x47504653, // GPFS
  0x00c36400, // Ceph
])

/** Whether a repository at this location survives the loss of this machine. */
export async function isOffMachine(location: RepositoryLocation): Promise<boolean> {
  if (location.kind !== 'local') return true
  // The folder may not exist yet (a copy about to be made): ask about the nearest one that does.
  for (let dir = location.path; ; dir = path.dirname(dir)) {
    try {
      return NETWORK_FILESYSTEMS.has((await statfs(dir)).type)
    } catch {
      if (path.dirname(dir) === dir) return false
    }
  }
}
