import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from '../state/atomic-file'
import { withFileLock } from '../state/file-lock'

const FileSchema = z.object({ version: z.literal(1), open: z.record(z.string().max(4200), z.string().max(40)) })
type EpisodesFile = z.infer<typeof FileSchema>

/**
 * "Alert once per episode" for conditions that last (a repository low on space, a snapshot past its review date):
 * an episode opens when the condition is first seen and alerts then; it stays open, silently, while the condition
 * holds; it ends when the condition is gone, so the next time it comes back alerts again. Shared by every Lifeboat
 * process on this machine (the app, `serve`, `run-due`) through a locked file in the data folder.
 */
export class AlertEpisodes {
  constructor(private readonly file: string) {}

  /**
   * Given every key of one family (`prefix`) whose condition holds now, returns those that start an episode
   * (to alert about) and ends the episodes of that family whose condition is gone.
   */
  async update(prefix: string, holding: readonly string[], now: Date): Promise<string[]> {
    return await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      const current = new Set(holding.map((k) => `${prefix}${k}`))
      const fresh: string[] = []
      for (const key of current) {
        if (data.open[key] !== undefined) continue
        data.open[key] = now.toISOString()
        fresh.push(key.slice(prefix.length))
      }
      for (const key of Object.keys(data.open)) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by condition
        if (key.startsWith(prefix) && !current.has(key)) delete data.open[key]
      }
      await writeFileAtomic(this.file, JSON.stringify(data) + '\n')
      return fresh
    })
  }

  private async read(): Promise<EpisodesFile> {
    try {
      const parsed = FileSchema.safeParse(JSON.parse(await readFile(this.file, 'utf8')))
      // A damaged file only costs a repeated alert: start over rather than stop alerting.
      return parsed.success ? parsed.data : { version: 1, open: {} }
    } catch {
      return { version: 1, open: {} }
    }
  }
}
