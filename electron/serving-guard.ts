import type { JobDto } from '../engine/api/contract-jobs'

/**
 * A VM run from a backup reads its disks from this process (the NBD serving lives in the engine), and quitting
 * cancels every job, which for a `points.run` job means turning the VM off and discarding it with everything it
 * wrote. So the desktop shell must never end that silently: closing the window keeps serving from the tray (or, with
 * no tray, asks), and quitting asks first. Plain logic here, without Electron, so it can be tested; main.ts wires it.
 */

type RunJob = Pick<JobDto, 'id' | 'kind' | 'state' | 'title' | 'progress'>

/** The runs this process serves now, kept up to date from `job.updated` events. */
export class ServedRuns {
  private readonly byJob = new Map<string, string>()

  /** Returns true when the set of served VMs changed (the tray's words change with it). */
  update(job: RunJob): boolean {
    if (job.kind !== 'points.run') return false
    const active = job.state === 'queued' || job.state === 'running' || job.state === 'cancelling'
    const before = this.byJob.get(job.id)
    if (!active) return this.byJob.delete(job.id)
    // Once serving, the job's detail is the VM's name; before that its title names the point and the host.
    const name = job.progress.phase === 'running' && job.progress.detail !== undefined && job.progress.detail !== '' ? job.progress.detail : job.title
    this.byJob.set(job.id, name)
    return before !== name
  }

  names(): string[] {
    return [...this.byJob.values()].sort()
  }
}

export type CloseAction = 'close' | 'hide-to-tray' | 'ask'

/** What closing the main window does. */
export function closeAction(state: { readonly quitting: boolean; readonly hasTray: boolean; readonly served: readonly string[] }): CloseAction {
  if (state.quitting) return 'close'
  if (state.hasTray) return 'hide-to-tray'
  return state.served.length > 0 ? 'ask' : 'close'
}

/** Whether quitting may go ahead at once or must ask first (a confirmed quit is not asked twice). */
export function quitAction(state: { readonly served: readonly string[]; readonly confirmed: boolean }): 'quit' | 'ask' {
  return state.served.length === 0 || state.confirmed ? 'quit' : 'ask'
}

export interface ServingPrompt {
  readonly title: string
  readonly message: string
  readonly detail: string
  /** Index 0 keeps serving (the default and what Escape picks); index 1 quits and discards. */
  readonly buttons: readonly [string, string]
}

const list = (names: readonly string[]) => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`)

/** The question asked before serving would end: what runs, what quitting does to it, and the safe way out. */
export function servingPrompt(served: readonly string[], options: { readonly hasTray: boolean }): ServingPrompt {
  const one = served.length === 1
  const vms = list(served)
  return {
    title: 'Lifeboat is serving a VM from a backup',
    message: one ? `${vms} runs from a backup that this Lifeboat serves.` : `${served.length} VMs run from backups that this Lifeboat serves: ${vms}.`,
    detail: [
      `Quitting turns ${one ? 'it' : 'them'} off and discards ${one ? 'it' : 'them'}, with everything written inside since ${one ? 'it' : 'they'} started from the backup (the backup itself is kept).`,
      `To keep ${one ? 'it' : 'them'}, make ${one ? 'it' : 'them'} permanent first, or keep Lifeboat running${options.hasTray ? ' in the tray' : ' (the window is minimised)'}.`,
    ].join(' '),
    buttons: [options.hasTray ? 'Keep serving in the tray' : 'Keep serving', one ? 'Quit and discard the VM' : `Quit and discard ${served.length} VMs`],
  }
}

/** The tray's words: what closing the window left running. */
export function trayText(served: readonly string[]): { readonly tooltip: string; readonly quitLabel: string } {
  if (served.length === 0) return { tooltip: 'Lifeboat — backups keep running while this icon is here', quitLabel: 'Quit (scheduled backups stop)' }
  return {
    tooltip: `Lifeboat — serving ${served.length === 1 ? `${served[0] ?? ''} from a backup` : `${served.length} VMs from backups`}: keep it running`,
    quitLabel: `Quit… (asks: ${served.length === 1 ? 'the VM running from a backup would be discarded' : 'the VMs running from backups would be discarded'})`,
  }
}

/** Said once when the window is hidden while VMs run from a backup, so "closed" is not mistaken for "stopped". */
export function hiddenNotice(served: readonly string[]): { readonly title: string; readonly body: string } | undefined {
  if (served.length === 0) return undefined
  return { title: 'Lifeboat keeps running in the tray', body: `${list(served)} ${served.length === 1 ? 'runs' : 'run'} from a backup and need${served.length === 1 ? 's' : ''} Lifeboat until made permanent.` }
}
