/**
 * A flow's cleanup, registered right after each action it undoes (the `$defer.onFailure` pattern): a backup that
 * fails or is cancelled after step N undoes exactly steps N…1, newest first, and nothing it never did.
 *
 * An undo never throws out of `unwind`: what it could not clean up comes back as plain sentences ("left behind"),
 * so the job can tell the admin what is still on the host and how to remove it.
 */
/** What an undo returns: nothing when all went, else sentences saying what is left; other values are ignored. */
export type UndoResult = string | readonly string[] | undefined

export interface UndoStep {
  /** What the step undoes, in plain words ("merge the overlays of web01"); named in the left-behind line if it throws. */
  readonly label: string
  readonly undo: (signal: AbortSignal) => unknown
}

/** A handle to one registered step: `done()` takes it off the stack when the flow itself has undone it. */
export interface UndoHandle {
  /** The flow undid this step on its normal path (resumed the guest, thawed it): unwind must not do it again. */
  done(): void
  /** Replaces the undo with another (the step changed shape, e.g. a checkpoint that must now be kept). */
  replace(undo: UndoStep['undo']): void
}

export class UndoStack {
  private readonly steps: { label: string; undo: UndoStep['undo']; live: boolean }[] = []
  private unwinding = false

  /** Registers the undo of an action that has just succeeded. */
  push(label: string, undo: UndoStep['undo']): UndoHandle {
    if (this.unwinding) throw new Error(`Undo step "${label}" registered while the flow is being undone`)
    const step = { label, undo, live: true }
    this.steps.push(step)
    return {
      done: () => {
        step.live = false
      },
      replace: (next) => {
        step.undo = next
      },
    }
  }

  /** The flow reached the point where everything it did stands (a restore defined its VM): nothing is undone any more. */
  commit(): void {
    for (const step of this.steps) step.live = false
  }

  /** Steps still to undo, newest first (for logs and tests). */
  get pending(): readonly string[] {
    return this.steps.filter((s) => s.live).map((s) => s.label).reverse()
  }

  /**
   * Undoes every live step, newest first. Each runs even when an earlier one failed; a throwing undo becomes a
   * left-behind line naming the step. Runs at most once: a second call returns nothing.
   */
  async unwind(signal: AbortSignal): Promise<string[]> {
    if (this.unwinding) return []
    this.unwinding = true
    const left: string[] = []
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const step = this.steps[i]
      if (step === undefined || !step.live) continue
      step.live = false
      try {
        const r: unknown = await step.undo(signal)
        if (typeof r === 'string') left.push(r)
        else if (Array.isArray(r)) for (const line of r) if (typeof line === 'string') left.push(line)
      } catch (err) {
        left.push(`Could not ${step.label}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    return left
  }
}

/**
 * The signal cleanup runs under: the flow's own while it is live, else (after a cancel) a fresh one with a
 * generous bound, so that a cancelled backup still removes what it made on the host.
 */
export function cleanupSignal(signal: AbortSignal, ms = 600_000): AbortSignal {
  return signal.aborted ? AbortSignal.timeout(ms) : signal
}

/**
 * Runs `body` with a fresh stack; when it throws, unwinds the stack and appends what was left behind to the error
 * message before rethrowing. On success the stack is handed to the caller (who unwinds it in finish()).
 */
export async function withUndo<T>(signal: AbortSignal, body: (stack: UndoStack) => Promise<T>): Promise<T> {
  const stack = new UndoStack()
  try {
    return await body(stack)
  } catch (err) {
    const left = await stack.unwind(cleanupSignal(signal)).catch((e: unknown) => [String(e)])
    if (left.length > 0 && err instanceof Error) err.message += ` Left behind: ${left.join(' ')}`
    throw err
  }
}
