import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { PlanCheckOutcomeSchema, PlanSchema, type Plan } from '../api/contract-plans'
import { writeFileAtomic } from '../state/atomic-file'
import { withFileLock } from '../state/file-lock'
import { StateError } from '../state/state-error'

const PlanStateSchema = z.object({
  lastScheduledFor: z.string().optional(),
  lastRunAt: z.string().optional(),
  lastResult: z.enum(['succeeded', 'failed', 'partial', 'cancelled']).optional(),
  lastJobId: z.string().optional(),
  lastCheck: PlanCheckOutcomeSchema.optional(),
  /** The last slot of the check's own schedule that was started (absent in files written before it existed). */
  lastCheckScheduledFor: z.string().optional(),
  missedRuns: z.number().int().min(0).default(0),
  missedSince: z.string().optional(),
})
export type PlanState = z.infer<typeof PlanStateSchema>

const FileSchema = z.object({
  version: z.literal(1),
  plans: z.array(PlanSchema).max(1000),
  state: z.record(z.string(), PlanStateSchema),
})
type PlansFile = z.infer<typeof FileSchema>

/** Plans and their run state in `plans.json`, shared by the app and `lifeboat run-due` (locked read-modify-write). */
export class PlansStore {
  constructor(private readonly file: string) {}

  async read(): Promise<PlansFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, plans: [], state: {} }
      throw err
    }
    try {
      return FileSchema.parse(JSON.parse(text))
    } catch (err) {
      throw new StateError('STATE_CORRUPT', `${this.file} is damaged; Lifeboat has not changed it. Restore it from a copy or remove it to start over.`, { file: this.file }, { cause: err })
    }
  }

  async list(): Promise<{ plan: Plan; state: PlanState }[]> {
    const data = await this.read()
    return data.plans.map((plan) => ({ plan, state: data.state[plan.id] ?? { missedRuns: 0 } }))
  }

  async mutate<T>(change: (data: PlansFile) => T): Promise<T> {
    return await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      const result = change(data)
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n', 0o600)
      return result
    })
  }

  async updateState(planId: string, patch: Partial<PlanState>): Promise<void> {
    await this.mutate((data) => {
      const current = data.state[planId] ?? { missedRuns: 0 }
      data.state[planId] = { ...current, ...patch }
    })
  }
}
