/**
 * Where this machine's real PowerShell 7 is (install-pwsh.sh puts it in ~/.dotnet/tools), and the one-time build of
 * the Hyper-V module's .NET types (lib/HyperVTypes.cs: enums and VirtualizationException with Microsoft's names).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { accessSync, constants, existsSync } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { canRunSshHosts } from '../ssh-host'

const run = promisify(execFile)

export const HERE = path.dirname(fileURLToPath(import.meta.url))

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The ReadyToRun copy install-pwsh.sh makes of the pinned tool (its .complete marker is written last). */
export const R2R_PWSH = path.join(homedir(), '.cache', 'lifeboat', 'pwsh-7.6.10-r2r')

/**
 * The pwsh binary: install-pwsh.sh's ReadyToRun copy (about twice as fast to start), else on PATH, else where
 * `dotnet tool install --global` puts it; undefined when there is none.
 */
export function findPwsh(): string | undefined {
  if (existsSync(path.join(R2R_PWSH, '.complete')) && executable(path.join(R2R_PWSH, 'pwsh'))) return path.join(R2R_PWSH, 'pwsh')
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && executable(path.join(dir, 'pwsh'))) return path.join(dir, 'pwsh')
  }
  const tool = path.join(homedir(), '.dotnet', 'tools', 'pwsh')
  return executable(tool) ? tool : undefined
}

export function canRunHyperVPwshHost(): { ok: boolean; reason?: string } {
  const ssh = canRunSshHosts()
  if (!ssh.ok) return ssh
  if (findPwsh() === undefined) return { ok: false, reason: 'No pwsh (run test-hosts/hyperv-pwsh/install-pwsh.sh).' }
  return { ok: true }
}

/**
 * Compiles lib/HyperVTypes.cs, the bridge client lib/HyperVSimBridge.cs, lib/WindowsPaths.cs (the startup hook
 * winshell.sh names) and lib/PwshWorker.cs (the pool's warm pwsh) once per content and pwsh (cached in the temp folder; Add-Type takes seconds, loading the DLL
 * milliseconds, and every exec is a new pwsh).
 */
export async function typesAssembly(pwsh: string, signal: AbortSignal): Promise<string> {
  const source = path.join(HERE, 'lib', 'HyperVTypes.cs')
  const bridge = path.join(HERE, 'lib', 'HyperVSimBridge.cs')
  const paths = path.join(HERE, 'lib', 'WindowsPaths.cs')
  const worker = path.join(HERE, 'lib', 'PwshWorker.cs')
  const hash = createHash('sha256').update(await readFile(source)).update(await readFile(bridge)).update(await readFile(paths)).update(await readFile(worker)).update(pwsh).digest('hex').slice(0, 16)
  const target = path.join(tmpdir(), `lb-hvpwsh-types-${hash}.dll`)
  if (existsSync(target)) return target
  const partial = path.join(tmpdir(), `lb-hvpwsh-types-${hash}.${process.pid}.partial.dll`)
  try {
    // The paths travel in the environment, never inside the command text.
    await run(pwsh, ['-NoProfile', '-NonInteractive', '-Command', 'Add-Type -Path $env:LB_TYPES_SOURCE, $env:LB_TYPES_BRIDGE, $env:LB_TYPES_PATHS, $env:LB_TYPES_WORKER -OutputAssembly $env:LB_TYPES_TARGET -OutputType Library'], {
      signal,
      timeout: 120_000,
      env: { ...process.env, LB_TYPES_SOURCE: source, LB_TYPES_BRIDGE: bridge, LB_TYPES_PATHS: paths, LB_TYPES_WORKER: worker, LB_TYPES_TARGET: partial },
    })
    await rename(partial, target)
  } finally {
    await rm(partial, { force: true })
  }
  return target
}
