import type { HookRun, HostAdapter } from '../../adapters/host-adapter'
import { ApiError } from '../api/contract-errors'
import type { JobContext } from './job-runner'

/**
 * Runs a pre or post script on the host as a job step. A failing pre script stops the backup (the admin's script
 * said the VM is not ready); a failing post script is reported but cannot undo a written restore point. Post scripts
 * run even when the job was cancelled, with a signal of their own.
 */
export async function runHookStep(adapter: HostAdapter, hook: HookRun, ctx: JobContext, step: string, failOnError: boolean): Promise<void> {
  const end = ctx.step(step)
  if (adapter.hooks === undefined) {
    end('failed')
    throw new ApiError('NOT_SUPPORTED', 'This host cannot run backup scripts.')
  }
  const signal = hook.phase === 'post' ? AbortSignal.timeout(hook.timeoutMs ?? 30 * 60_000) : ctx.signal
  try {
    const r = await adapter.hooks.run(hook, signal)
    if (r.output !== '') ctx.log('info', `${hook.phase}-backup script said: ${r.output.slice(-2000)}`)
    if (r.exitCode !== 0) {
      const message = `The ${hook.phase}-backup script exited with ${r.exitCode ?? 'a signal'}.`
      if (failOnError) throw new ApiError('COMMAND_FAILED', `${message} The backup was not started.`)
      ctx.log('error', message)
      end('failed')
      return
    }
    end()
  } catch (err) {
    end('failed')
    if (failOnError) throw err
    ctx.log('error', `The ${hook.phase}-backup script could not run: ${err instanceof Error ? err.message : String(err)}`)
  }
}
