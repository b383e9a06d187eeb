import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { mapPsError } from './errors'
import { bootstrapScript, commandLine, jsonArray, ps, psQuote, readableStderr, scriptStdin, splitOutput } from './powershell'
import { interpret } from './ps-runner'
import { SnapshotRecord, VhdRecord, VmRecord, arrayOf, parseJson } from './schemas'
import { backupCheckpointName, parseBackupCheckpoint, parsePatchCheckpoint, patchCheckpointName } from './tags'
import { chainResolver } from './readouts'
import type { RemoteFile } from '../host-adapter'

describe('PowerShell quoting', () => {
  it('makes hostile VM names plain single-quoted literals', () => {
    expect(psQuote(`it's`)).toBe(`'it''s'`)
    expect(psQuote('$(Remove-Item C:\\ -Recurse)')).toBe(`'$(Remove-Item C:\\ -Recurse)'`)
    expect(psQuote('a`b;c')).toBe("'a`b;c'")
    expect(psQuote('‘curly’')).toBe("'‘‘curly’’'")
    expect(ps`Get-VM -Name ${'x; Stop-Computer'}`.text).toBe(`Get-VM -Name 'x; Stop-Computer'`)
    expect(ps`Get-VM -Name ${['a', "b'c"]}`.text).toBe(`Get-VM -Name @('a','b''c')`)
    expect(ps`Set-VMProcessor -Count ${4}`.text).toBe('Set-VMProcessor -Count 4')
    expect(ps`Set-VMMemory -DynamicMemoryEnabled ${false}`.text).toBe('Set-VMMemory -DynamicMemoryEnabled $false')
    expect(() => psQuote('a\0b')).toThrow()
    expect(() => ps`x ${Number.NaN}`).toThrow()
  })
})

describe('the bootstrap sent to Windows OpenSSH', () => {
  it('is one fixed command line with nothing a shell could interpret, carrying the bootstrap as UTF-16LE base64', () => {
    for (const exe of ['powershell.exe', 'pwsh'] as const) {
      const line = commandLine(exe).text
      expect(line).toMatch(new RegExp(`^${exe.replace('.', '\\.')} -NoLogo -NoProfile -NonInteractive -EncodedCommand [A-Za-z0-9+/=]+$`))
      const b64 = line.split(' ').at(-1) ?? ''
      expect(Buffer.from(b64, 'base64').toString('utf16le')).toBe(bootstrapScript())
      expect(execFileSync('/bin/sh', ['-c', `printf %s ${b64}`]).toString()).toBe(b64)
      // cmd.exe's command-line limit is 8191 characters; the script itself never counts against it.
      expect(line.length).toBeLessThan(8000)
    }
    expect(bootstrapScript()).toContain("$ErrorActionPreference = 'Stop'")
    expect(bootstrapScript()).toContain('[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)')
  })

  it('sends the script on stdin as one ASCII line (base64 of UTF-8), so code pages cannot mangle names', () => {
    const script = ps`Get-VM -Name ${'Büro-Server ☃'}`
    const line = scriptStdin(script)
    expect(line).toMatch(/^[A-Za-z0-9+/=]+\n$/)
    expect(Buffer.from(line.trim(), 'base64').toString('utf8')).toBe("Get-VM -Name 'Büro-Server ☃'")
  })

  it('finds the output after the marker, whatever the host printed before it', () => {
    expect(splitOutput('\uFEFFbanner\r\nLIFEBOAT-OK\r\n{"a":1}\r\n')).toEqual({ ok: true, output: '{"a":1}' })
    expect(splitOutput('LIFEBOAT-OK\r\n')).toEqual({ ok: true, output: '' })
    expect(splitOutput('LIFEBOAT-ERROR\r\n{"message":"m"}\r\n')).toEqual({ ok: false, error: '{"message":"m"}' })
    expect(splitOutput('nothing here')).toEqual({ ok: undefined })
  })

  it('reads CLIXML error text', () => {
    const clixml = '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">Get-VM : x &amp; y_x000D__x000A_</S></Objs>'
    expect(readableStderr(clixml)).toBe('Get-VM : x & y')
  })

  it('turns host results into output or typed errors', () => {
    expect(interpret({ code: 0, stdout: 'LIFEBOAT-OK\r\n[1]\r\n', stderr: '' }, 'powershell.exe', 'x')).toBe('[1]')
    const record = JSON.stringify({ message: 'Hyper-V was unable to find a virtual machine with name "a".', id: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM', category: 'InvalidArgument', reason: 'VirtualizationException', target: 'a', activity: 'Get-VM', exception: 'Microsoft.HyperV.PowerShell.VirtualizationException' })
    expect(() => interpret({ code: 1, stdout: `LIFEBOAT-ERROR\r\n${record}\r\n`, stderr: '' }, 'powershell.exe', 'Listing')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }))
    expect(() => interpret({ code: 9009, stdout: '', stderr: "'pwsh' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n" }, 'pwsh', 'x')).toThrow(expect.objectContaining({ code: 'NOT_SUPPORTED', params: expect.objectContaining({ reason: 'no-powershell' }) }))
    expect(() => interpret({ code: 1, stdout: 'LIFEBOAT-ERROR\r\nnot json', stderr: '' }, 'pwsh', 'x')).toThrow(expect.objectContaining({ code: 'BAD_RESPONSE' }))
    expect(() => interpret({ code: 0, stdout: 'garbage', stderr: '' }, 'pwsh', 'x')).toThrow(expect.objectContaining({ code: 'COMMAND_FAILED' }))
  })
})

