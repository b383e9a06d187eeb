/** The campaign's figures: one row per fault and repository kind, and the table the README quotes. */
import type { Aftermath } from './aftermath'

export type FaultKind = 'kill' | 'enospc' | 'ssh' | 's3'
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'enospc', 'ssh', 's3']

export interface FaultRow {
  readonly fault: FaultKind
  /** Repository kind, or what was hurt ("local" for the SSH backups' repository). */
  readonly repo: string
  runs: number
  /** Runs where the fault hit the operation before it finished (the others hit it just too late). */
  interrupted: number
  pointsLost: number
  checkFailures: number
  verifyFailures: number
  leftovers: number
  nextBackupOk: number
  /** Invariant failures, each with what is needed to replay it. */
  readonly failures: string[]
  /** What happened to the faulted operation (ok / failed with which error), counted. */
  readonly outcomes: Map<string, number>
  skipped?: string
}

export function newRow(fault: FaultKind, repo: string): FaultRow {
  return { fault, repo, runs: 0, interrupted: 0, pointsLost: 0, checkFailures: 0, verifyFailures: 0, leftovers: 0, nextBackupOk: 0, failures: [], outcomes: new Map() }
}

/** Adds one run's aftermath to its row; `where` names the run for replays (seed, fault, repository, run number). */
export function record(row: FaultRow, where: string, interrupted: boolean, outcome: string, after: Aftermath, extraFailures: readonly string[] = []): void {
  row.runs++
  if (interrupted) row.interrupted++
  row.outcomes.set(outcome, (row.outcomes.get(outcome) ?? 0) + 1)
  row.pointsLost += after.lost.length
  if (after.checkFailed) row.checkFailures++
  if (after.verifyFailed) row.verifyFailures++
  row.leftovers += after.leftovers.length
  if (after.nextBackupOk) row.nextBackupOk++
  const bad = after.lost.length > 0 || after.checkFailed || after.verifyFailed || after.leftovers.length > 0 || !after.nextBackupOk || extraFailures.length > 0
  if (bad) row.failures.push(`${where}: ${[...extraFailures, ...after.notes].join(' | ')}`)
}

export function rowFailed(row: FaultRow): boolean {
  return row.failures.length > 0
}

export function formatTable(rows: readonly FaultRow[]): string {
  const header = ['fault', 'repo', 'runs', 'interrupted', 'points lost', 'check/verify failures', 'leftovers', 'next backup ok']
  const body = rows.map((r) =>
    r.skipped !== undefined
      ? [r.fault, r.repo, 'skipped', '', '', '', '', r.skipped]
      : [r.fault, r.repo, String(r.runs), String(r.interrupted), String(r.pointsLost), `${r.checkFailures}/${r.verifyFailures}`, String(r.leftovers), `${r.nextBackupOk}/${r.runs}`],
  )
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...body.map(line)].join('\n')
}

export function formatOutcomes(rows: readonly FaultRow[]): string {
  return rows
    .filter((r) => r.skipped === undefined && r.outcomes.size > 0)
    .map((r) => `${r.fault}/${r.repo}: ${[...r.outcomes].map(([k, n]) => `${k} ×${n}`).join(', ')}`)
    .join('\n')
}
