/**
 * The simulator itself: the PowerShell subset (and that everything outside it fails loudly), ConvertTo-Json as 5.1 and 7
 * write it, the default-shell and console-encoding behaviour of Windows OpenSSH, the checkpoint file tree (real images
 * other readers can open), and SFTP's Windows rules.
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openImageFile } from '../../engine/disks/open-image'
import { vmAccountSid } from './hyperv/acl'
import { HyperVHost } from './hyperv/host'
import { FileLocks } from './hyperv/locks'
import { knownContent } from './server'
import { ShellHost, splitCmdLine, type ShellConfig } from './shell'

const MiB = 1024 * 1024

interface Result {
  readonly code: number
  readonly out: string
  readonly err: string
  readonly raw: Buffer
}

function encoded(script: string, exe = 'powershell.exe'): string {
  return `${exe} -NoLogo -NoProfile -NonInteractive -EncodedCommand ${Buffer.from(script, 'utf16le').toString('base64')}`
}

describe('Hyper-V simulator', () => {
  let dir: string
  let host: HyperVHost
  const config: { -readonly [K in keyof ShellConfig]: ShellConfig[K] } = { defaultShell: 'cmd', pwsh: true, hypervModule: true }
  const exec = async (command: string, stdin = ''): Promise<Result> => {
    const out: Buffer[] = []
    const err: Buffer[] = []
    let fed = false
    const shell = new ShellHost(host, new FileLocks(host.fs), { ...config })
    const code = await shell.exec(command, {
      signal: AbortSignal.timeout(20_000),
      stdin: {
        readAll: () => Promise.resolve(stdin),
        readLine: () => {
          if (fed) return Promise.resolve(null)
          fed = true
          return Promise.resolve(stdin.split('\n')[0] ?? null)
        },
      },
      stdout: (b) => out.push(b),
      stderr: (b) => err.push(b),
    })
    const raw = Buffer.concat(out)
    return { code, out: raw.toString('utf8'), err: Buffer.concat(err).toString('utf8'), raw }
  }
  const ps = async (script: string, exe = 'powershell.exe') => await exec(encoded(script, exe))

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-hvsim-test-'))
    host = new HyperVHost({ dataDir: dir, timing: { checkpointMs: 0, saveMs: 0, startMs: 0, mergeMs: 0 } })
    await host.addVm({ name: "web 'prod'", disks: [knownContent('web', 8 * MiB)] })
    await host.addVm({ name: 'a1', disks: [knownContent('a1', 4 * MiB)] })
    await host.addVm({ name: 'a[1]', disks: [knownContent('a[1]', 4 * MiB)] })
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  describe('ConvertTo-Json as Windows PowerShell 5.1 and PowerShell 7 write it', () => {
    it('enums are numbers, dates differ, 5.1 escapes quote-like characters', async () => {
      const script = "Get-VM -Name 'web*' | Select-Object Name, State, CheckpointType, CreationTime | ConvertTo-Json -Compress"
      const desktop = (await ps(script)).out.trim()
      expect(desktop).toMatch(/^\{"Name":"web \\u0027prod\\u0027","State":2,"CheckpointType":3,"CreationTime":"\\\/Date\(\d+\)\\\/"\}$/)
      const core = (await ps(script, 'pwsh')).out.trim()
      expect(core).toMatch(/^\{"Name":"web 'prod'","State":2,"CheckpointType":3,"CreationTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00"\}$/)
      expect((await ps("Get-VM -Name 'web*' | Select-Object State | ConvertTo-Json -Compress -EnumsAsStrings", 'pwsh')).out.trim()).toBe('{"State":"Running"}')
    })

    it('a one-object pipeline gives an object, -InputObject @() keeps arrays, an empty pipeline prints nothing', async () => {
      expect((await ps("Get-VM -Name 'a1' | Select-Object Name | ConvertTo-Json -Compress")).out.trim()).toBe('{"Name":"a1"}')
      expect((await ps("ConvertTo-Json -Compress -InputObject @(Get-VM -Name 'a1' | Select-Object Name)")).out.trim()).toBe('[{"Name":"a1"}]')
      expect((await ps('ConvertTo-Json -Compress -InputObject @()')).out.trim()).toBe('[]')
      expect((await ps("Get-VM -Name 'nothing*' | ConvertTo-Json -Compress")).out).toBe('')
      expect((await ps("Get-VM -Name 'a1' | Select-Object Name | ConvertTo-Json -Compress -AsArray", 'pwsh')).out.trim()).toBe('[{"Name":"a1"}]')
      const r = await ps("$ErrorActionPreference = 'Stop'\ntry { ConvertTo-Json -AsArray -InputObject 1 } catch { $_.FullyQualifiedErrorId }")
      expect(r.out.trim()).toBe('NamedParameterNotFound,Microsoft.PowerShell.Commands.ConvertToJsonCommand')
    })

    it('cuts objects deeper than -Depth to their ToString() text; PowerShell 7 also warns', async () => {
      const script = '[pscustomobject]@{ a = [pscustomobject]@{ b = [pscustomobject]@{ c = 1 } } } | ConvertTo-Json -Compress -Depth 1'
      expect((await ps(script)).out.trim()).toBe('{"a":{"b":"@{c=1}"}}')
      const core = await ps(script, 'pwsh')
      expect(core.out.trim()).toBe('{"a":{"b":"@{c=1}"}}')
      expect(core.err).toMatch(/truncated as serialization has exceeded the set depth of 1/)
    })
  })

  describe('the PowerShell subset', () => {
    it('parses single quotes as PowerShell does, typographic quotes included', async () => {
      expect((await ps("[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)\nConvertTo-Json -Compress -InputObject 'it''s ‘‘q’’ $x `n ;'", 'pwsh')).out.trim()).toBe('"it\'s ‘q’ $x `n ;"')
      // A lone typographic quote ends the string, as in PowerShell (which is why psQuote doubles them).
      expect((await ps("ConvertTo-Json -Compress -InputObject 'a‘ b'", 'pwsh').catch((e: unknown) => ({ err: String(e) }))).err).toMatch(/Hyper-V simulator|Unexpected|Terminator/)
      const r = await ps("Get-VM -Name 'unterminated")
      expect(r.code).toBe(1)
      expect(r.err).toMatch(/TerminatorExpectedAtEndOfString/)
    })

    it('treats -Name as a wildcard pattern, as Hyper-V does, and -Id exactly', async () => {
      const names = JSON.parse((await ps("ConvertTo-Json -Compress -InputObject @(Get-VM -Name 'a[1]' | Select-Object -ExpandProperty Name)")).out) as string[]
      expect(names).toEqual(['a1'])
      const id = host.vmByName('a[1]')?.id ?? ''
      expect(JSON.parse((await ps(`Get-VM -Id '${id}' | Select-Object Name | ConvertTo-Json -Compress`)).out)).toEqual({ Name: 'a[1]' })
    })

    it('gives catch blocks an ErrorRecord with the Hyper-V FullyQualifiedErrorId and category', async () => {
      const r = await ps("$ErrorActionPreference = 'Stop'\ntry { Get-VM -Name 'missing' } catch { $_.FullyQualifiedErrorId; $_.CategoryInfo.Category.ToString(); $_.CategoryInfo.Activity; $_.Exception.GetType().FullName }")
      expect(r.out.trim().split('\r\n')).toEqual(['InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM', 'InvalidArgument', 'Get-VM', 'Microsoft.HyperV.PowerShell.VirtualizationException'])
      // Without Stop the error goes to stderr (CLIXML, as powershell.exe -EncodedCommand writes it) and the script goes on.
      const cont = await ps("Get-VM -Name 'missing'\n'after'")
      expect(cont.out.trim()).toBe('after')
      expect(cont.err).toMatch(/^#< CLIXML/)
    })

    it('fails loudly on everything outside the subset', async () => {
      for (const script of ['Write-Output "a$b"', "Get-VM | Where-Object { $_.State -eq 'Running' }", '$x = 1; $x += 1', "Get-VM -Name 'a1' | Sort-Object Name", "Stop-VM -Name 'a1' -AsJob", '${weird} = 1']) {
        const r = await ps(script).catch((e: unknown) => ({ code: -1, out: '', err: String(e), raw: Buffer.alloc(0) }))
        expect(r.err, script).toMatch(/Hyper-V simulator: /)
      }
    })

    it('prompts (and so fails under -NonInteractive) where PowerShell would ask for confirmation', async () => {
      const vm = host.vmByName('a1')
      if (!vm) throw new Error('a1')
      await ps(`$vm = Get-VM -Id '${vm.id}'\nCheckpoint-VM -VM $vm -SnapshotName 'c'`)
      const r = await ps(`$ErrorActionPreference = 'Stop'\ntry { Get-VMSnapshot -VMName 'a1' | Restore-VMSnapshot } catch { $_.FullyQualifiedErrorId }`)
      expect(r.out.trim()).toBe('HostFunctionNotImplemented,Microsoft.HyperV.PowerShell.Commands.RestoreVMSnapshot')
      await ps("Get-VMSnapshot -VMName 'a1' | Remove-VMSnapshot -Confirm:$false")
      expect(host.checkpointsOf(vm.id)).toEqual([])
    })
  })

  describe('Windows OpenSSH in front of it', () => {
    it('runs the command line through cmd.exe by default, with cmd\'s errors for unknown programs', async () => {
      expect(splitCmdLine('powershell.exe -NoLogo "a b"')).toEqual(['powershell.exe', '-NoLogo', 'a b'])
      expect(splitCmdLine('powershell.exe & del x')).toBeUndefined()
      config.pwsh = false
      const r = await ps("'x'", 'pwsh')
      config.pwsh = true
      expect(r.code).toBe(9009)
      expect(r.err).toMatch(/'pwsh' is not recognized as an internal or external command/)
      const bad = await exec('powershell.exe -NoLogo -EncodedCommand abc')
      expect(bad.err).toMatch(/not properly encoded/)
    })

    it('runs a line as a script when the default shell is PowerShell', async () => {
      config.defaultShell = 'powershell'
      try {
        expect((await exec("Get-VM -Name 'a1' | Select-Object Name | ConvertTo-Json -Compress")).out.trim()).toBe('{"Name":"a1"}')
        expect((await ps("'nested'")).out.trim()).toBe('nested')
      } finally {
        config.defaultShell = 'cmd'
      }
    })

    it('writes the OEM code page unless the script switches the console to UTF-8', async () => {
      expect((await ps("'Büro ☃'")).out).toBe('B?ro ?\r\n')
      expect((await ps("[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)\n'Büro ☃'")).out).toBe('Büro ☃\r\n')
      const bom = await ps("[Console]::OutputEncoding = [System.Text.Encoding]::UTF8\n'x'")
      expect([...bom.raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    })
  })

  describe('checkpoints on real image files', () => {
    it('writes AVHDX files the engine\'s reader opens through their parents, and merges them back', async () => {
      const vm = host.vmByName("web 'prod'")
      if (!vm) throw new Error('web')
      const base = vm.drives[0]?.path ?? ''
      const before = knownContent('web', 8 * MiB)
      await ps(`$vm = Get-VM -Id '${vm.id}'\nCheckpoint-VM -VM $vm -SnapshotName 'one'`)
      await host.guestWrite(vm.id, 0, 5 * MiB + 7, Buffer.from('written after the checkpoint'))
      const top = vm.drives[0]?.path ?? ''
      expect(top).toMatch(/^C:\\.*_[0-9A-F-]{36}\.avhdx$/)
      const image = await openImageFile(host.fs.toLocal(top))
      try {
        expect(image.format).toBe('vhdx-differencing')
        const now = await image.read(0, image.size)
        expect(now.subarray(5 * MiB + 7, 5 * MiB + 35).toString()).toBe('written after the checkpoint')
        expect(Buffer.concat([now.subarray(0, 5 * MiB + 7), now.subarray(5 * MiB + 35)]).equals(Buffer.concat([before.subarray(0, 5 * MiB + 7), before.subarray(5 * MiB + 35)]))).toBe(true)
      } finally {
        await image.close()
      }
      const frozen = await openImageFile(host.fs.toLocal(base))
      expect((await frozen.read(0, frozen.size)).equals(before)).toBe(true)
      await frozen.close()
      await ps(`Get-VMSnapshot -VMName 'web*' | Remove-VMSnapshot`)
      expect(vm.drives[0]?.path).toBe(base)
      const merged = await openImageFile(host.fs.toLocal(base))
      expect((await merged.read(5 * MiB + 7, 28)).toString()).toBe('written after the checkpoint')
      await merged.close()
      expect(await readFile(host.fs.toLocal(top)).catch(() => 'gone')).toBe('gone')
    })
  })

  describe('file permissions', () => {
    it('grants the VM account on attached disks; a file renamed into place lacks it until Get-Acl | Set-Acl copies it', async () => {
      const vm = await host.addVm({ name: 'acl', disks: [knownContent('acl', 4 * MiB)], state: 'Off' })
      const disk = vm.drives[0]?.path ?? ''
      const leaf = disk.slice(disk.lastIndexOf('\\') + 1)
      const sid = vmAccountSid(vm.id)
      const sddl = async (p: string) => (await ps(`(Get-Acl -LiteralPath '${p}').Sddl`)).out.trim()
      expect(await sddl(disk)).toContain(`(A;;0x12019f;;;${sid})`)
      // A new file (as an upload makes it) renamed in under the disk's name has only the folder's inherited entries.
      await copyFile(host.fs.toLocal(disk), `${host.fs.toLocal(disk)}.new`)
      expect((await ps(`Rename-Item -LiteralPath '${disk}' -NewName '${leaf}.old'\nRename-Item -LiteralPath '${disk}.new' -NewName '${leaf}'`)).code).toBe(0)
      expect(await sddl(`${disk}.old`)).toContain(sid)
      expect(await sddl(disk)).not.toContain(sid)
      const refused = await ps(`$ErrorActionPreference = 'Stop'\ntry { Start-VM -VM (Get-VM -Id '${vm.id}') } catch { $_.FullyQualifiedErrorId; $_.CategoryInfo.Category.ToString(); $_.Exception.Message }`)
      const [id, category, ...message] = refused.out.trim().split('\r\n')
      expect([id, category]).toEqual(['AccessDenied,Microsoft.HyperV.PowerShell.Commands.StartVM', 'PermissionDenied'])
      expect(message.join('\n')).toContain(`Account does not have permission to open attachment '${disk}'. Error: 'General access denied error' (0x80070005).`)
      expect(vm.state).toBe('Off')
      expect((await ps(`Get-Acl -LiteralPath '${disk}.old' | Set-Acl -LiteralPath '${disk}'`)).code).toBe(0)
      expect(await sddl(disk)).toBe(await sddl(`${disk}.old`))
      expect((await ps(`Start-VM -VM (Get-VM -Id '${vm.id}')`)).code).toBe(0)
      expect(vm.state).toBe('Running')
      const missing = await ps(`$ErrorActionPreference = 'Stop'\ntry { Get-Acl -LiteralPath '${disk}.gone' } catch { $_.FullyQualifiedErrorId; $_.CategoryInfo.Category.ToString() }`)
      expect(missing.out.trim().split('\r\n')).toEqual(['GetAcl_PathNotFound_Exception,Microsoft.PowerShell.Commands.GetAclCommand', 'ObjectNotFound'])
      const wildcard = await ps(`Get-Acl -Path '${disk}'`).catch((e: unknown) => ({ err: String(e) }))
      expect(wildcard.err).toMatch(/Hyper-V simulator: /)
    })
  })
})
