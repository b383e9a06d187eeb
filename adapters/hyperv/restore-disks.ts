import { AdapterError, type RestoreDiskInput, type RestoreRequest } from '../host-adapter'
import type { SshConnection } from '../ssh/ssh-connection'
import { uploadFile } from './upload'
import type { HyperVConfig } from './vm-config'

export interface Placement {
  readonly input: RestoreDiskInput
  readonly controllerType: 'IDE' | 'SCSI'
  readonly controllerNumber: number
  readonly controllerLocation: number
}

/** Where each restored disk goes: where the backed-up VM had it (kept in each disk's meta), else in order. */
export function placements(config: HyperVConfig, disks: readonly RestoreDiskInput[]): Placement[] {
  return disks.map((input, i) => {
    const meta = input.meta
    const m = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {}
    const saved = config.drives[i]
    const type = m.controllerType ?? saved?.controllerType ?? (config.generation === 2 ? 'SCSI' : 'IDE')
    const number = m.controllerNumber ?? saved?.controllerNumber ?? 0
    const location = m.controllerLocation ?? saved?.controllerLocation ?? i
    if ((type !== 'IDE' && type !== 'SCSI') || typeof number !== 'number' || typeof location !== 'number') throw new AdapterError('BAD_RESPONSE', `The restore point does not say where disk ${input.name} was attached.`)
    return { input, controllerType: type, controllerNumber: number, controllerLocation: location }
  })
}

/** Writes one disk of the restore point to the host as a VHDX/VHD file (see uploadFile: never over an existing file). */
export async function upload(conn: SshConnection, input: RestoreDiskInput, path: string, format: 'vhdx' | 'vhd', request: RestoreRequest, done: { bytes: number; total: number }, signal: AbortSignal): Promise<void> {
  if (input.encode === undefined) throw new AdapterError('NOT_SUPPORTED', `Lifeboat cannot write disk ${input.name} as ${format.toUpperCase()} here (this engine offers no image encoder).`)
  const base = done.bytes
  request.phase('uploading', `${input.name} → ${path}`)
  done.bytes += await uploadFile(conn, path, input.encode(format, signal), (n) => request.progress(base + n, done.total, input.name), signal)
}