describe('PowerShell errors become typed adapter errors (by FullyQualifiedErrorId and category, never by text)', () => {
  const rec = (id: string, category: string, activity = '', exception = 'X') => ({ message: 'Meldung auf Deutsch', id, category, reason: '', target: 't', activity, exception })
  it.each([
    [rec('AccessDenied,Microsoft.HyperV.PowerShell.Commands.GetVM', 'PermissionDenied', 'Get-VM'), 'PERMISSION_DENIED'],
    [rec('CommandNotFoundException', 'ObjectNotFound'), 'NOT_SUPPORTED'],
    // Hyper-V\Get-VM on a host without the Hyper-V module (pwsh 7.6's record for a module-qualified name).
    [rec('CouldNotAutoLoadModule', 'ObjectNotFound', '', 'System.Management.Automation.CommandNotFoundException'), 'NOT_SUPPORTED'],
    [rec('ObjectNotFound,Microsoft.Vhd.PowerShell.Cmdlets.GetVHD', 'ObjectNotFound', 'Get-VHD'), 'NOT_FOUND'],
    [rec('InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM', 'InvalidArgument', 'Get-VM'), 'NOT_FOUND'],
    [rec('InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM', 'InvalidOperation', 'Start-VM'), 'COMMAND_FAILED'],
    [rec('OperationFailed,Microsoft.HyperV.PowerShell.Commands.CheckpointVM', 'NotSpecified', 'Checkpoint-VM'), 'COMMAND_FAILED'],
    [rec('HostFunctionNotImplemented,Microsoft.HyperV.PowerShell.Commands.RestoreVMSnapshot', 'InvalidOperation', 'Restore-VMSnapshot'), 'COMMAND_FAILED'],
  ])('%j → %s', (record, code) => {
    const err = mapPsError(record, 'Doing it')
    expect(err.code).toBe(code)
    expect(err.params.psErrorId).toBe(record.id)
  })

  it('keeps host text to one bounded line', () => {
    const err = mapPsError({ ...rec('X', 'NotSpecified'), message: `line1\r\nline2\u0007${'y'.repeat(2000)}` }, 'Doing it')
    expect(err.message).not.toMatch(/\p{Cc}/u)
    expect(err.message.length).toBeLessThan(700)
  })
})

