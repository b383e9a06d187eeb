import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from './atomic-file'
import { withFileLock } from './file-lock'
import { StateError } from './state-error'

const FailureSchema = z.object({ at: z.string().max(64), channel: z.string().max(100), event: z.string().max(64), message: z.string().max(2000) })
export type NotifyFailure = z.infer<typeof FailureSchema>

const EpisodeSchema = z.object({
  /** The last success the VM had when the alert went out (none: never backed up); a newer one ends the episode. */
  lastSuccessAt: z.string().max(64).nullable(),
  alertedAt: z.string().max(64),
})

const StateSchema = z.object({
  version: z.literal(1),
  /** Open "no successful backup for N hours" episodes, by VM key: one alert each, not one per check. */
  staleEpisodes: z.record(z.string().max(600), EpisodeSchema),
  /** The local date (YYYY-MM-DD) of the last daily summary sent. */
  lastSummaryDate: z.string().max(10).optional(),
  failures: z.array(FailureSchema).max(50),
})
export type NotifyStateFile = z.infer<typeof StateSchema>

const MAX_FAILURES = 20

/** What alerting remembers between runs (dedup of episodes, the summary's date, failed deliveries). */
export class NotifyStateStore {
  constructor(private readonly file: string) {}

  async read(): Promise<NotifyStateFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, staleEpisodes: {}, failures: [] }
      throw err
    }
    try {
      return StateSchema.parse(JSON.parse(text))
    } catch (err) {
      throw new StateError('STATE_CORRUPT', `${this.file} is damaged; Lifeboat has not changed it. Remove it: at worst an alert is sent again.`, { file: this.file }, { cause: err })
    }
  }

  async mutate<T>(change: (data: NotifyStateFile) => T): Promise<T> {
    return withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      const result = change(data)
      data.failures = data.failures.slice(0, MAX_FAILURES)
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n')
      return result
    })
  }

  async recordFailure(failure: NotifyFailure): Promise<void> {
    await this.mutate((data) => {
      data.failures.unshift(FailureSchema.parse({ ...failure, message: failure.message.slice(0, 2000) }))
    })
  }
}
