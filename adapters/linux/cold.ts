import { retrying } from '../cleanup-retry'
import { AdapterError, type BackupOptions } from '../host-adapter'
import type { UndoStack } from '../undo-stack'
import type { DomainInfo } from './domain-model'
import type { Virsh } from './virsh'

/**
 * Stops a domain cleanly for a cold backup: through the guest agent when it answers, else the ACPI power button;
 * waits up to the timeout; forces it off only when the admin chose that explicitly. A domain that is already off
 * is read as it is. The restart is registered as soon as the shutdown request was sent: a backup that fails or is
 * cancelled while the guest is still going down waits for it (up to the shutdown timeout) and starts it again.
 */
export async function coldStop(
  virsh: Virsh,
  dom: string,
  info: DomainInfo,
  state: string,
  options: BackupOptions,
  signal: AbortSignal,
  stack: UndoStack,
  reach: (signal: AbortSignal) => Promise<Virsh | undefined>,
): Promise<void> {
  if (state === 'shut off' || state === 'crashed') return
  if (state === 'paused' || state === 'pmsuspended') {
    throw new AdapterError('NOT_SUPPORTED', `${info.name} is ${state}; a paused guest cannot shut down cleanly. Resume it first, or use a warm or hot backup.`, { state })
  }
  const agent = info.agentChannel && (await virsh.agentAnswers(dom, signal))
  const mode = agent ? 'agent' : 'acpi'
  options.phase('shutting down', `${info.name} (${mode === 'agent' ? 'guest agent' : 'ACPI power button'})`)
  options.log('info', `Asking ${info.name} to shut down (${mode}); waiting up to ${Math.round(options.shutdownTimeoutMs / 1000)} s.`)
  await virsh.run(['shutdown', dom, '--mode', mode], { signal })
  const deadline = Date.now() + options.shutdownTimeoutMs
  stack.push(`start ${info.name} again`, async (s) => {
    const fresh = await reach(s)
    if (fresh === undefined) return [`${info.name} could not be started again: the host cannot be reached. Start it with: virsh start ${dom}`]
    return await startAgain(fresh, dom, info.name, options, deadline, s)
  })
  const reached = await virsh.waitForState(dom, ['shut off'], options.shutdownTimeoutMs, signal)
  if (reached !== undefined) return
  if (!options.forceOffAfterTimeout) {
    throw new AdapterError(
      'CONNECTION_TIMEOUT',
      `${info.name} did not shut down within ${Math.round(options.shutdownTimeoutMs / 1000)} s and was not forced off (choose "force off after the timeout" to allow that). Nothing was read. The shutdown request was sent: if the guest completes it later, start it again (virsh start ${dom}).`,
      { vm: info.name },
    )
  }
  options.log('warn', `${info.name} did not shut down within ${Math.round(options.shutdownTimeoutMs / 1000)} s; forcing it off as chosen.`)
  await virsh.run(['destroy', dom], { signal })
  if ((await virsh.waitForState(dom, ['shut off'], 60_000, signal)) === undefined) throw new AdapterError('COMMAND_FAILED', `${info.name} could not be forced off.`)
}

/**
 * Starts the domain the backup stopped. A guest still completing the shutdown it was asked for is waited for until
 * the shutdown deadline, so it is not left off behind the admin's back. A host command that fails (an SSH hiccup, a
 * busy libvirtd) is tried again a few times before the guest is reported as left off: leaving a production VM down
 * over one lost answer is the worst outcome a cold backup can have. Never throws; returns what it could not do.
 */
async function startAgain(virsh: Virsh, dom: string, name: string, options: BackupOptions, deadline: number, signal: AbortSignal): Promise<string[]> {
  try {
    return await retrying(() => tryStartAgain(virsh, dom, name, options, deadline, signal), {
      times: START_ATTEMPTS,
      delayMs: () => START_RETRY_MS,
      signal,
      onRetry: (err, failed) => options.log('warn', `Starting ${name} again failed (attempt ${failed} of ${START_ATTEMPTS}: ${messageOf(err)}); trying again in ${START_RETRY_MS / 1000} s.`),
    })
  } catch (err) {
    return [`${name} was stopped for the backup and could not be started again: ${messageOf(err)}. Start it with: virsh start ${dom}`]
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

const START_ATTEMPTS = 3
const START_RETRY_MS = 2000

async function tryStartAgain(virsh: Virsh, dom: string, name: string, options: BackupOptions, deadline: number, signal: AbortSignal): Promise<string[]> {
  let state = await virsh.domstate(dom, signal)
  if (state !== 'shut off' && state !== 'crashed' && Date.now() < deadline) state = (await virsh.waitForState(dom, ['shut off', 'crashed'], deadline - Date.now(), signal)) ?? state
  if (state !== 'shut off' && state !== 'crashed') {
    if (state === 'in shutdown') return [`${name} was still shutting down when the backup ended; start it again once it is off (virsh start ${dom}).`]
    return []
  }
  options.phase('starting', name)
  await virsh.run(['start', dom], { signal })
  options.log('info', `${name} was started again.`)
  return []
}
