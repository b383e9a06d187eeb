import { AdapterError, type BackupOptions } from '../host-adapter'
import type { XapiClient } from './xapi-client'
import { runTask } from './xapi-tasks'

export interface PowerContext {
  readonly client: XapiClient
  readonly vmRef: string
  readonly vmName: string
  readonly log: BackupOptions['log']
  readonly phase: BackupOptions['phase']
}

const percent = (f: number) => `${Math.round(f * 100)} %`

/**
 * Shuts the VM down cleanly (the guest's own shutdown, through its tools), waiting at most `timeoutMs`. After the
 * timeout the VM is forced off only when the admin chose that; otherwise the backup stops and the VM keeps running.
 */
export async function shutDown(ctx: PowerContext, options: { timeoutMs: number; force: boolean; cleanAllowed: boolean }, signal: AbortSignal): Promise<void> {
  const seconds = Math.round(options.timeoutMs / 1000)
  if (options.cleanAllowed) {
    ctx.phase('shutting down', `${ctx.vmName}: clean shutdown (up to ${seconds} s)`)
    const timeout = AbortSignal.timeout(options.timeoutMs)
    try {
      await runTask(ctx.client, 'VM.clean_shutdown', [ctx.vmRef], { signal: AbortSignal.any([signal, timeout]), cancelGraceMs: 15_000 })
      ctx.log('info', `${ctx.vmName} shut down cleanly.`)
      return
    } catch (err) {
      if (signal.aborted) throw err
      if (!timeout.aborted) throw err
    }
    if (!options.force) {
      throw new AdapterError('COMMAND_FAILED', `${ctx.vmName} did not shut down within ${seconds} s, so the cold backup stopped and the VM keeps running. Allow more time, or choose "force off after the timeout".`, { timeoutSec: seconds })
    }
    ctx.log('warn', `${ctx.vmName} did not shut down within ${seconds} s; forcing it off as chosen.`)
  } else {
    if (!options.force) {
      throw new AdapterError('NOT_SUPPORTED', `${ctx.vmName} cannot be shut down cleanly (its guest tools are not running), so the cold backup stopped. Choose "force off" to turn it off anyway.`)
    }
    ctx.log('warn', `${ctx.vmName} has no running guest tools for a clean shutdown; forcing it off as chosen.`)
  }
  ctx.phase('forcing off', ctx.vmName)
  await runTask(ctx.client, 'VM.hard_shutdown', [ctx.vmRef], { signal })
}

export async function startVm(ctx: PowerContext, signal: AbortSignal): Promise<void> {
  ctx.phase('starting', ctx.vmName)
  await runTask(ctx.client, 'VM.start', [ctx.vmRef, false, false], { signal, onProgress: (f) => ctx.phase('starting', `${ctx.vmName} ${percent(f)}`) })
}

export async function suspendVm(ctx: PowerContext, signal: AbortSignal): Promise<void> {
  ctx.phase('suspending', ctx.vmName)
  await runTask(ctx.client, 'VM.suspend', [ctx.vmRef], { signal, onProgress: (f) => ctx.phase('suspending', `${ctx.vmName} ${percent(f)}`) })
}

export async function resumeVm(ctx: PowerContext, signal: AbortSignal): Promise<void> {
  ctx.phase('resuming', ctx.vmName)
  await runTask(ctx.client, 'VM.resume', [ctx.vmRef, false, false], { signal, onProgress: (f) => ctx.phase('resuming', `${ctx.vmName} ${percent(f)}`) })
}
