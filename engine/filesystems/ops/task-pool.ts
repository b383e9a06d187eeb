/**
 * Runs up to `limit` tasks at once, for the many small files of a restore: each file takes several round trips to
 * the target's filesystem (create, set mode and times, close, name), and doing them one file at a time leaves the
 * disk and the thread pool idle between them. The first task to fail makes the next `add` or `drain` throw its
 * error; `settle` waits for every task still running (whose own cleanup removes their part files) without throwing.
 */
export class TaskPool {
  private readonly running = new Set<Promise<void>>()
  private failure: { readonly error: unknown } | undefined

  constructor(private readonly limit: number) {}

  /** Starts `task`; returns once fewer than `limit` tasks are running. */
  async add(task: () => Promise<void>): Promise<void> {
    this.throwFailure()
    const running: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error }
      })
      .finally(() => this.running.delete(running))
    this.running.add(running)
    while (this.running.size >= this.limit) await Promise.race(this.running)
    this.throwFailure()
  }

  /** Waits for all tasks; throws the first failure. */
  async drain(): Promise<void> {
    await this.settle()
    this.throwFailure()
  }

  /** Waits for all tasks, whatever their outcome. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running)
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure.error
  }
}
