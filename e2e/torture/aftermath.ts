/**
 * What is checked after every fault, always the same way and always through the `lifeboat` command:
 * restore points that existed before are still listed (and verify), `repo check` and `repo verify` pass, the next
 * backup succeeds, and after it (the next connect) and a garbage collection no lock or temp object and no host
 * leftover remains.
 */
import { describeRun, jsonOf, type LifeboatRunner, type RunResult } from './lifeboat-process'
import { leftoverKeys, type RepoTarget } from './repo-target'

export interface PointRef {
  readonly id: string
  readonly vm: string
}

export interface Aftermath {
  readonly lost: readonly string[]
  readonly checkFailed: boolean
  readonly verifyFailed: boolean
  readonly nextBackupOk: boolean
  readonly leftovers: readonly string[]
  readonly notes: readonly string[]
}

export interface AftermathInput {
  readonly runner: LifeboatRunner
  readonly target: RepoTarget
  readonly before: readonly PointRef[]
  /** Points the fault's own operation may remove (a prune's victims, from its dry run). */
  readonly mayRemove?: ReadonlySet<string>
  /** Runs the next backup (the next connect); its success is recorded. */
  readonly nextBackup: () => Promise<RunResult>
  /** Called between the checks and the next backup (e.g. to free the space of a full disk). */
  readonly beforeNextBackup?: () => Promise<void>
  /** Host-side leftovers, counted after the next backup. */
  readonly hostLeftovers?: () => Promise<string[]>
}

const JOB_TIMEOUT_MS = 300_000

export async function listPoints(runner: LifeboatRunner, repo: string): Promise<PointRef[]> {
  const r = await runner.run(['points', 'list', '--repo', repo], { timeoutMs: 120_000 })
  const json = jsonOf(r)
  if (r.code !== 0 || !Array.isArray(json)) throw new Error(`listing restore points failed: ${describeRun(r)}`)
  return json.map((p: unknown) => {
    const point = p as { id?: unknown; vm?: { name?: unknown } }
    return { id: String(point.id), vm: String(point.vm?.name) }
  })
}

export async function checkRepo(runner: LifeboatRunner, repo: string): Promise<string | undefined> {
  const r = await runner.run(['repo', 'check', '--repo', repo], { timeoutMs: 120_000 })
  const json = jsonOf(r) as { ok?: boolean; problems?: { message: string }[] } | undefined
  if (r.code === 0 && json?.ok === true) return undefined
  return `repo check: ${json?.problems?.map((p) => p.message).join('; ') ?? describeRun(r)}`
}

export async function verifyRepo(runner: LifeboatRunner, repo: string): Promise<string | undefined> {
  const r = await runner.run(['repo', 'verify', '--repo', repo], { timeoutMs: JOB_TIMEOUT_MS })
  const json = jsonOf(r) as { ok?: boolean; damagedPoints?: { pointId: string }[] } | undefined
  if (r.code === 0 && json?.ok === true) return undefined
  return `repo verify: ${json?.damagedPoints !== undefined ? `damaged ${json.damagedPoints.map((p) => p.pointId).join(', ')}` : describeRun(r)}`
}

export function backupFile(runner: LifeboatRunner, repo: string, image: string, vm: string, options: { killAfterMs?: number } = {}): Promise<RunResult> {
  return runner.run(['backup-file', image, '--name', vm, '--repo', repo], { timeoutMs: JOB_TIMEOUT_MS, ...options })
}

export async function aftermath(input: AftermathInput): Promise<Aftermath> {
  const { runner, target } = input
  const notes: string[] = []
  let lost: string[] = []
  let checkFailed = false
  try {
    const after = new Set((await listPoints(runner, target.location)).map((p) => p.id))
    lost = input.before.filter((p) => !after.has(p.id) && input.mayRemove?.has(p.id) !== true).map((p) => p.id)
    if (lost.length > 0) notes.push(`restore points lost: ${lost.join(', ')}`)
  } catch (err) {
    checkFailed = true
    notes.push(err instanceof Error ? err.message : String(err))
  }
  const check = await checkRepo(runner, target.location)
  if (check !== undefined) {
    checkFailed = true
    notes.push(check)
  }
  const verify = await verifyRepo(runner, target.location)
  if (verify !== undefined) notes.push(verify)
  await input.beforeNextBackup?.()
  const next = await input.nextBackup()
  const nextBackupOk = next.code === 0 && !next.timedOut
  if (!nextBackupOk) notes.push(`next backup failed: ${describeRun(next)}`)
  const gc = await runner.run(['repo', 'gc', '--repo', target.location], { timeoutMs: JOB_TIMEOUT_MS })
  if (gc.code !== 0) {
    checkFailed = true
    notes.push(`repo gc after the next backup: ${describeRun(gc)}`)
  }
  const leftovers = leftoverKeys(await target.listKeys()).map((k) => `repository object ${k}`)
  if (input.hostLeftovers !== undefined) leftovers.push(...(await input.hostLeftovers()))
  if (leftovers.length > 0) notes.push(`left behind: ${leftovers.join(', ')}`)
  return { lost, checkFailed, verifyFailed: verify !== undefined, nextBackupOk, leftovers, notes }
}
