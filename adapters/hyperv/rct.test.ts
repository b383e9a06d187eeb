import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RCT_BLOCK } from '../../test-hosts/hyperv-sim/hyperv/rct'
import { canRunHyperVSim, backupOptions, readAll, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import type { BackupSession, JsonValue } from '../host-adapter'
import type { HyperVContext } from './context'
import { checkChanges, rctIneligible, virtualDiskChanges, wqlEquals } from './rct'
import type { VmDetails } from './vm-details'

const MiB = 1024 * 1024
const signal = () => AbortSignal.timeout(60_000)

function readoutOf(session: BackupSession) {
  const r = session.disks[0]?.readout
  if (r?.kind !== 'file') throw new Error('expected a file readout')
  return r
}

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V RCT incrementals against the Hyper-V test host (adapter level)', { timeout: 300_000 }, () => {
  let on: SimAndAdapter
  beforeAll(async () => {
    on = await simWithAdapter({ vms: ['rct1', 'rct2', 'old1', 'plain1'], adapter: { rct: true } })
  })
  afterAll(async () => {
    await on.close()
  })

  const hot = async (vm: string, previous?: { pointId: string; token: JsonValue }) => {
    const options = backupOptions({ mode: 'hot', jobId: randomUUID(), ...(previous ? { previous } : {}) })
    const session = await on.adapter.backup.begin(on.vm(vm).id, options, signal())
    return { session, options }
  }

  it('flag on: the second backup gets exactly the granule the guest wrote as its changed range', async () => {
    const vm = on.vm('rct1')
    const first = await hot('rct1')
    expect(readoutOf(first.session).changedRanges).toBeUndefined()
    expect(first.session.incrementalToken).toMatchObject({ kind: 'rct', vmId: vm.id, disks: [{ id: 'SCSI0:0', size: 8 * MiB, rctId: expect.stringMatching(/^rctX:/) }] })
    expect(await first.session.finish(signal(), { committed: true })).toEqual({ leftBehind: [] })
    const at = 5 * MiB + 4000
    await on.sim.host.guestWrite(vm.id, 0, at, Buffer.alloc(3000, 0x5a))
    const second = await hot('rct1', { pointId: 'p1', token: first.session.incrementalToken ?? null })
    const readout = readoutOf(second.session)
    expect(readout.changedRanges).toEqual([{ offset: Math.floor(at / RCT_BLOCK) * RCT_BLOCK, length: RCT_BLOCK }])
    expect(second.options.logged.filter((l) => l.startsWith('warn'))).toEqual([])
    // The readout is still the whole frozen VHDX; the engine reads only the changed ranges through it.
    expect((await readAll(readout.file)).length).toBe(readout.file.size)
    await second.session.finish(signal(), { committed: true })
    expect([...on.sim.host.rct.points.values()].filter((p) => p.vmId === vm.id)).toHaveLength(1)
    expect(on.sim.host.checkpointsOf(vm.id)).toEqual([])
    expect(on.sim.limits).toEqual([])
  })

  it('an RCT id the point does not list, a point gone, a resized disk, another VM: full read with the reason on the disk', async () => {
    const vm = on.vm('rct2')
    const first = await hot('rct2')
    await first.session.finish(signal(), { committed: true })
    const token = first.session.incrementalToken as { kind: 'rct'; vmId: string; referencePoint: string; disks: { id: string; rctId: string; size: number }[] }
    const disk = token.disks[0]
    if (!disk) throw new Error('no disk in the token')
    const cases: [JsonValue, RegExp][] = [
      [{ ...token, disks: [{ ...disk, rctId: 'rctX:00000000:0000:0000:0000:000000000000:00000001' }] }, /^SCSI 0:0: Resilient Change Tracking: the reference point of the previous backup no longer lists this disk's RCT id/],
      [{ ...token, referencePoint: 'Microsoft:0A0A0A0A-0000-0000-0000-000000000000' }, /: the reference point of the previous backup \(Microsoft:0A0A.*\) is gone from the host/],
      [{ ...token, disks: [{ ...disk, size: disk.size + MiB }] }, /: the disk was resized/],
      [{ ...token, vmId: randomUUID() }, /: the previous restore point is of another VM/],
      [{ ...token, disks: [] }, /: the previous restore point has no RCT id for this disk/],
    ]
    for (const [previous, why] of cases) {
      const next = await hot('rct2', { pointId: 'p', token: previous })
      expect(readoutOf(next.session).changedRanges).toBeUndefined()
      expect(next.session.disks[0]?.fullReason).toMatch(why)
      expect(next.session.disks[0]?.fullReason).toMatch(/This backup reads the whole disk; the next backup is incremental again\.$/)
      expect(next.options.logged.filter((l) => l.startsWith('warn: '))).toEqual([])
      // Not written: the new reference point is dropped, the previous one stays for the next try.
      await next.session.finish(signal(), { committed: false })
      expect([...on.sim.host.rct.points.values()].filter((p) => p.vmId === vm.id).map((p) => p.instanceId)).toEqual([token.referencePoint])
    }
    expect(on.sim.limits).toEqual([])
  })

  it('a VM older than configuration version 6.2 does not use RCT and says so', async () => {
    const vm = on.vm('old1')
    vm.version = '5.0'
    const calls = on.sim.host.rct.calls.length
    const { session, options } = await hot('old1')
    expect(session.incrementalToken).toEqual({ kind: 'hash-dedup' })
    expect(options.logged.join('\n')).toMatch(/Resilient Change Tracking is not used for old1: its configuration version 5.0 is older than 6.2/)
    await session.finish(signal(), { committed: true })
    expect(on.sim.host.rct.calls.length).toBe(calls)
  })

  it('flag off: unchanged behaviour — whole disks, hash-and-dedup token, no WMI at all', async () => {
    const off = on.newAdapter({ rct: false })
    const calls = on.sim.host.rct.calls.length
    const points = on.sim.host.rct.points.size
    const vm = on.vm('plain1')
    const first = await off.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID() }), signal())
    expect(first.incrementalToken).toEqual({ kind: 'hash-dedup' })
    await first.finish(signal(), { committed: true })
    await on.sim.host.guestWrite(vm.id, 0, MiB, Buffer.alloc(512, 1))
    const second = await off.backup.begin(vm.id, backupOptions({ mode: 'hot', jobId: randomUUID(), previous: { pointId: 'p', token: first.incrementalToken ?? null } }), signal())
    expect(readoutOf(second).changedRanges).toBeUndefined()
    expect(second.incrementalToken).toEqual({ kind: 'hash-dedup' })
    await second.finish(signal(), { committed: true })
    expect(on.sim.host.rct.calls.length).toBe(calls)
    expect(on.sim.host.rct.points.size).toBe(points)
  })
})

