import { AdapterError, type HookRun } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'

/**
 * Runs an admin's pre/post script on the host (as root), the classic "snapshot and mount" kind. The command line is
 * the admin's own and runs as written; everything about the job reaches it as quoted environment variables, never
 * spliced into the command.
 */
export async function runHook(shell: RootShell, hook: HookRun, signal: AbortSignal): Promise<{ exitCode: number | null; output: string }> {
  if (hook.command.trim() === '' || hook.command.length > 8192) throw new AdapterError('BAD_RESPONSE', 'A hook command must be between 1 and 8192 characters.')
  const env = sh`LIFEBOAT_PHASE=${hook.phase} LIFEBOAT_VM_ID=${hook.vmId} LIFEBOAT_VM_NAME=${hook.vmName} LIFEBOAT_JOB_ID=${hook.jobId} LIFEBOAT_MODE=${hook.mode} LIFEBOAT_OUTCOME=${hook.outcome ?? ''}`
  const result = await shell.exec(sh`${env} sh -c ${hook.command}`, { signal, timeoutMs: hook.timeoutMs ?? 30 * 60_000, maxOutputBytes: 1024 * 1024 })
  const output = `${result.stdout}${result.stderr}`.trim().slice(-4000)
  return { exitCode: result.code, output }
}
