import { execFile } from 'node:child_process'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { vmAccountSid } from '../../test-hosts/hyperv-sim/hyperv/acl'
import { canRunHyperVSim, backupOptions, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import type { BackupMode, BackupSession, JsonValue } from '../host-adapter'
import type { HyperVAdapter } from './hyperv-adapter'
import { hasQemuImg, scsiDiskInput } from './testing/disk-input'
import { walkSteps, type Flow } from './testing/step-walk'

const MiB = 1024 * 1024

/** What a VHDX file holds for the guest, read back by qemu-img (not by the simulator). */
async function guestBytes(file: string): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-hv-walk-'))
  try {
    await promisify(execFile)('qemu-img', ['convert', '-q', '-O', 'raw', file, path.join(dir, 'd.raw')])
    return await readFile(path.join(dir, 'd.raw'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/**
 * Issue 12: a failure or cancel after any step of a flow leaves nothing on the host. Each test walks every PowerShell
 * invocation of a flow (counted on a clean run): invocation N fails, then separately the job is cancelled right after
 * invocation N; after each run the host must be exactly as it was (no checkpoint, file, VM or reference point more,
 * no job lock held, every VM in its state and checkpoint type).
 */
// Each walk runs its flow dozens of times (CPU-bound); the timeout guards against a hang, not for speed: a walk cut off
// by a short timeout would keep running underneath the next one and spoil its simulator.
describe.skipIf(!canRunHyperVSim().ok)('Hyper-V flows undo every step on failure or cancel', { timeout: 300_000 }, () => {
  let t: SimAndAdapter
  const signal = () => AbortSignal.timeout(120_000)
  beforeAll(async () => {
    t = await simWithAdapter({ diskSizeMiB: 2, vms: ['hot', 'rct', 'cold', 'warm', 'patch'] })
  })
  afterAll(async () => {
    await t.close()
  })

  const report = (what: string, r: { steps: number; walked: number[]; failures: number; cancels: number }, started: number) => {
    const sample = r.walked.length < r.steps ? `; walked ${r.walked.join(', ')} (a sample; LIFEBOAT_WALK_FULL=1 walks all)` : ''
    console.log(`${what}: ${r.steps} steps${sample}, ${r.failures} failed and ${r.cancels} cancelled runs, ${Date.now() - started} ms`)
    expect(r.failures).toBeGreaterThan(0)
    expect(r.cancels).toBeGreaterThan(0)
    expect(t.sim.limits).toEqual([])
  }

  const backup =
    (name: string, mode: BackupMode, extra: { quiesce?: boolean; previous?: { pointId: string; token: JsonValue } } = {}, adapter: HyperVAdapter = t.adapter): Flow =>
    async (s, mark) => {
      let session: BackupSession | undefined
      try {
        session = await adapter.backup.begin(t.vm(name).id, backupOptions({ mode, jobId: randomUUID(), shutdownTimeoutMs: 5000, ...extra }), s)
        for (const d of session.disks) {
          if (d.readout.kind !== 'file') throw new Error('expected a file readout')
          await d.readout.file.readRange(0, Math.min(d.readout.file.size, 64 * 1024))
        }
        mark()
      } finally {
        await session?.finish(signal(), { committed: false })
      }
    }

  it('hot backup, checkpoint type changed for the job and put back', async () => {
    const started = Date.now()
    report('hot backup', await walkSteps(t.sim, backup('hot', 'hot', { quiesce: false })), started)
  })

  it('hot backup with Resilient Change Tracking: the new reference point is removed, the previous one kept', async () => {
    const rct = t.newAdapter({ rct: true })
    const first = await rct.backup.begin(t.vm('rct').id, backupOptions({ mode: 'hot', jobId: randomUUID() }), signal())
    await first.finish(signal(), { committed: true })
    expect(first.incrementalToken).toMatchObject({ kind: 'rct' })
    const started = Date.now()
    const previous = { pointId: 'p1', token: first.incrementalToken ?? null }
    report('hot backup with RCT', await walkSteps(t.sim, backup('rct', 'hot', { previous }, rct)), started)
    expect(t.sim.host.rct.points.size).toBe(1)
  })

  it.skipIf(!hasQemuImg)('restore as a new VM (started): a failed restore removes the VM, files and folder it made, and nothing else', async () => {
    const config = { family: 'hyperv', id: 'x', name: 'x', generation: 2, processorCount: 1, memoryStartup: 512 * MiB, dynamicMemory: false, checkpointType: 'Production', drives: [], nics: [{ name: 'Network Adapter', switchName: 'LAN' }] }
    const content = Buffer.alloc(2 * MiB, 0x3c)
    const started = Date.now()
    const flow: Flow = async (s, mark) => {
      const result = await t.adapter.restore.restoreVm({ vmConfig: config, name: 'restored', inPlace: false, start: true, disks: [scsiDiskInput(content, 0, 0)], log: () => undefined, phase: () => undefined, progress: () => undefined }, s)
      mark()
      // The admin removes the copy afterwards (VM, disk file, folder), which returns the host to where it was.
      expect(t.sim.host.vms.get(result.vmId)?.state).toBe('Running')
      t.sim.host.vms.delete(result.vmId)
      await rm(path.dirname(t.sim.host.fs.toLocal(result.disks[0]?.path ?? '')), { recursive: true })
      t.sim.host.acls.removed(result.disks[0]?.path ?? '')
    }
    report('restore as a new VM', await walkSteps(t.sim, flow), started)
  })

  it.skipIf(!hasQemuImg)('restore in place (two disks, started): every disk replaced, or the VM exactly as it was', async () => {
    const vm = await t.sim.host.addVm({ name: 'in-place', disks: [randomBytes(2 * MiB), randomBytes(2 * MiB)], state: 'Off' })
    const local = (p: string) => t.sim.host.fs.toLocal(p)
    const paths = vm.drives.map((d) => d.path)
    const originals = await Promise.all(paths.map((p) => readFile(local(p))))
    const point = [randomBytes(2 * MiB), randomBytes(2 * MiB)]
    const config = { family: 'hyperv', id: vm.id, name: vm.name, generation: 2, processorCount: 1, memoryStartup: 512 * MiB, dynamicMemory: false, checkpointType: 'Production', drives: [], nics: [] }
    // Beside hostState (which sees every file on C:): the VM's state, its disk paths, their bytes, its folder.
    const vmAsItIs = async () => ({
      state: vm.state,
      drives: vm.drives.map((d) => d.path),
      hashes: await Promise.all(vm.drives.map(async (d) => sha256(await readFile(local(d.path))))),
      // Each disk keeps the VM account's entry Hyper-V gave it (Start-VM is refused without it).
      acls: vm.drives.map((d) => t.sim.host.acls.allows(d.path, vmAccountSid(vm.id))),
      folder: (await readdir(path.dirname(local(paths[0] ?? '')))).sort(),
    })
    const flow: Flow = async (s, mark) => {
      const result = await t.adapter.restore.restoreVm(
        { vmConfig: config, name: vm.id, inPlace: true, start: true, disks: point.map((c, i) => scsiDiskInput(c, 0, i)), log: () => undefined, phase: () => undefined, progress: () => undefined },
        s,
      )
      mark()
      expect(result.started).toBe(true)
      expect(result.leftBehind).toEqual([])
      expect(vm.state).toBe('Running')
      expect(vm.drives.map((d) => d.path)).toEqual(paths)
      for (const [i, p] of paths.entries()) expect(sha256(await guestBytes(local(p))), `disk ${i} holds the restore point`).toBe(sha256(point[i] ?? Buffer.alloc(0)))
      // The admin's undo of a finished restore: the VM off again with its original files (the walk compares bytes).
      vm.state = 'Off'
      for (const [i, p] of paths.entries()) {
        await writeFile(local(p), originals[i] ?? Buffer.alloc(0))
        t.sim.host.disks.invalidate(p)
      }
    }
    const started = Date.now()
    report('restore in place', await walkSteps(t.sim, flow, vmAsItIs), started)
    expect(await vmAsItIs()).toMatchObject({ state: 'Off', drives: paths, hashes: originals.map(sha256), acls: [true, true] })
  })

  it('cold backup (Stop-VM → read → Start-VM)', async () => {
    const started = Date.now()
    report('cold backup', await walkSteps(t.sim, backup('cold', 'cold')), started)
  })

  it('warm backup (Save-VM → read → Start-VM)', async () => {
    const started = Date.now()
    report('warm backup', await walkSteps(t.sim, backup('warm', 'warm')), started)
  })

  it('snapshot before patching', async () => {
    const started = Date.now()
    const flow: Flow = async (s, mark) => {
      const made = await t.adapter.snapshots.create(t.vm('patch').id, { label: 'walk' }, s)
      mark()
      await t.adapter.snapshots.remove(t.vm('patch').id, made.id, signal())
    }
    report('snapshot before patching', await walkSteps(t.sim, flow), started)
  })
})