describe('RCT answers are hostile until checked', () => {
  it('accepts sorted, disjoint ranges inside the processed region and merges adjacent ones', () => {
    expect(checkChanges([0, 100, 300], [100, 50, 10], 0, 1000)).toEqual([{ offset: 0, length: 150 }, { offset: 300, length: 10 }])
    expect(checkChanges([], [], 0, 1000)).toEqual([])
  })

  it('refuses mismatched, empty, unsorted, overlapping and out-of-bounds ranges', () => {
    expect(checkChanges([0, 10], [5], 0, 100)).toMatch(/2 offsets but 1 lengths/)
    expect(checkChanges([10], [0], 0, 100)).toMatch(/empty range/)
    expect(checkChanges([50, 10], [5, 5], 0, 100)).toMatch(/out of order or overlapping/)
    expect(checkChanges([10, 12], [5, 5], 0, 100)).toMatch(/out of order or overlapping/)
    expect(checkChanges([90], [20], 0, 100)).toMatch(/beyond the processed region/)
    expect(checkChanges([5], [5], 10, 100)).toMatch(/before the queried region/)
  })

  it('a hostile GetVirtualDiskChanges answer becomes an error (the caller falls back to a full read)', async () => {
    const answers = [
      { ReturnValue: 0, ProcessedByteLength: 1000, ChangedByteOffsets: [900], ChangedByteLengths: [500] },
      { ReturnValue: 0, ProcessedByteLength: 0, ChangedByteOffsets: [], ChangedByteLengths: [] },
      { ReturnValue: 0, ProcessedByteLength: 5000, ChangedByteOffsets: [], ChangedByteLengths: [] },
      { ReturnValue: 32768, ProcessedByteLength: null, ChangedByteOffsets: null, ChangedByteLengths: null },
      { ReturnValue: 0, ProcessedByteLength: 1000, ChangedByteOffsets: [-1], ChangedByteLengths: [1] },
    ]
    for (const answer of answers) {
      const ctx: HyperVContext = { runner: () => Promise.resolve(JSON.stringify(answer)), connection: () => Promise.reject(new Error('no ssh')), executable: () => Promise.resolve('powershell.exe') }
      await expect(virtualDiskChanges(ctx, 'C:\\d.vhdx', 'rctX:x', 1000, signal())).rejects.toMatchObject({ code: expect.stringMatching(/BAD_RESPONSE|COMMAND_FAILED/) })
    }
  })

  it('continues where the host stopped when it processed only part of the disk', async () => {
    const sent: string[] = []
    const replies = [
      { ReturnValue: 0, ProcessedByteLength: 600, ChangedByteOffsets: [500], ChangedByteLengths: [100] },
      { ReturnValue: 0, ProcessedByteLength: 400, ChangedByteOffsets: [600, 900], ChangedByteLengths: [50, 100] },
    ]
    const ctx: HyperVContext = {
      runner: (script) => {
        sent.push(script.text)
        return Promise.resolve(JSON.stringify(replies[sent.length - 1]))
      },
      connection: () => Promise.reject(new Error('no ssh')),
      executable: () => Promise.resolve('powershell.exe'),
    }
    expect(await virtualDiskChanges(ctx, "C:\\VMs\\a'b.vhdx", 'rctX:1', 1000, signal())).toEqual([{ offset: 500, length: 150 }, { offset: 900, length: 100 }])
    expect(sent[0]).toContain("Path = 'C:\\VMs\\a''b.vhdx'; LimitId = 'rctX:1'; TargetSnapshotId = ''; ByteOffset = 0; ByteLength = 1000")
    expect(sent[1]).toContain('ByteOffset = 600; ByteLength = 400')
  })

  it('WQL literals escape backslashes and quotes; control characters are refused', () => {
    expect(wqlEquals('InstanceID', "Microsoft:A\\B'C")).toBe("InstanceID = 'Microsoft:A\\\\B\\'C'")
    expect(() => wqlEquals('Name', 'a\nb')).toThrow(/control characters/)
  })

  it('eligibility: configuration version 6.2+, VHDX disks only', () => {
    const details = (version: string, format: string) =>
      ({ vm: { Version: version }, drives: [{ Path: 'C:\\a.vhdx' }], vhds: new Map([['c:\\a.vhdx', { VhdFormat: format }]]) }) as unknown as VmDetails
    expect(rctIneligible(details('9.0', 'VHDX'))).toBeUndefined()
    expect(rctIneligible(details('6.2', 'VHDX'))).toBeUndefined()
    expect(rctIneligible(details('5.0', 'VHDX'))).toMatch(/older than 6.2/)
    expect(rctIneligible(details('10.0', 'VHD'))).toMatch(/not a VHDX/)
  })
})
