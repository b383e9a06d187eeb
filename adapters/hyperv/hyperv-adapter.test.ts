import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { HyperVAdapter } from './hyperv-adapter'
import { encodedCommand, jsonArray, ps, psQuote } from './powershell'

const options = { endpoint: { kind: 'hyperv' as const, address: 'hv1', port: 22, user: 'Administrator' }, secret: { type: 'password' as const, password: 'x' } }

describe('PowerShell quoting', () => {
  it('makes hostile VM names plain single-quoted literals', () => {
    expect(psQuote(`it's`)).toBe(`'it''s'`)
    expect(psQuote('$(Remove-Item C:\\ -Recurse)')).toBe(`'$(Remove-Item C:\\ -Recurse)'`)
    expect(psQuote('a`b;c')).toBe("'a`b;c'")
    expect(psQuote('‘curly’')).toBe("'‘‘curly’’'")
    expect(ps`Get-VM -Name ${'x; Stop-Computer'}`.text).toBe(`Get-VM -Name 'x; Stop-Computer'`)
    expect(ps`Get-VM -Name ${['a', "b'c"]}`.text).toBe(`Get-VM -Name @('a','b''c')`)
    expect(() => psQuote('a\0b')).toThrow()
  })

  it('sends scripts as -EncodedCommand (base64 UTF-16LE) that decodes back to the script', () => {
    const cmd = encodedCommand(ps`Get-VM -Name ${"web 'prod'"}`).text
    expect(cmd).toMatch(/^powershell\.exe -NoLogo -NoProfile -NonInteractive -EncodedCommand [A-Za-z0-9+/=]+$/)
    const decoded = Buffer.from(cmd.split(' ').at(-1)!, 'base64').toString('utf16le')
    expect(decoded).toContain(`Get-VM -Name 'web ''prod'''`)
    expect(decoded).toContain("$ErrorActionPreference = 'Stop'")
    // The outer command line has nothing a shell could interpret.
    expect(execFileSync('/bin/sh', ['-c', `printf %s ${cmd.split(' ').at(-1)!}`]).toString()).toBe(cmd.split(' ').at(-1))
  })

  it('normalises ConvertTo-Json output: nothing, one object, an array', () => {
    expect(jsonArray('')).toEqual([])
    expect(jsonArray('{"a":1}')).toEqual([{ a: 1 }])
    expect(jsonArray('[{"a":1},{"a":2}]')).toHaveLength(2)
  })
})

describe('Hyper-V adapter inventory parsing', () => {
  it('turns Get-VM JSON into VMs, in both single-object and array shapes', async () => {
    const answers = [
      '{"hostname":"HV01","os":"Microsoft Windows Server 2022 Standard","version":"10.0.20348"}',
      '{"Id":"6B1C7D2E-1111-2222-3333-444455556666","Name":"sql \'prod\'","State":"Running","ProcessorCount":4,"MemoryStartup":8589934592}',
    ]
    const adapter = new HyperVAdapter(options, () => Promise.resolve(answers.shift() ?? ''))
    const inv = await adapter.inventory(AbortSignal.timeout(1000))
    expect(inv.hostname).toBe('HV01')
    expect(inv.vms).toEqual([{ id: '6b1c7d2e-1111-2222-3333-444455556666', name: "sql 'prod'", powerState: 'running', cpus: 4, memoryBytes: 8589934592, disks: [], snapshots: [] }])
  })

  it('refuses output that is not what PowerShell sends', async () => {
    const adapter = new HyperVAdapter(options, () => Promise.resolve('bash: powershell.exe: command not found'))
    await expect(adapter.connect(AbortSignal.timeout(1000))).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
  })
})
