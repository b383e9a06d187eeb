import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from './atomic-file'
import { withFileLock } from './file-lock'
import { StateError } from './state-error'

const ReviewSchema = z.object({
  hostId: z.string().min(1).max(200),
  vmId: z.string().min(1).max(300),
  snapshotId: z.string().min(1).max(500),
  /** When the admin chose "Keep": Lifeboat stops reminding about this snapshot (it is never deleted by itself). */
  keptAt: z.string().max(64),
})
export type SnapshotReview = z.infer<typeof ReviewSchema>

const FileSchema = z.object({ version: z.literal(1), reviews: z.array(ReviewSchema).max(100_000) })
type ReviewsFile = z.infer<typeof FileSchema>

/**
 * What the admin decided about "snapshot before patching" snapshots after their review date: kept on purpose.
 * Held by Lifeboat, not on the host, so no hypervisor has to let us edit a snapshot's tags after the fact.
 */
export class SnapshotReviews {
  constructor(private readonly file: string) {}

  async forVm(hostId: string, vmId: string): Promise<SnapshotReview[]> {
    return (await this.read()).reviews.filter((r) => r.hostId === hostId && r.vmId === vmId)
  }

  async keep(hostId: string, vmId: string, snapshotId: string, at: Date = new Date()): Promise<SnapshotReview> {
    const review = ReviewSchema.parse({ hostId, vmId, snapshotId, keptAt: at.toISOString() })
    await this.mutate((data) => {
      data.reviews = data.reviews.filter((r) => !(r.hostId === hostId && r.vmId === vmId && r.snapshotId === snapshotId))
      data.reviews.push(review)
    })
    return review
  }

  /** Drops what is recorded for snapshots of this VM that no longer exist (discarded here or elsewhere). */
  async prune(hostId: string, vmId: string, existing: ReadonlySet<string>): Promise<void> {
    const stale = (await this.forVm(hostId, vmId)).some((r) => !existing.has(r.snapshotId))
    if (!stale) return
    await this.mutate((data) => {
      data.reviews = data.reviews.filter((r) => r.hostId !== hostId || r.vmId !== vmId || existing.has(r.snapshotId))
    })
  }

  private async mutate(change: (data: ReviewsFile) => void): Promise<void> {
    await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      change(data)
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n')
    })
  }

  private async read(): Promise<ReviewsFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, reviews: [] }
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new StateError('STATE_CORRUPT', `${this.file} is not valid JSON; Lifeboat has not changed it. Remove it to forget which snapshots you chose to keep.`, { file: this.file }, { cause: err })
    }
    const parsed = FileSchema.safeParse(json)
    if (!parsed.success) throw new StateError('STATE_CORRUPT', `${this.file} does not have the expected layout; Lifeboat has not changed it.`, { file: this.file })
    return parsed.data
  }
}
