import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdapterError, type ImagePiece } from '../../adapters/host-adapter'
import { holdJobLock, liveJobs } from '../../adapters/hyperv/job-lock'
import { ps } from '../../adapters/hyperv/powershell'
import { uploadFile } from '../../adapters/hyperv/upload'
import { WindowsSftpFile } from '../../adapters/hyperv/windows-file'
import { vmAccountSid } from '../hyperv-sim/hyperv/acl'
import { canRunSshHosts } from '../ssh-host'
import { startHyperVPwshHost, type HyperVPwshHost } from './host'
import { canRunHyperVPwshHost } from './pwsh'

const runnable = canRunHyperVPwshHost().ok && canRunSshHosts().ok
const CANARY_NAME = `lb-hvpwsh-paths-canary-${process.pid}`
const CANARY = path.join(tmpdir(), CANARY_NAME)
// A file name (valid on Windows: no / \\ : * ? " < > |) that PowerShell would run pieces of if any layer lost the quoting.
const HOSTILE = `-it's “x” $(New-Item -ItemType File -Path ([IO.Path]::GetTempPath() + '${CANARY_NAME}')) ; \`n ’y’ $env:HOME ü`

async function failure(p: Promise<unknown>): Promise<AdapterError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  if (!(err instanceof AdapterError)) throw new Error(`expected an AdapterError, got ${String(err)}`)
  return err
}