describe('ConvertTo-Json shapes of Windows PowerShell 5.1 and PowerShell 7', () => {
  it('handles one object where an array was meant, and nothing at all', () => {
    expect(jsonArray('')).toEqual([])
    expect(jsonArray('{"a":1}')).toEqual([{ a: 1 }])
    expect(jsonArray('[{"a":1},{"a":2}]')).toHaveLength(2)
    const list = arrayOf(z.object({ a: z.number() }))
    expect(parseJson('{"a":1}', list)).toEqual({ ok: true, value: [{ a: 1 }] })
    expect(parseJson('null', list)).toEqual({ ok: true, value: [] })
  })

  it('reads enums as numbers (5.1) or names (pwsh -EnumsAsStrings) and both date formats', () => {
    const vm = { Id: '6B1C7D2E-1111-2222-3333-444455556666', Name: "sql 'prod'", State: 2, Generation: 2, Version: '10.0', CheckpointType: 3, ProcessorCount: 4, MemoryStartup: 8589934592 }
    expect(parseJson(JSON.stringify(vm), VmRecord)).toMatchObject({ ok: true, value: { Id: '6b1c7d2e-1111-2222-3333-444455556666', State: 'Running', CheckpointType: 'Production' } })
    expect(parseJson(JSON.stringify({ ...vm, State: 'Off', CheckpointType: 'ProductionOnly' }), VmRecord)).toMatchObject({ ok: true, value: { State: 'Off', CheckpointType: 'ProductionOnly' } })
    expect(parseJson(JSON.stringify({ ...vm, State: 42 }), VmRecord)).toMatchObject({ ok: true, value: { State: 'Unknown(42)' } })
    const snap = { Id: vm.Id, Name: 'x', VMId: vm.Id, SnapshotType: 0, State: 6 }
    expect(parseJson('{"Id":"6b1c7d2e-1111-2222-3333-444455556666","Name":"x","VMId":"6b1c7d2e-1111-2222-3333-444455556666","CreationTime":"\\/Date(1700000000000)\\/","SnapshotType":0,"State":6}', SnapshotRecord)).toMatchObject({ ok: true, value: { CreationTime: '2023-11-14T22:13:20.000Z', State: 'Saved', SnapshotType: 'Standard' } })
    expect(parseJson(JSON.stringify({ ...snap, CreationTime: '2023-11-14T23:13:20.1234567+01:00' }), SnapshotRecord)).toMatchObject({ ok: true, value: { CreationTime: '2023-11-14T22:13:20.123Z' } })
  })

  it('refuses what is not the shape Lifeboat expects', () => {
    expect(parseJson('{"Id":"not-a-guid","Name":"x"}', VmRecord)).toMatchObject({ ok: false })
    expect(parseJson('{"Path":"C:\\\\a.vhdx","VhdFormat":3,"VhdType":3,"Size":-1,"FileSize":1,"LogicalSectorSize":512,"PhysicalSectorSize":4096}', VhdRecord)).toMatchObject({ ok: false })
    expect(parseJson('bash: powershell.exe: command not found', VmRecord)).toEqual({ ok: false, problem: 'not JSON' })
  })
})

describe('checkpoint names', () => {
  it('tags backup checkpoints with the job and the type to put back', () => {
    const job = '0f8fad5b-d9cb-469f-a165-70867728950e'
    expect(parseBackupCheckpoint(backupCheckpointName(job))).toEqual({ jobId: job })
    expect(parseBackupCheckpoint(backupCheckpointName(job, 'Standard'))).toEqual({ jobId: job, originalType: 'Standard' })
    expect(parseBackupCheckpoint('Lifeboat backup lifeboat-nope')).toBeUndefined()
    expect(() => backupCheckpointName("x'; Stop-Computer")).toThrow()
  })

  it('names "Before patching" checkpoints with the date and the admin\'s label', () => {
    const at = new Date('2026-05-01T14:03:00Z')
    expect(patchCheckpointName('before patching', at)).toBe('Before patching 2026-05-01 14:03 [Lifeboat]')
    const named = patchCheckpointName("SQL CU12 'test'\n", at)
    expect(named).toBe("Before patching 2026-05-01 14:03 - SQL CU12 'test' [Lifeboat]")
    expect(parsePatchCheckpoint(named)).toEqual({ stamp: '2026-05-01 14:03', label: "SQL CU12 'test'" })
    expect(parsePatchCheckpoint('Before patching (mine)')).toBeUndefined()
    const expiring = patchCheckpointName('x', at, new Date('2026-05-08T14:03:30Z'))
    expect(expiring).toBe('Before patching 2026-05-01 14:03 - x [Lifeboat until 2026-05-08 14:03]')
    expect(parsePatchCheckpoint(expiring)).toEqual({ stamp: '2026-05-01 14:03', label: 'x', expiresAt: '2026-05-08T14:03:00.000Z' })
  })
})

describe('parents of a differencing disk', () => {
  const v = (Path: string) => ({ Path, VhdFormat: 'VHDX', VhdType: 'Dynamic', Size: 1, FileSize: 1, ParentPath: null, LogicalSectorSize: 512, PhysicalSectorSize: 4096, BlockSize: 1 })
  const chain = [v('C:\\VMs\\a_1.avhdx'), v('C:\\VMs\\a.vhdx')]
  const opened: string[] = []
  const resolve = chainResolver(chain, (p) => {
    opened.push(p)
    return Promise.resolve({ path: p } as RemoteFile)
  })
  it('opens only files Hyper-V listed in the chain, whatever the locator says', async () => {
    await resolve('.\\a.vhdx')
    await resolve('C:\\VMs\\A.VHDX')
    await resolve('\\\\?\\Volume{5f0a3c2e-7d41-4b6e-9c1a-2b8e4f6d9a10}\\VMs\\a.vhdx')
    expect(opened).toEqual(['C:\\VMs\\a.vhdx', 'C:\\VMs\\a.vhdx', 'C:\\VMs\\a.vhdx'])
    await expect(resolve('..\\..\\Windows\\System32\\config\\SAM')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(resolve('D:\\other\\a.vhdx')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(resolve('a_1.avhdx')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})
