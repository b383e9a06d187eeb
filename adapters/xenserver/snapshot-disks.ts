import { z } from 'zod'
import { AdapterError, type BackupDisk, type BlockSource, type JsonValue } from '../host-adapter'
import { liveDisks, nbdAvailable, type LiveDisk } from './backup-disks'
import { loadState } from './live-inventory'
import { connectAny, nbdBlockSource } from './nbd-client'
import { SpooledExport, type SpoolOptions } from './spooled-export'
import type { VdiRef } from './vdi-readouts'
import type { XapiClient } from './xapi-client'
import { VdiNbdServerInfoRecord, type VMRecord } from './xapi-records.generated'

const NbdList = z.array(VdiNbdServerInfoRecord).max(64)

/**
 * One snapshot VDI as random-access guest bytes: over NBD when a pool network offers it (VDI.get_nbd_info, the
 * server's certificate checked against the one XAPI hands out), else `/export_raw_vdi` kept in a local spool.
 */
async function openVdi(client: XapiClient, disk: LiveDisk, nbd: boolean, spool: SpoolOptions, signal: AbortSignal): Promise<{ guest: BlockSource; transport: 'nbd' | 'export' }> {
  const vdi: VdiRef = { ref: disk.ref, uuid: disk.record.uuid, size: disk.record.virtual_size, label: `${disk.name} (${disk.record.name_label})`, ...(disk.host !== undefined ? { host: disk.host } : {}) }
  if (nbd) {
    const infos = NbdList.safeParse(await client.call('VDI.get_nbd_info', [disk.ref], signal))
    const targets = infos.success ? infos.data.map((info) => ({ address: info.address, port: info.port, exportName: info.exportname, cert: info.cert, label: vdi.label })) : []
    if (targets.length > 0) {
      const reader = await connectAny(targets, signal)
      if (reader.size !== vdi.size) {
        await reader.close()
        throw new AdapterError('BAD_RESPONSE', `The NBD export of ${vdi.label} is ${reader.size} bytes, the VDI ${vdi.size}.`)
      }
      return { guest: nbdBlockSource(reader, vdi.label), transport: 'nbd' }
    }
  }
  return { guest: await SpooledExport.open(client, vdi, spool), transport: 'export' }
}

/**
 * A XenServer/XCP-ng snapshot's disks, read without changing anything: the snapshot is a VM record
 * (`is_a_snapshot`) whose disk VBDs point at the snapshot VDIs, which the pool keeps read-only while it exists.
 * A checkpoint's memory image (suspend_VDI) is not a disk and is left out.
 */
export async function openSnapshotVdis(client: XapiClient, snapshot: VMRecord, signal: AbortSignal, spool: SpoolOptions = {}): Promise<BackupDisk[]> {
  const { state } = await loadState(client, signal)
  const disks = liveDisks(state, snapshot.VBDs)
  if (disks.length === 0) throw new AdapterError('NOT_SUPPORTED', `Snapshot "${snapshot.name_label}" has no disks.`)
  const nbd = nbdAvailable(state)
  const out: BackupDisk[] = []
  try {
    for (const d of disks) {
      const { guest, transport } = await openVdi(client, d, nbd, spool, signal)
      const meta: JsonValue = {
        vdi: d.record.uuid,
        name: d.record.name_label,
        description: d.record.name_description,
        userdevice: d.vbd.userdevice,
        bootable: d.vbd.bootable,
        sr: d.sr ? { uuid: d.sr.uuid, name: d.sr.name_label, type: d.sr.type } : null,
        transport,
      }
      out.push({ id: d.record.uuid, name: d.name, sizeBytes: d.record.virtual_size, readout: { kind: 'guest', disk: guest }, meta })
    }
    return out
  } catch (err) {
    for (const d of out) if (d.readout.kind === 'guest') await d.readout.disk.close().catch(() => undefined)
    throw err
  }
}
