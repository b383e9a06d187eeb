import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunSshHosts } from '../ssh-host'
import { startHyperVPwshHost, type HyperVPwshHost } from './host'
import { canRunHyperVPwshHost } from './pwsh'

const check = canRunHyperVPwshHost()
// The same requirements as every test host in a network namespace, plus pwsh.
const runnable = check.ok && canRunSshHosts().ok

const CANARY = path.join(tmpdir(), `lb-hvpwsh-canary-${process.pid}`)
// Each piece would do something if any layer (cmd.exe line, PowerShell quoting, the module, the bridge) ran it.
const HOSTILE = `-web 'prod'; $(New-Item -ItemType File -Path '${CANARY}') "q" ’t‘ “d” \`n | Stop-VM -Name *\nline2 $env:HOME`

describe.skipIf(!runnable)('Hyper-V test host on real PowerShell (sshd in a namespace, pwsh, the Hyper-V module)', () => {
  let started: HyperVPwshHost | undefined
  const host = (): HyperVPwshHost => {
    if (!started) throw new Error('the test host did not start')
    return started
  }
  beforeAll(async () => {
    await rm(CANARY, { force: true })
    started = await startHyperVPwshHost({ vms: ['web01', HOSTILE] })
  }, 240_000)
  afterAll(async () => {
    await started?.stop()
    await rm(CANARY, { force: true })
  }, 60_000)

  it('serves the adapter: identity, inventory, and a checkpoint created, listed and removed', async () => {
    const t = host()
    const signal = AbortSignal.timeout(240_000)
    const adapter = t.newAdapter()
    const id = await adapter.connect(signal)
    expect(id).toMatchObject({ hostname: 'HV01', os: 'Microsoft Windows Server 2022 Standard', fingerprint: t.fingerprint })
    const vm = t.vm('web01')
    const inv = await adapter.inventory(signal)
    const seen = inv.vms.find((v) => v.id === vm.id)
    expect(seen).toMatchObject({ name: 'web01', powerState: 'running', cpus: 1, memoryBytes: 1024 ** 3, guestAgent: true })
    expect(seen?.disks).toEqual([{ id: 'SCSI0:0', name: 'SCSI 0:0', location: vm.drives[0]?.path, sizeBytes: 8 * 1024 * 1024, format: 'vhdx' }])
    expect(inv.storage?.[0]).toMatchObject({ id: 'C:', name: 'C:' })

    const made = await adapter.snapshots.create(vm.id, { label: 'nightly' }, signal)
    expect(made).toMatchObject({ lifeboat: true, purpose: 'before-patching', current: true, vmState: 'shutoff' })
    expect([...t.host.checkpoints.values()].map((c) => c.name)).toEqual([made.name])
    const listed = await adapter.snapshots.list(vm.id, signal)
    expect(listed.map((s) => [s.id, s.name])).toEqual([[made.id, made.name]])
    const after = await adapter.inventory(signal)
    expect(after.vms.find((v) => v.id === vm.id)?.disks[0]?.format).toBe('vhdx + 1 checkpoint file(s)')

    await adapter.snapshots.remove(vm.id, made.id, signal)
    expect(await adapter.snapshots.list(vm.id, signal)).toEqual([])
    expect(t.host.checkpoints.size).toBe(0)
    expect(t.bridge.calls).toEqual(expect.arrayContaining(['Get-VM', 'Get-VMHardDiskDrive', 'Get-VHD', 'Get-VMSnapshot', 'Get-VMIntegrationService', 'Get-CimInstance', 'Checkpoint-VM', 'Remove-VMSnapshot']))
    expect(t.bridge.problems).toEqual([])
  }, 300_000)

  it('round-trips a hostile VM name and checkpoint label through real pwsh without running any of it', async () => {
    const t = host()
    const signal = AbortSignal.timeout(240_000)
    const adapter = t.newAdapter()
    const vm = t.vm(HOSTILE)
    const inv = await adapter.inventory(signal)
    expect(inv.vms.map((v) => v.name).sort()).toEqual(['web01', HOSTILE].sort())
    expect(inv.vms.find((v) => v.id === vm.id)?.name).toBe(HOSTILE)

    const label = HOSTILE.replace(/\n/g, ' ')
    const made = await adapter.snapshots.create(vm.id, { label }, signal)
    expect(made.name).toContain(` - ${label.slice(0, 80)}`)
    expect([...t.host.checkpoints.values()].map((c) => c.name)).toEqual([made.name])
    await adapter.snapshots.remove(vm.id, made.id, signal)

    expect(existsSync(CANARY)).toBe(false)
    expect([...t.host.vms.values()].map((v) => [v.name, v.state])).toEqual(expect.arrayContaining([['web01', 'Running'], [HOSTILE, 'Running']]))
    expect(t.bridge.calls).not.toContain('Stop-VM')
    expect(t.bridge.problems).toEqual([])
  }, 300_000)
})
