import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { z } from 'zod'

const CHECKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ps51-check.ps1')

const Finding = z.object({ rule: z.string(), line: z.number(), text: z.string(), what: z.string() })
export type Ps51Finding = z.infer<typeof Finding>
const Report = z.object({ rules: z.array(z.string()), results: z.array(z.array(Finding)) })
export type Ps51Report = z.infer<typeof Report>

/**
 * Parses every script with real PowerShell's parser (one pwsh process for all of them: pwsh takes seconds to start)
 * and returns, per script, what Windows PowerShell 5.1 would refuse or run differently (ps51-check.ps1), plus the
 * list of rules the checker applies.
 */
export async function checkFor51(pwsh: string, scripts: readonly string[], signal: AbortSignal): Promise<Ps51Report> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-ps51-'))
  try {
    const input = path.join(dir, 'scripts.json')
    await writeFile(input, JSON.stringify(scripts))
    // The input's path travels in the environment, never inside a command text.
    const { stdout } = await promisify(execFile)(pwsh, ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', CHECKER], {
      signal,
      env: { ...process.env, LB_PS51_INPUT: input },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000,
    })
    const report = Report.parse(JSON.parse(stdout))
    if (report.results.length !== scripts.length) throw new Error(`The 5.1 checker answered for ${report.results.length} of ${scripts.length} scripts.`)
    return report
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
