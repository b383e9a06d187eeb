import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunHyperVSim, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import { HyperVAdapter } from './hyperv-adapter'
import { ps } from './powershell'

const HOSTILE = ["web 'prod'", 'db $(Stop-Computer) `n; x', '‘curly’ & "quotes" ;|<>', 'Büro [1] *?']

describe.skipIf(!canRunHyperVSim().ok)('Hyper-V adapter: connection, identity and inventory against the Hyper-V test host', { timeout: 300_000 }, () => {
  let t: SimAndAdapter
  beforeAll(async () => {
    t = await simWithAdapter({ vms: HOSTILE })
  })
  afterAll(async () => {
    await t.close()
  })

  it('identifies the host and lists VMs with hostile names exactly as Hyper-V has them', async () => {
    const signal = AbortSignal.timeout(30_000)
    const id = await t.adapter.connect(signal)
    expect(id).toMatchObject({ hostname: 'HV01', os: 'Microsoft Windows Server 2022 Standard', fingerprint: t.sim.fingerprint })
    const inv = await t.adapter.inventory(signal)
    expect(inv.vms.map((v) => v.name).sort()).toEqual([...HOSTILE].sort())
    const vm = inv.vms.find((v) => v.name === HOSTILE[1])
    expect(vm).toMatchObject({ id: t.vm(HOSTILE[1] ?? '').id, powerState: 'running', cpus: 1, memoryBytes: 1024 ** 3, guestAgent: true })
    expect(vm?.disks).toEqual([{ id: 'SCSI0:0', name: 'SCSI 0:0', location: t.vm(HOSTILE[1] ?? '').drives[0]?.path, sizeBytes: 8 * 1024 * 1024, format: 'vhdx' }])
    expect(vm?.facts).toContainEqual({ label: 'Checkpoint type', value: 'Production' })
    expect(vm?.facts).toContainEqual({ label: 'Generation', value: '2' })
    expect(inv.storage?.[0]).toMatchObject({ id: 'C:', name: 'C:' })
    expect(inv.storage?.[0]?.freeBytes).toBeGreaterThan(0)
    // Nothing the adapter sent left the simulated subset.
    expect(t.sim.limits).toEqual([])
  })

  it('shows checkpoint chains and power states as they change', async () => {
    const signal = AbortSignal.timeout(30_000)
    const vm = t.vm(HOSTILE[0] ?? '')
    vm.state = 'Saved'
    await t.adapter.snapshots.create(vm.id, { label: 'x' }, signal)
    const inv = await t.adapter.inventory(signal)
    const seen = inv.vms.find((v) => v.id === vm.id)
    expect(seen?.powerState).toBe('suspended')
    expect(seen?.disks[0]?.format).toBe('vhdx + 1 checkpoint file(s)')
    expect(seen?.snapshots).toEqual([expect.objectContaining({ lifeboat: true, purpose: 'before-patching', name: expect.stringMatching(/^Before patching .* - x \[Lifeboat\]$/) })])
  })

  it.each([
    ['cmd', 'powershell.exe'],
    ['cmd', 'pwsh'],
    ['powershell', 'powershell.exe'],
    ['pwsh', 'pwsh'],
  ] as const)('works when the default shell is %s and the adapter starts %s', async (shell, exe) => {
    t.sim.shell.defaultShell = shell
    const adapter = t.newAdapter({ powershell: exe })
    try {
      // A PowerShell default shell starts a second PowerShell per call (the line's own powershell.exe or pwsh).
      const signal = AbortSignal.timeout(120_000)
      await adapter.connect(signal)
      const inv = await adapter.inventory(signal)
      expect(inv.vms.map((v) => v.name).sort()).toEqual([...HOSTILE].sort())
      expect(t.sim.limits).toEqual([])
    } finally {
      t.sim.shell.defaultShell = 'cmd'
      await adapter.close()
    }
  }, 240_000)

  it('falls back to Windows PowerShell when pwsh is not installed', async () => {
    t.sim.shell.pwsh = false
    const adapter = t.newAdapter({ powershell: 'pwsh' })
    const before = t.sim.faults.execs
    try {
      await expect(adapter.connect(AbortSignal.timeout(60_000))).resolves.toMatchObject({ hostname: 'HV01' })
      // 'pwsh' was refused by cmd.exe, then powershell.exe ran the connection's scripts.
      expect(t.sim.faults.execs - before).toBeGreaterThan(0)
    } finally {
      t.sim.shell.pwsh = true
      await adapter.close()
    }
  }, 120_000)

  it('says so when the Hyper-V PowerShell module is missing', async () => {
    t.sim.shell.hypervModule = false
    const adapter = t.newAdapter()
    try {
      await expect(adapter.connect(AbortSignal.timeout(90_000))).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringContaining('Hyper-V PowerShell module') })
      await expect(adapter.inventory(AbortSignal.timeout(90_000))).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringContaining('Get-VM') })
    } finally {
      t.sim.shell.hypervModule = true
      await adapter.close()
    }
  }, 240_000)

  it('round-trips hostile strings through the quoting helper into PowerShell and back', async () => {
    const nasty = [...HOSTILE, "'; Remove-Item C:\\ -Recurse; '", '$env:COMPUTERNAME', '`$(1+1)`', 'tab\there', 'new\nline', '\u2019; exit 9; \u2018']
    for (const s of nasty) {
      const out = await t.adapter['ctx'].runner(ps`ConvertTo-Json -Compress -InputObject ${s}`, { signal: AbortSignal.timeout(30_000), what: 'echo' })
      expect(JSON.parse(out)).toBe(s)
    }
    expect(t.sim.limits).toEqual([])
  })

  it('signs in with a password too, and never before the host key is confirmed', async () => {
    const endpoint = { kind: 'hyperv' as const, address: t.sim.address, port: t.sim.port, user: t.sim.user }
    const unpinned = new HyperVAdapter({ endpoint, secret: { type: 'password', password: t.sim.password } })
    await expect(unpinned.connect(AbortSignal.timeout(30_000))).rejects.toMatchObject({ code: 'HOST_KEY_UNKNOWN', params: { fingerprint: t.sim.fingerprint } })
    const adapter = new HyperVAdapter({ endpoint, secret: { type: 'password', password: t.sim.password }, pinnedFingerprint: t.sim.fingerprint })
    try {
      await expect(adapter.connect(AbortSignal.timeout(30_000))).resolves.toMatchObject({ hostname: 'HV01' })
    } finally {
      await adapter.close()
      await unpinned.close()
    }
  })

  it('refuses a host that is not PowerShell', async () => {
    const adapter = new HyperVAdapter({ endpoint: { kind: 'hyperv', address: 'hv1', port: 22, user: 'Administrator' }, secret: { type: 'password', password: 'x' } }, { runner: () => Promise.resolve('bash: powershell.exe: command not found') })
    await expect(adapter.connect(AbortSignal.timeout(1000))).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
  })
})
