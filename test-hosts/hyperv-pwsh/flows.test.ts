/**
 * The adapter's whole flows through the engine against the Hyper-V host on real PowerShell (sshd, pwsh, the modules,
 * C:\ paths and SFTP reaching the model): an RCT hot backup (full, then incremental), a cold backup, a checkpoint
 * restore and a restore as a new VM — every name hostile (VM, checkpoint, disk files, restored VM), nothing executed.
 * One host and one VM for the file: each case starts from where the previous one left the VM.
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineFixture, type EngineFixture } from '../../engine/jobs/testing/linux-fixture'
import { pointDiskBytes } from '../../engine/jobs/testing/point-bytes'
import type { SimVm } from '../hyperv-sim/hyperv/host'
import { RCT_BLOCK } from '../hyperv-sim/hyperv/rct'
import { canRunSshHosts } from '../ssh-host'
import { startHyperVPwshHost, type HyperVPwshHost } from './host'
import { canRunHyperVPwshHost } from './pwsh'

// Part of `npm test` since the warm pwsh pool: 36 s (it took 5–9 minutes with a new pwsh per call).
// `npm run test:hyperv-flows` runs it alone.
const runnable = canRunHyperVPwshHost().ok && canRunSshHosts().ok
const MiB = 1024 * 1024
const SIZE = 32 * MiB
const CANARY_NAME = `lbc-${process.pid}`
const CANARY = path.join(tmpdir(), CANARY_NAME)
// Run by any layer that lost the quoting (pwsh, cmd.exe's line, the module, the bridge), it would create the canary.
const RUN_ME = `$(ni ([IO.Path]::GetTempPath()+'${CANARY_NAME}'))`
const VM = `-vm 'a' "b" ’c’ “d” \`e ${RUN_ME}; | Stop-VM\nline2 $env:COMPUTERNAME ü`
const CHECKPOINT = `-p 'a' "x" ’y’ “z” \`t ${RUN_ME}; | n\n$env:P é`
const RESTORED = `-r ’o’ "q" \`x ${RUN_ME}; | y\n$env:X ü`

describe.skipIf(!runnable)('Hyper-V flows through the engine on the real-PowerShell host (hostile names)', () => {
  let started: HyperVPwshHost | undefined
  let fx: EngineFixture | undefined
  let before: string | undefined
  const t = (): HyperVPwshHost => {
    if (!started) throw new Error('the test host did not start')
    return started
  }
  const engine = (): EngineFixture => {
    if (!fx) throw new Error('no engine')
    return fx
  }
  const vm = (): SimVm => t().vm(VM)
  const guestBytes = () => t().host.guestRead(vm().id, 0, 0, SIZE)
  const pointBytes = (pointId: string): Promise<Buffer> => pointDiskBytes(engine().engine, pointId, 'SCSI 0:0')
  /** Bytes served over SFTP from the VM's base VHDX since the last call. */
  const readFromBase = () => {
    const key = (vm().drives[0]?.path ?? '').toLowerCase()
    const n = t().host.bytesRead.get(key) ?? 0
    t().host.bytesRead.clear()
    return n
  }
  const backup = async (mode: 'hot' | 'cold') => {
    const { jobId } = await engine().call('backup.start', { host: 'hv1', vm: VM, mode, ...(mode === 'cold' ? { shutdownTimeoutSec: 30 } : {}) })
    const job = await engine().job(jobId, 240_000)
    const log = JSON.stringify(job.log)
    expect(job.state, log).toBe('succeeded')
    return { ...(job.result as { id: string; consistency: string }), log }
  }

  beforeAll(async () => {
    await rm(CANARY, { force: true })
    before = process.env.LIFEBOAT_HYPERV_RCT
    process.env.LIFEBOAT_HYPERV_RCT = '1'
    started = await startHyperVPwshHost()
    await started.host.addVm({ name: VM, disks: [randomBytes(SIZE)] })
    fx = await engineFixture()
    await fx.call('hosts.add', { kind: 'hyperv', name: 'hv1', address: `${started.address}:${started.port}`, user: started.user, auth: { type: 'key', privateKey: started.privateKey }, acceptFingerprint: started.fingerprint })
  }, 240_000)

  afterAll(async () => {
    if (before === undefined) delete process.env.LIFEBOAT_HYPERV_RCT
    else process.env.LIFEBOAT_HYPERV_RCT = before
    await fx?.dispose()
    await started?.stop()
    await rm(CANARY, { force: true })
  }, 60_000)

  it('RCT hot backups: a full read with a reference point, then after a guest write only the change; both hold the guest bytes', async () => {
    const { vms } = await engine().call('vms.list', { host: 'hv1' })
    expect(vms.map((v) => v.name)).toContain(VM)
    t().host.bytesRead.clear()
    const first = await backup('hot')
    expect(first.consistency).toBe('app')
    expect(readFromBase()).toBeGreaterThanOrEqual(SIZE)
    expect((await pointBytes(first.id)).equals(await guestBytes())).toBe(true)
    expect(t().host.rct.calls).toEqual(['Msvm_VirtualSystemReferencePointService.CreateReferencePoint'])

    await t().host.guestWrite(vm().id, 0, 5 * MiB + 321, randomBytes(10_000))
    t().host.rct.calls.length = 0
    const second = await backup('hot')
    expect(second.log).toMatch(new RegExp(`${RCT_BLOCK} bytes in 1 ranges changed`))
    // Image structures plus the remote reader's 4 MiB blocks around one changed granule: far below a full read.
    expect(readFromBase()).toBeLessThan(SIZE / 2)
    expect((await pointBytes(second.id)).equals(await guestBytes())).toBe(true)
    expect(t().host.checkpointsOf(vm().id)).toEqual([])
    expect(t().bridge.problems).toEqual([])
  }, 480_000)

  it('cold backup: the VM is shut down, read and started again; the point is offline-consistent with the guest bytes', async () => {
    const cold = await backup('cold')
    expect(cold.consistency).toBe('offline')
    expect(vm().state).toBe('Running')
    expect((await pointBytes(cold.id)).equals(await guestBytes())).toBe(true)
  }, 300_000)

  it('checkpoint restore: snapshot before patching, the guest changes, revert brings the old bytes back', async () => {
    const original = await guestBytes()
    const snap = await engine().call('snapshots.create', { host: 'hv1', vm: VM, label: CHECKPOINT })
    expect(snap).toMatchObject({ lifeboat: true })
    expect(t().host.checkpointsOf(vm().id).map((c) => c.id)).toEqual([snap.id])
    // The adapter's checkpoint name: "Before patching <time> - <label, newlines as spaces> [Lifeboat]".
    expect(t().host.checkpointsOf(vm().id)[0]?.name).toContain(` - ${CHECKPOINT.replace('\n', ' ')} [Lifeboat]`)
    await t().host.guestWrite(vm().id, 0, 0, randomBytes(2 * MiB))
    await engine().call('snapshots.revert', { host: 'hv1', vm: VM, snapshot: snap.id, confirm: true, start: true })
    expect((await guestBytes()).equals(original)).toBe(true)
    expect(vm().state).toBe('Running')
    await engine().call('snapshots.remove', { host: 'hv1', vm: VM, snapshot: snap.id })
    expect(t().host.checkpointsOf(vm().id)).toEqual([])
  }, 300_000)

  it('restores the latest point as a new VM with a hostile name: disk written over SFTP, bytes equal, started; nothing ran', async () => {
    const points = await engine().call('points.list', {})
    const point = points[0]
    if (!point) throw new Error('no restore point')
    const { jobId } = await engine().call('restore.start', { point: point.id, toHost: 'hv1', as: RESTORED, start: true })
    const job = await engine().job(jobId, 240_000)
    expect(job.state, JSON.stringify(job.log)).toBe('succeeded')
    const result = job.result as { vmId: string; disks: { path: string; format: string }[] }
    expect(result.disks[0]?.format).toBe('vhdx')
    // The adapter's file stem: what Windows refuses in a file name (here " : | and the newline) as _, at most 60 characters.
    expect(result.disks[0]?.path).toMatch(/^C:\\.*\\-r ’o’ _q_ `x \$\(ni \(\[IO\.Path\]__GetTempPath\(\)\+'lbc-\d+'\)\); [^\\]*-disk0\.vhdx$/)
    expect(t().host.vms.get(result.vmId)).toMatchObject({ name: RESTORED, state: 'Running' })
    expect((await t().host.guestRead(result.vmId, 0, 0, SIZE)).equals(await pointBytes(point.id))).toBe(true)
    expect(await engine().call('leftovers.list', { host: 'hv1' })).toEqual([])
    expect(existsSync(CANARY)).toBe(false)
    expect(t().bridge.problems).toEqual([])
  }, 300_000)
})
