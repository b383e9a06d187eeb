/**
 * The test hook for "writes that consume snapshot space": writes bytes into an LV as a guest or a host process would
 * write to its device, charging every touched chunk to the COW store of the snapshots involved (the origin's
 * snapshots when writing to an origin, the snapshot itself when writing to a snapshot) — even chunks whose bytes do
 * not change, as dm-snapshot does. A write that overflows a snapshot invalidates it, as in LVM.
 */
import { open } from 'node:fs/promises'
import { chunksTouched, consume, refreshSnapshots } from './cow'
import { dataFile, findLv, snapshotsOf, withState, type FakeLvmConfig } from './state'

export interface LvWrite {
  readonly vg: string
  readonly lv: string
  readonly offset: number
  readonly data: Uint8Array
}

export async function writeToLv(config: FakeLvmConfig, write: LvWrite): Promise<void> {
  await withState(config, async (state) => {
    await refreshSnapshots(config, state)
    const target = findLv(state, write.vg, write.lv)
    if (target === undefined) throw new Error(`No logical volume ${write.vg}/${write.lv}`)
    if (write.offset < 0 || write.offset + write.data.length > target.deviceBytes) {
      throw new Error(`Write of ${write.data.length} bytes at ${write.offset} is outside ${write.vg}/${write.lv} (${target.deviceBytes} bytes)`)
    }
    const charged = target.snapshot !== undefined ? [target] : snapshotsOf(state, target.vg, target.name)
    for (const snap of charged) {
      await consume(config, state, snap, chunksTouched(write.offset, write.data.length, snap.snapshot?.chunkSize ?? 4096))
    }
    if (target.snapshot?.invalid === true) throw new Error(`${write.vg}/${write.lv}: Input/output error (snapshot invalid)`)
    const file = await open(dataFile(config, write.vg, write.lv), 'r+')
    try {
      await file.write(write.data, 0, write.data.length, write.offset)
    } finally {
      await file.close()
    }
  })
}
