import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { commandLine, ps, scriptStdin } from '../../adapters/hyperv/powershell'
import { raw } from '../../adapters/ssh/shell-quote'
import type { SshConnection } from '../../adapters/ssh/ssh-connection'
import { startHyperVPwshHost, type HyperVPwshHost } from './host'
import { canRunHyperVPwshHost } from './pwsh'

// The warm pool must be indistinguishable from a new pwsh per exec, for what an SSH client can see: exit code,
// stdout and stderr bytes, for the adapter's own command line and for plain ones. The cold host is the reference.
const CASES: readonly { readonly name: string; readonly line: string; readonly stdin?: string }[] = [
  { name: 'the adapter bootstrap, non-ASCII output', line: commandLine().text, stdin: scriptStdin(ps`'Büro ’x‘ “y” – ✓'; Get-VM | Select-Object -ExpandProperty Name; ConvertTo-Json -Compress -InputObject @{ n = 1; s = "a$([char]9)b" }`) },
  { name: 'the adapter bootstrap, a failing cmdlet', line: commandLine().text, stdin: scriptStdin(ps`Get-VM -Name 'no such VM'`) },
  { name: 'the adapter bootstrap, a binding error', line: commandLine().text, stdin: scriptStdin(ps`Stop-VM -Name web01 -NoSuchParameter`) },
  { name: 'exit 7 inside the script', line: commandLine().text, stdin: scriptStdin(ps`'before'; exit 7`) },
  { name: 'pwsh with -Command', line: 'pwsh -NoLogo -NoProfile -NonInteractive -Command Write-Output hello; Write-Output ([Console]::IsInputRedirected)' },
  { name: 'an uncaught error with -Command', line: 'powershell.exe -NoProfile -NonInteractive -Command Get-Item /no/such/file' },
  { name: 'a bad command-line parameter', line: 'powershell.exe -NoSuchSwitch' },
]

async function run(conn: SshConnection, line: string, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await conn.exec(raw(line), { signal: AbortSignal.timeout(120_000), ...(stdin !== undefined ? { stdin } : {}) })
  return { code: r.code, stdout: r.stdout, stderr: r.stderr }
}

describe.skipIf(!canRunHyperVPwshHost().ok)('the Hyper-V test host\'s warm pwsh pool', () => {
  let warm: HyperVPwshHost | undefined
  let cold: HyperVPwshHost | undefined
  beforeAll(async () => {
    ;[warm, cold] = await Promise.all([startHyperVPwshHost({ vms: ['web01'] }), startHyperVPwshHost({ vms: ['web01'], cold: true })])
  }, 240_000)
  afterAll(async () => {
    await warm?.stop()
    await cold?.stop()
  }, 60_000)

  it('gives what a new pwsh per exec gives: exit code, stdout and stderr byte for byte', async () => {
    if (!warm || !cold) throw new Error('hosts did not start')
    const w = await warm.newContext().connection(AbortSignal.timeout(60_000))
    const c = await cold.newContext().connection(AbortSignal.timeout(60_000))
    for (const k of CASES) {
      const expected = await run(c, k.line, k.stdin)
      const seen = await run(w, k.line, k.stdin)
      expect({ case: k.name, ...seen }).toEqual({ case: k.name, ...expected })
    }
    expect(warm.pool?.stats.retired).toEqual([])
    expect(warm.bridge.problems).toEqual([])
  }, 600_000)

  it('reuses a worker and leaves nothing of one session to the next: environment, folder, variables, encoding, open files', async () => {
    const t = warm
    if (!t) throw new Error('host did not start')
    const conn = await t.newContext().connection(AbortSignal.timeout(60_000))
    const first = await run(conn, commandLine().text, scriptStdin(ps`$PID; $env:LB_LEAK = 'x'; Set-Location /tmp; $global:leak = 1; $script:lock = [System.IO.File]::Open('C:\ProgramData\leak.lock', 'OpenOrCreate', 'ReadWrite', 'None'); [Console]::OutputEncoding = [System.Text.Encoding]::Unicode`))
    expect(first.code).toBe(0)
    // Its output went out as UTF-16 (the bootstrap prints the script's output after it ran): ASCII without the NULs.
    const pid = first.stdout.split('\u0000').join('').split(/\r?\n/)[1]?.trim()
    const second = await run(conn, commandLine().text, scriptStdin(ps`$PID; "env=$env:LB_LEAK"; "at=$((Get-Location).Path)"; "var=$global:leak"; "enc=$([Console]::OutputEncoding.WebName)"; $f = [System.IO.File]::Open('C:\ProgramData\leak.lock', 'OpenOrCreate', 'ReadWrite', 'None'); $f.Close(); 'opened'`))
    expect(second.code).toBe(0)
    const lines = second.stdout.split(/\r?\n/).map((l) => l.trim())
    // The same process served both sessions (the pool's point), and the second saw a fresh process's state.
    expect(lines[1]).toBe(pid)
    expect(lines.slice(2, 7)).toEqual(['env=', `at=${process.env.HOME ?? '/root'}`, 'var=', 'enc=utf-8', 'opened'])
    expect(t.pool?.stats.retired).toEqual([])
  }, 300_000)

  it('counts execs, fails exec N as a powershell.exe that cannot start, and reports exec N done before its exit goes out', async () => {
    const t = warm
    const pool = t?.pool
    if (!t || !pool) throw new Error('host did not start')
    const conn = await t.newContext().connection(AbortSignal.timeout(60_000))
    const before = pool.faults.execs
    pool.faults.failExec = before + 1
    const failed = await run(conn, commandLine().text, scriptStdin(ps`'ran'`))
    expect(failed).toEqual({ code: 1, stdout: '', stderr: expect.stringContaining("Program 'powershell.exe' failed to run") })
    const seen: number[] = []
    pool.faults.afterExec = (n) => seen.push(n)
    const ok = await run(conn, commandLine().text, scriptStdin(ps`'ran'`))
    pool.faults.afterExec = undefined
    expect(ok.stdout).toContain('ran')
    expect(seen).toEqual([before + 2])
    expect(pool.faults.execs).toBe(before + 2)
  }, 300_000)
})
