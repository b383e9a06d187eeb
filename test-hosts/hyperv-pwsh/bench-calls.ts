/**
 * What one adapter call costs on the real-pwsh Hyper-V test host, split into its parts: pwsh start, the Hyper-V
 * module's import, the first cmdlet (bridge round trip plus first-use JIT) and a further cmdlet in the same session.
 * pwsh runs here directly with the host's environment (no sshd: the SSH exec itself is a few ms over the adapter's
 * open connection), once per runtime variant given on the command line as NAME=VAR=VALUE,… so that the .NET
 * settings can be compared under the same load. PWSH=<path> in a variant runs another pwsh (e.g. the ReadyToRun copy).
 *
 * --ssh instead times whole adapter calls over SSH against the full test host (sshd, winshell, pwsh as findPwsh()
 * picks it): connect, then inventory() and snapshots.list() N times each.
 *
 *   node --import tsx test-hosts/hyperv-pwsh/bench-calls.ts [--runs N] [--ssh | variant …]
 *   e.g. default  pgo0=DOTNET_TieredPGO=0  tc0=DOTNET_TieredCompilation=0  r2r=PWSH=/path/to/pwsh
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { HyperVHost } from '../hyperv-sim/hyperv/host'
import { knownContent } from '../hyperv-sim/hyperv/known-content'
import { startModelBridge } from './bridge'
import { startHyperVPwshHost } from './host'
import { HERE, findPwsh, typesAssembly } from './pwsh'

const run = promisify(execFile)

// Times inside the session, from the script's first statement: import, first cmdlet, a second one.
const PROBE = [
  '$sw = [System.Diagnostics.Stopwatch]::StartNew()',
  'Import-Module Hyper-V',
  '$a = $sw.ElapsedMilliseconds',
  '$null = Get-VM',
  '$b = $sw.ElapsedMilliseconds',
  '$null = Get-VM | Get-VMHardDiskDrive',
  '$c = $sw.ElapsedMilliseconds',
  '"$a $($b - $a) $($c - $b)"',
].join('; ')

interface Sample {
  readonly wall: number
  readonly start: number
  readonly load: number
  readonly first: number
  readonly next: number
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

async function overSsh(runs: number): Promise<void> {
  const t = await startHyperVPwshHost({ vms: ['web01', 'db01'] })
  try {
    const signal = AbortSignal.timeout(600_000)
    const adapter = t.newAdapter()
    const vm = t.vm('web01')
    const time = async (f: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now()
      await f()
      return performance.now() - t0
    }
    const connect = await time(() => adapter.connect(signal))
    const inventory: number[] = []
    const list: number[] = []
    for (let r = 0; r < runs; r++) {
      inventory.push(await time(() => adapter.inventory(signal)))
      list.push(await time(() => adapter.snapshots.list(vm.id, signal)))
    }
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; over SSH; ${runs} runs; medians in ms`)
    console.log(`connect (two PowerShell runs) ${Math.round(connect)}, inventory ${Math.round(median(inventory))}, snapshots.list ${Math.round(median(list))}`)
    if (t.bridge.problems.length > 0) console.log('bridge problems:', t.bridge.problems)
  } finally {
    await t.stop()
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  let runs = 5
  if (args.includes('--ssh')) {
    const at = args.indexOf('--runs')
    return await overSsh(at >= 0 ? Number(args[at + 1]) : runs)
  }
  const variants: [string, Record<string, string>][] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? ''
    if (a === '--runs') runs = Number(args[++i])
    else {
      const at = a.indexOf('=')
      const env: Record<string, string> = {}
      for (const set of at < 0 ? [] : a.slice(at + 1).split(',')) {
        const eq = set.indexOf('=')
        env[set.slice(0, eq)] = set.slice(eq + 1)
      }
      variants.push([at < 0 ? a : a.slice(0, at), env])
    }
  }
  if (variants.length === 0) variants.push(['default', {}])
  const pwsh = findPwsh()
  if (pwsh === undefined) throw new Error('No pwsh (test-hosts/hyperv-pwsh/install-pwsh.sh).')
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-hvpwsh-bench-'))
  const host = new HyperVHost({ dataDir: path.join(dir, 'data'), computerName: 'HV01' })
  await host.addVm({ name: 'web01', disks: [knownContent('web01', 8 * 1024 * 1024)] })
  const bridge = await startModelBridge(host, path.join(dir, 'model.sock'))
  try {
    const types = await typesAssembly(pwsh, AbortSignal.timeout(180_000))
    const base = {
      ...process.env,
      LB_HVPWSH_SOCKET: bridge.socketPath,
      LB_HVPWSH_TYPES: types,
      // As winshell.sh: the modules load the test host's assembly by name, which the startup hook has loaded.
      DOTNET_STARTUP_HOOKS: types,
      PSModulePath: path.join(HERE, 'modules'),
      POWERSHELL_TELEMETRY_OPTOUT: '1',
      POWERSHELL_UPDATECHECK: 'Off',
    }
    const results = new Map<string, Sample[]>(variants.map(([n]) => [n, []]))
    // Interleaved, so that a change of load hits every variant alike.
    for (let r = 0; r < runs; r++) {
      for (const [name, env] of variants) {
        const t0 = performance.now()
        const { PWSH: exe = pwsh, ...vars } = env
        const { stdout } = await run(exe, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', PROBE], { env: { ...base, ...vars } })
        const wall = performance.now() - t0
        const [load, first, next] = stdout.trim().split(' ').map(Number) as [number, number, number]
        results.get(name)?.push({ wall, start: wall - load - first - next, load, first, next })
      }
    }
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${runs} runs each; medians in ms`)
    console.log('variant        wall   start  import  1st-cmdlet  2nd-cmdlet')
    for (const [name, samples] of results) {
      const m = (k: keyof Sample) => String(Math.round(median(samples.map((s) => s[k])))).padStart(6)
      console.log(`${name.padEnd(12)} ${m('wall')}  ${m('start')}  ${m('load')}  ${m('first')}      ${m('next')}`)
    }
    if (bridge.problems.length > 0) console.log('bridge problems:', bridge.problems)
  } finally {
    await bridge.close()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
