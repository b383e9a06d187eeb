import { AdapterError, type BackupDisk, type JsonValue, type RemoteFile } from '../host-adapter'
import type { SshConnection } from '../ssh/ssh-connection'
import type { DriveRecord, VhdRecord } from './schemas'
import { chainOf, diskName } from './vm-details'
import { WindowsSftpFile } from './windows-file'

function baseName(p: string): string {
  return (p.split(/[\\/]/).pop() ?? '').toLowerCase()
}

/**
 * Lets the image reader open a parent that a differencing file names — but only a file the host itself listed in
 * this disk's chain (Get-VHD's ParentPath), whatever path the file's parent locator claims: those bytes are hostile.
 */
export function chainResolver(chain: readonly VhdRecord[], open: (winPath: string, signal?: AbortSignal) => Promise<RemoteFile>) {
  const parents = chain.slice(1)
  return async (requested: string, signal?: AbortSignal): Promise<RemoteFile> => {
    const p = requested.replace(/\//g, '\\').replace(/^(\.\\)+/, '')
    const absolute = /^[A-Za-z]:\\/.test(p)
    const hit = absolute ? parents.find((v) => v.Path.toLowerCase() === p.toLowerCase()) : parents.find((v) => baseName(v.Path) === baseName(p))
    if (!hit) throw new AdapterError('NOT_FOUND', `The disk chain does not contain "${requested.slice(0, 200)}" (Lifeboat opens only the parents Hyper-V lists).`, { path: requested.slice(0, 500) })
    return await open(hit.Path, signal)
  }
}

export function formatOf(v: VhdRecord): 'vhd' | 'vhdx' {
  if (v.VhdFormat === 'VHDX') return 'vhdx'
  if (v.VhdFormat === 'VHD') return 'vhd'
  throw new AdapterError('NOT_SUPPORTED', `${v.Path} is a ${v.VhdFormat} (shared VHD Sets cannot be read by Lifeboat).`, { path: v.Path })
}

/** One BackupDisk per drive, read from `top` (the drive's file, or the file a checkpoint froze) through its chain. */
export async function openDisks(conn: SshConnection, drives: readonly { readonly drive: DriveRecord; readonly top: string }[], vhds: ReadonlyMap<string, VhdRecord>, signal: AbortSignal): Promise<BackupDisk[]> {
  const out: BackupDisk[] = []
  try {
    for (const { drive, top } of drives) {
      const chain = chainOf(vhds, top)
      const head = chain[0] as VhdRecord
      const base = chain.at(-1) as VhdRecord
      const format = formatOf(head)
      for (const v of chain) formatOf(v)
      const file = await WindowsSftpFile.open(conn, head.Path, signal)
      const meta: JsonValue = {
        controllerType: drive.ControllerType,
        controllerNumber: drive.ControllerNumber,
        controllerLocation: drive.ControllerLocation,
        path: drive.Path ?? head.Path,
        basePath: base.Path,
        format: formatOf(base),
        vhdType: base.VhdType,
        logicalSectorSize: base.LogicalSectorSize,
        physicalSectorSize: base.PhysicalSectorSize,
        chain: chain.map((v) => v.Path),
      }
      out.push({
        id: `${drive.ControllerType}${drive.ControllerNumber}:${drive.ControllerLocation}`,
        name: diskName(drive),
        sizeBytes: head.Size,
        readout: { kind: 'file', file, format, openRelated: chainResolver(chain, (p, s) => WindowsSftpFile.open(conn, p, s)) },
        meta,
      })
    }
    return out
  } catch (err) {
    for (const d of out) if (d.readout.kind === 'file') await d.readout.file.close().catch(() => undefined)
    throw err
  }
}

export async function closeDisks(disks: readonly BackupDisk[]): Promise<void> {
  for (const d of disks) {
    if (d.readout.kind === 'file') await d.readout.file.close().catch(() => undefined)
    else await d.readout.disk.close().catch(() => undefined)
  }
}
