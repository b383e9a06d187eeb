import { posix } from 'node:path'
import { AdapterError, type BackupDisk, type DiskReadout, type RemoteFile } from '../host-adapter'
import { ExecRemoteFile } from '../ssh/exec-remote-file'
import { hostAllocation } from './host-allocation'
import type { RootShell } from '../ssh/root-shell'

export type ImageFormat = 'raw' | 'qcow2' | 'vhd' | 'vhdx'

export function imageFormat(format: string | undefined): ImageFormat {
  switch (format) {
    case undefined:
    case 'raw':
      return 'raw'
    case 'qcow2':
      return 'qcow2'
    case 'vpc':
      return 'vhd'
    case 'vhdx':
      return 'vhdx'
    default:
      throw new AdapterError('NOT_SUPPORTED', `Lifeboat cannot read ${format} disk images yet.`, { format })
  }
}

/**
 * A disk as a host file (or device) in some image format. Backing files may be opened only when they are part of
 * the chain the host itself described (libvirt's <backingStore>): the paths inside an image are not trusted to
 * pick files to read as root.
 */
export async function fileReadout(
  shell: RootShell,
  path: string,
  format: string | undefined,
  allowedBacking: readonly string[],
  opened: RemoteFile[],
  signal?: AbortSignal,
): Promise<DiskReadout> {
  const file = await ExecRemoteFile.open(shell, path, signal)
  opened.push(file)
  const allowed = new Set(allowedBacking.map((p) => posix.normalize(p)))
  const kind = imageFormat(format)
  return {
    kind: 'file',
    file,
    format: kind,
    ...(kind === 'raw' ? { allocation: (sig?: AbortSignal) => hostAllocation(shell, file, sig) } : {}),
    openRelated: async (related, sig) => {
      const normal = posix.normalize(related)
      if (!posix.isAbsolute(normal) || !allowed.has(normal)) {
        throw new AdapterError('PERMISSION_DENIED', `${path} names ${related.slice(0, 300)} as its backing file, which is not in the chain the host reported; Lifeboat does not read it.`, { path: related.slice(0, 300) })
      }
      const f = await ExecRemoteFile.open(shell, normal, sig)
      opened.push(f)
      return f
    },
  }
}

export async function closeAll(files: RemoteFile[]): Promise<void> {
  for (const f of files.splice(0)) await f.close().catch(() => undefined)
}

export function diskMeta(d: { target: string; format?: string; source?: string; device: string; bus?: string }): BackupDisk['meta'] {
  return { target: d.target, format: d.format ?? 'raw', source: d.source ?? null, device: d.device, bus: d.bus ?? null }
}