describe.skipIf(!runnable)('Hyper-V test host on real PowerShell: C:\\ paths and SFTP', () => {
  let started: HyperVPwshHost | undefined
  const host = (): HyperVPwshHost => {
    if (!started) throw new Error('the test host did not start')
    return started
  }
  beforeAll(async () => {
    await rm(CANARY, { force: true })
    started = await startHyperVPwshHost({ vms: ['web01'] })
  }, 240_000)
  afterAll(async () => {
    await started?.stop()
    await rm(CANARY, { force: true })
  }, 60_000)

  it('keeps the job lock exclusive across sessions: a second open is a sharing violation, release removes the file', async () => {
    const t = host()
    const signal = AbortSignal.timeout(120_000)
    const first = t.newContext()
    const second = t.newContext()
    const jobId = '0f9d6a52-3c1e-4b7a-9e2d-5a8b7c6d4e31'
    const winPath = `C:\\ProgramData\\Lifeboat\\jobs\\lifeboat-${jobId}.lock`
    const lock = await holdJobLock(await first.connection(signal), 'powershell.exe', first.runner, jobId, signal)
    try {
      expect(lock.held).toBe(true)
      expect(existsSync(t.host.fs.toLocal(winPath))).toBe(true)
      expect(await liveJobs(second.runner, [jobId, '11111111-2222-3333-4444-555555555555'], signal)).toEqual(new Set([jobId]))
      const refused = await failure(second.runner(ps`$f = [System.IO.File]::Open(${winPath}, 'OpenOrCreate', 'ReadWrite', 'None')\n$f.Close()`, { signal, what: 'Taking the lock' }))
      expect(refused.message).toContain(`The process cannot access the file '${winPath}' because it is being used by another process.`)
      expect(refused.params).toMatchObject({ psErrorId: 'IOException' })
    } finally {
      await lock.release()
    }
    expect(existsSync(t.host.fs.toLocal(winPath))).toBe(false)
    expect(await liveJobs(second.runner, [jobId], signal)).toEqual(new Set())
    expect(t.bridge.problems).toEqual([])
  }, 180_000)

  it('runs the file cmdlets on C:\\ paths against the model: folders, Test-Path, Get-Acl | Set-Acl, Rename-Item, Remove-Item', async () => {
    const t = host()
    const signal = AbortSignal.timeout(120_000)
    const { runner } = t.newContext()
    const vm = t.vm('web01')
    const disk = vm.drives[0]?.path ?? ''
    const folder = 'C:\\Restore\\web01'
    const fresh = `${folder}\\${HOSTILE}.vhdx`
    const out = await runner(
      ps`New-Item -ItemType Directory -Force -Path ${folder} | Out-Null
$p = Join-Path ${folder} ${`${HOSTILE}.vhdx`}
[pscustomobject]@{ joined = $p; there = (Test-Path -LiteralPath ${folder} -PathType Container); file = (Test-Path -LiteralPath $p) } | ConvertTo-Json -Compress`,
      { signal, what: 'Making the folder' },
    )
    expect(JSON.parse(out)).toEqual({ joined: fresh, there: true, file: false })
    await writeFile(path.join(t.host.fs.toLocal(folder), `${HOSTILE}.vhdx`), 'restored bytes')

    await runner(ps`Get-Acl -LiteralPath ${disk} | Set-Acl -LiteralPath ${fresh}`, { signal, what: 'Copying the permissions' })
    expect(t.host.acls.allows(fresh, vmAccountSid(vm.id))).toBe(true)
    await runner(ps`Rename-Item -LiteralPath ${fresh} -NewName ${'renamed.vhdx'}`, { signal, what: 'Renaming' })
    const renamed = `${folder}\\renamed.vhdx`
    expect(await readFile(t.host.fs.toLocal(renamed), 'utf8')).toBe('restored bytes')
    expect(t.host.acls.allows(renamed, vmAccountSid(vm.id))).toBe(true)

    // A disk a running VM holds open cannot be removed, as on Windows. The id's suffix is the function's name here, not
    // the cmdlet class (README: Known difference), so only the part the adapter decides on is compared.
    const busy = await failure(runner(ps`Remove-Item -LiteralPath ${disk} -Force`, { signal, what: 'Removing a disk in use' }))
    expect(busy.params).toMatchObject({ psErrorId: 'RemoveFileSystemItemIOError,Microsoft.PowerShell.Commands.RemoveItemCommand', psCategory: 'WriteError' })
    expect(existsSync(t.host.fs.toLocal(disk))).toBe(true)

    await runner(ps`foreach ($p in ${[renamed, `${folder}\\absent.vhdx`]}) { if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Force } }`, { signal, what: 'Removing' })
    expect(existsSync(t.host.fs.toLocal(renamed))).toBe(false)
    // Paths that are not C:\ still reach the real cmdlets.
    expect(await runner(ps`Join-Path ${'/tmp'} ${'x'}`, { signal, what: 'Joining a Linux path' })).toBe('/tmp/x')
    expect(existsSync(CANARY)).toBe(false)
    expect(t.bridge.problems).toEqual([])
  }, 180_000)

  it('serves SFTP with /C:/ paths: uploads land in the model, a running VM\'s disk is a sharing violation', async () => {
    const t = host()
    const signal = AbortSignal.timeout(120_000)
    const ctx = t.newContext()
    const conn = await ctx.connection(signal)
    const disk = t.vm('web01').drives[0]?.path ?? ''
    const denied = await WindowsSftpFile.open(conn, disk, signal).then(() => undefined, (e: unknown) => e)
    expect(denied).toBeInstanceOf(AdapterError)
    expect((denied as AdapterError).code).toBe('PERMISSION_DENIED')
    expect((denied as AdapterError).message).toContain('being used by another process')

    await mkdir(t.host.fs.toLocal('C:\\Upload'), { recursive: true })
    const target = `C:\\Upload\\${HOSTILE}.bin`
    const data = Buffer.alloc(600 * 1024, 0x5a)
    data.write('head', 0)
    const pieces: ImagePiece[] = [{ kind: 'data', data }, { kind: 'zeros', length: 100 * 1024 }]
    expect(await uploadFile(conn, target, Readable.from(pieces), () => undefined, signal)).toBe(700 * 1024)
    const local = await readFile(t.host.fs.toLocal(target))
    expect(local.length).toBe(700 * 1024)
    expect(local.subarray(0, data.length).equals(data)).toBe(true)
    const file = await WindowsSftpFile.open(conn, target, signal)
    try {
      expect(file.size).toBe(700 * 1024)
      expect((await file.readRange(0, 4, signal)).toString()).toBe('head')
    } finally {
      await file.close()
    }
    expect(existsSync(t.host.fs.toLocal(`${target}.partial`))).toBe(false)
  }, 180_000)
})
