import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { findPwsh } from '../../test-hosts/hyperv-pwsh/pwsh'
import { backupOptions, canRunHyperVSim, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import type { BackupMode, JsonValue, RestoreDiskInput } from '../host-adapter'
import type * as PowerShellModule from './powershell'
import { bootstrapScript, type PsRaw, type PsValue } from './powershell'
import type { PowerShellRunner } from './ps-runner'
import { createReferencePoint } from './rct'
import { hasQemuImg, scsiDiskInput } from './testing/disk-input'
import { checkFor51 } from './testing/ps51-check'
import { psTemplates } from './testing/ps-templates'

/**
 * Every script the adapter sends is recorded where it is turned into the bytes that go to the host (scriptStdin: the
 * runner's calls and the job lock's alike), and every ps`…` template the adapter evaluates is noted, so the test can
 * prove that the flows below ran every script builder there is.
 */
const recorded = vi.hoisted(() => ({ scripts: [] as string[], templates: new Set<string>(), onScript: undefined as ((script: string) => void) | undefined }))

vi.mock('./powershell', async (importOriginal) => {
  const real = await importOriginal<typeof PowerShellModule>()
  return {
    ...real,
    ps: (strings: TemplateStringsArray, ...values: PsValue[]): PsRaw => {
      recorded.templates.add([...strings].join('\u0000'))
      return real.ps(strings, ...values)
    },
    scriptStdin: (script: PsRaw): string => {
      const line = real.scriptStdin(script)
      const sent = Buffer.from(line.trim(), 'base64').toString('utf8')
      recorded.scripts.push(sent)
      recorded.onScript?.(sent)
      return line
    },
  }
})

const MiB = 1024 * 1024
const pwsh = findPwsh()
const signal = () => AbortSignal.timeout(120_000)

/** One deliberately 7-only script per rule of the checker: each must be rejected by exactly that rule. */
const SEVEN_ONLY: Readonly<Record<string, string>> = {
  'parse-error': 'if (',
  ternary: '$x = $true ? 1 : 2',
  'pipeline-chain': "Get-VM -Id 'x' && Start-VM -Name 'x'",
  'null-coalescing': '$x = $vm.Notes ?? 0',
  'null-coalescing-assignment': '$x ??= 1',
  'null-conditional-member': '${vm}?.Name',
  'null-conditional-index': '${vms}?[0]',
  'clean-block': 'end { 1 }\nclean { 2 }',
  'background-operator': 'Get-VM &',
  'number-literal': '$x = 1u',
  command: 'Get-Error -Newest 1',
  parameter: 'Get-VM | ForEach-Object -Parallel { $_.Name }',
  'join-path-parts': "Join-Path $env:ProgramData 'Lifeboat' 'jobs'",
  'encoding-name': "'x' | Out-File -LiteralPath 'C:\\x.txt' -Encoding utf8NoBOM",
  variable: '$x = $PSStyle.Reset',
  'dotnet-member': "[System.IO.Path]::Join('C:\\', 'x')",
}

/** More 7-only spellings the same rules must catch (parameters by prefix, through aliases, other cmdlets). */
const MORE_SEVEN_ONLY = [
  "'{}' | ConvertFrom-Json -AsHashtable",
  "'[1]' | ConvertFrom-Json -Depth 5",
  "'[1]' | ConvertFrom-Json -NoEnumerate",
  "'{}' | ConvertFrom-Json -DateKind Utc",
  'Get-VM | ConvertTo-Json -EnumsAsStrings',
  'Get-VM | % -Par { $_ }',
  "Join-Path -Path 'C:\\' -ChildPath 'a' -AdditionalChildPath 'b'",
  "Invoke-WebRequest -Uri 'https://x' -SkipHttpErrorCheck",
  "'a', 'b' | Join-String -Separator ','",
  "Test-Json -Json '{}'",
  'Microsoft.PowerShell.Utility\\ConvertFrom-Json -InputObject $t -AsHashtable',
  '$x = ($y ?? $z)',
  '$x = 0b101',
]

/** 5.1-clean spellings that look close to the rules: none may be flagged. */
const FIVE_ONE = [
  "Join-Path $env:ProgramData 'Lifeboat\\jobs'",
  "Join-Path -Path 'C:\\' -ChildPath 'a' -Resolve",
  "'{}' | ConvertFrom-Json",
  'Get-VM | ForEach-Object -Process { $_.Name }',
  'foreach ($x in @(1, 2)) { $x }',
  '$x = if ($a) { 1 } else { 2 }',
  '$x = 2kb + 0x1d + 1l + 1.5d',
  "'x' | Out-File -LiteralPath 'C:\\x.txt' -Encoding utf8",
  '$c? = 1',
  // ? belongs to the variable name in both editions: $a? here, not a null-conditional ?. (that needs ${a}?.b)
  '$x = $a?.b',
  "[System.IO.Path]::Combine('C:\\', 'x')",
]

describe.skipIf(pwsh === undefined || !canRunHyperVSim().ok)('the scripts Lifeboat sends are Windows PowerShell 5.1 scripts (parsed by real pwsh)', { timeout: 600_000 }, () => {
  let t: SimAndAdapter
  beforeAll(async () => {
    t = await simWithAdapter({ diskSizeMiB: 2, vms: ['cold', 'hang', 'warm', 'hot', 'rct', 'patch', 'guest'] })
  })
  afterAll(async () => {
    await t.close()
  })

  it('the checker rejects each 7-only construct by its rule, and passes 5.1 lookalikes', async () => {
    const rules = Object.keys(SEVEN_ONLY)
    const scripts = [...rules.map((r) => SEVEN_ONLY[r] ?? ''), ...MORE_SEVEN_ONLY, ...FIVE_ONE]
    const report = await checkFor51(pwsh ?? 'pwsh', scripts, signal())
    expect([...report.rules].sort(), 'every rule of the checker has a 7-only example here').toEqual([...rules].sort())
    rules.forEach((rule, i) => expect(report.results[i]?.map((f) => f.rule), `${rule}: ${SEVEN_ONLY[rule] ?? ''}`).toEqual([rule]))
    MORE_SEVEN_ONLY.forEach((s, i) => expect(report.results[rules.length + i]?.length, s).toBeGreaterThan(0))
    FIVE_ONE.forEach((s, i) => expect(report.results[rules.length + MORE_SEVEN_ONLY.length + i], s).toEqual([]))
  })

  it.skipIf(!hasQemuImg)('every script the adapter sends in its flows parses and uses no 7-only construct; the flows ran every script builder', async () => {
    const a = t.adapter
    await a.connect(signal())
    await a.inventory(signal())

    const backup = async (name: string, mode: BackupMode, extra: Partial<Parameters<typeof backupOptions>[0]> = {}, adapter = a) => {
      const session = await adapter.backup.begin(t.vm(name).id, backupOptions({ mode, jobId: randomUUID(), shutdownTimeoutMs: 5000, ...extra }), signal())
      await session.finish(signal(), { committed: true })
      return session
    }
    await backup('cold', 'cold')
    t.vm('hang').guest.shutdown = 'hang'
    await backup('hang', 'cold', { shutdownTimeoutMs: 1500, forceOffAfterTimeout: true })
    await backup('warm', 'warm')
    await backup('hot', 'hot', { quiesce: false })
    const rct = t.newAdapter({ rct: true })
    const first = await backup('rct', 'hot', {}, rct)
    await backup('rct', 'hot', { previous: { pointId: 'p1', token: first.incrementalToken ?? null } }, rct)

    // Snapshot before patching; a hot backup under it reads a chain whose parents the drives do not list.
    const patch = t.vm('patch').id
    const made = await a.snapshots.create(patch, { label: "it's <patch> & co" }, signal())
    await a.snapshots.list(patch, signal())
    const disks = await a.snapshots.openDisks?.(patch, made.id, signal())
    for (const d of disks ?? []) if (d.readout.kind === 'file') await d.readout.file.close()
    await backup('patch', 'hot', { quiesce: false })
    await a.snapshots.revert(patch, made.id, { start: false }, signal())
    await a.snapshots.remove(patch, made.id, signal())
    // A health check's VM that a killed Lifeboat left (its lock gone): found and cleaned with its lock file.
    await t.sim.host.addVm({ name: `lifeboat-check-${randomUUID()}`, disks: [Buffer.alloc(MiB, 6)], state: 'Off' })
    await a.reconcile.clean((await a.reconcile.find(signal())).map((l) => l.id), signal())

    const guest = t.vm('guest')
    guest.integration.set('Guest Service Interface', true)
    await a.guestFiles.copyIn(guest.id, { guestPath: 'C:\\Users\\Public\\a.txt', size: 3, data: Readable.from([Buffer.from('abc')]), overwrite: true }, signal())

    // Restore as a new VM: dynamic memory, secure boot with a template, two SCSI controllers, three adapters (switch
    // known for the first two, unknown for the third); cancelled as it starts the VM, so its undo runs too.
    const config = (over: Record<string, JsonValue>): JsonValue => ({ family: 'hyperv', id: 'x', name: 'x', generation: 2, processorCount: 2, memoryStartup: 512 * MiB, dynamicMemory: false, checkpointType: 'Production', drives: [], nics: [], ...over })
    const restore = async (vmConfig: JsonValue, name: string, inPlace: boolean, disks: RestoreDiskInput[], cancelAtStart: boolean) => {
      const controller = new AbortController()
      recorded.onScript = cancelAtStart ? (s) => (/^Hyper-V\\Start-VM /m.test(s) ? controller.abort() : undefined) : undefined
      try {
        return await a.restore.restoreVm({ vmConfig, name, inPlace, start: cancelAtStart, disks, log: () => undefined, phase: () => undefined, progress: () => undefined }, controller.signal)
      } finally {
        recorded.onScript = undefined
      }
    }
    const big = config({ dynamicMemory: true, memoryMinimum: 256 * MiB, memoryMaximum: 1024 * MiB, secureBoot: true, secureBootTemplate: 'MicrosoftUEFICertificateAuthority', nics: [{ name: 'a', switchName: 'LAN' }, { name: 'b', switchName: 'LAN' }, { name: 'c', switchName: 'Nowhere' }] })
    await expect(restore(big, 'restored-1', false, [scsiDiskInput(Buffer.alloc(MiB, 1), 0, 0), scsiDiskInput(Buffer.alloc(MiB, 2), 1, 0)], true)).rejects.toThrow()
    await restore(config({ secureBoot: false, nics: [{ name: 'a', switchName: null }] }), 'restored-2', false, [scsiDiskInput(Buffer.alloc(MiB, 3), 0, 0)], false)
    // Restore in place, the VM named (not by id), cancelled as it starts the VM: every undo of it runs.
    const off = await t.sim.host.addVm({ name: 'in-place', disks: [Buffer.alloc(MiB, 4)], state: 'Off' })
    await expect(restore(config({ id: off.id, name: off.name }), 'in-place', true, [scsiDiskInput(Buffer.alloc(MiB, 5), 0, 0)], true)).rejects.toThrow()
    // A health check: restored as a temporary VM, booted, its heartbeat read until OK, removed with its folder.
    const bootable = Buffer.alloc(MiB, 7)
    bootable.writeUInt16BE(0x55aa, 510)
    t.sim.host.timing.guestBootMs = 200
    const checked = await a.healthCheck.bootCheck({ jobId: randomUUID(), vmConfig: config({}), disks: [scsiDiskInput(bootable, 0, 0)], timeoutMs: 30_000, log: () => undefined, phase: () => undefined, progress: () => undefined }, signal())
    expect(checked.booted).toBe(true)
    expect(t.sim.limits).toEqual([])

    // The WMI job path (CreateReferencePoint answering 4096) is not modelled by the simulator: a scripted host
    // answers it, and its scripts join the others.
    const vmId = t.vm('rct').id
    const scripted: PowerShellRunner = (script) => {
      recorded.scripts.push(script.text)
      const s = script.text
      if (s.includes("'CreateReferencePoint'")) return Promise.resolve('{"Systems":1,"ReturnValue":4096,"Job":"J1"}')
      if (s.includes('Get-CimAssociatedInstance')) return Promise.resolve('["P1"]')
      if (s.includes("'Msvm_ConcreteJob'")) return Promise.resolve('{"JobState":7}')
      return Promise.resolve(JSON.stringify({ points: [{ InstanceID: 'P1', VirtualSystemIdentifier: vmId, ReferencePointType: 2, VirtualDiskIdentifiers: [], ResilientChangeTrackingIdentifiers: [] }], disks: [] }))
    }
    await createReferencePoint({ runner: scripted, connection: () => Promise.reject(new Error('no connection')), executable: () => Promise.resolve('powershell.exe'), rct: true }, vmId, signal())

    const builders = await psTemplates(path.dirname(fileURLToPath(import.meta.url)))
    const missed = builders.filter((b) => !recorded.templates.has(b.key)).map((b) => `${b.file}:${b.line}`)
    expect(missed, 'script builders no flow of this test ran').toEqual([])
    expect(builders.length).toBeGreaterThan(40)

    const scripts = [bootstrapScript(), ...new Set(recorded.scripts)]
    const report = await checkFor51(pwsh ?? 'pwsh', scripts, signal())
    const problems = report.results.flatMap((findings, i) => findings.map((f) => `script ${i} line ${f.line}: ${f.rule} (${f.what}) in ${JSON.stringify(f.text)}\n${scripts[i] ?? ''}`))
    expect(problems).toEqual([])
    // Issue 22 point 9: on a host with VMware PowerCLI beside Hyper-V, an unqualified Get-VM may be PowerCLI's.
    const hypervAndCim = /(?<![\\\w'"-])(Get|Checkpoint|Remove|Restore|Start|Stop|Save|Suspend|Resume|New|Import|Set|Add|Connect|Copy)-(VM\w*|VHD|CimInstance|CimAssociatedInstance)(?![\w-])|(?<![\\\w'"-])Invoke-CimMethod(?![\w-])/
    const unqualified = scripts.flatMap((text) => text.split('\n').filter((line) => hypervAndCim.test(line)))
    expect(unqualified, 'Hyper-V and CIM cmdlets called without their module').toEqual([])
    console.log(`5.1 check: ${scripts.length} distinct scripts from ${builders.length} builders, no 7-only construct`)
  })
})
