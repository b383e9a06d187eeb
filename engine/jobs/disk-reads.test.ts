import { describe, expect, it } from 'vitest'
import type { BackupDisk, BackupSession, BlockSource } from '../../adapters/host-adapter'
import { diskReads } from './backup-job'

const guest: BlockSource = { size: 1, label: 'd', read: () => Promise.resolve(Buffer.alloc(1)), close: () => Promise.resolve() }
const disk = (name: string, extra: Partial<BackupDisk> = {}, changed = false): BackupDisk => ({
  id: name,
  name,
  sizeBytes: 1,
  readout: { kind: 'guest', disk: guest, ...(changed ? { changedRanges: [] } : {}) },
  ...extra,
})
const session = (disks: BackupDisk[], fullReason?: string): BackupSession => ({ consistency: 'crash', vmConfig: null, disks, ...(fullReason ? { fullReason } : {}), finish: () => Promise.resolve({ leftBehind: [] }) })

describe('diskReads', () => {
  it('names the base point of incremental disks and the reason of full ones, the disk’s own reason first', () => {
    const s = session([disk('vda', {}, true), disk('vdb', { fullReason: 'Change tracking of vdb was lost when web01 crashed.' }), disk('vdc')], 'Session-wide reason.')
    expect(diskReads(s, { incremental: true, mode: 'hot' }, { pointId: 'p1' }, true)).toEqual([
      { disk: 'vda', read: 'incremental', base: 'p1' },
      { disk: 'vdb', read: 'full', reason: 'Change tracking of vdb was lost when web01 crashed.' },
      { disk: 'vdc', read: 'full', reason: 'Session-wide reason.' },
    ])
  })

  it('explains a full read when nothing else does', () => {
    expect(diskReads(session([disk('vda')]), { incremental: true, mode: 'hot' }, undefined, false)[0]).toMatchObject({ read: 'full', reason: expect.stringContaining('first restore point') as unknown })
    expect(diskReads(session([disk('vda')]), { incremental: false, mode: 'hot' }, { pointId: 'p' }, false)[0]).toMatchObject({ reason: expect.stringContaining('turned off') as unknown })
    expect(diskReads(session([disk('vda')]), { incremental: true, mode: 'cold' }, { pointId: 'p' }, false)[0]).toMatchObject({ reason: expect.stringContaining('cold backup') as unknown })
    // Changed ranges without a parent point are not an incremental the admin can rely on.
    expect(diskReads(session([disk('vda', {}, true)]), { incremental: true, mode: 'hot' }, undefined, true)[0]).toMatchObject({ read: 'full' })
  })
})
