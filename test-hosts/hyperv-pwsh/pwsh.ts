/**
 * Where this machine's real PowerShell 7 is (install-pwsh.sh puts it in ~/.dotnet/tools), and the one-time build of
 * the test host's assembly (lib/*.cs: the compiled cmdlets, Microsoft's Hyper-V types, the bridge client, the hooks).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { accessSync, constants, existsSync } from 'node:fs'
import { readdir, readFile, rename, rm } from 'node:fs/promises'
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
 * Compiles every lib/*.cs (the Hyper-V types, the compiled cmdlets of modules/, the bridge client, the WindowsPaths
 * startup hook and the pool's warm pwsh) into one assembly named LifeboatTestHost, once per content and pwsh (cached in
 * the temp folder; compiling takes seconds, loading the DLL milliseconds, and every exec is a new pwsh). The module
 * manifests load it by that name (lib/Build-TestHostAssembly.ps1 says why not Add-Type).
 */
export async function typesAssembly(pwsh: string, signal: AbortSignal): Promise<string> {
  const lib = path.join(HERE, 'lib')
  const sources = (await readdir(lib)).filter((f) => f.endsWith('.cs')).sort().map((f) => path.join(lib, f))
  const build = path.join(lib, 'Build-TestHostAssembly.ps1')
  const hash = createHash('sha256')
  for (const file of [build, ...sources]) hash.update(file).update(await readFile(file))
  const digest = hash.update(pwsh).digest('hex').slice(0, 16)
  const target = path.join(tmpdir(), `lb-hvpwsh-types-${digest}.dll`)
  if (existsSync(target)) return target
  const partial = path.join(tmpdir(), `lb-hvpwsh-types-${digest}.${process.pid}.partial.dll`)
  try {
    // The paths travel in the environment, never inside the command text.
    await run(pwsh, ['-NoProfile', '-NonInteractive', '-File', build], {
      signal,
      timeout: 120_000,
      env: { ...process.env, LB_TYPES_SOURCES: sources.join(path.delimiter), LB_TYPES_TARGET: partial },
    })
    await rename(partial, target)
  } finally {
    await rm(partial, { force: true })
  }
  return target
}
