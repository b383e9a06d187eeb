import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from '../state/atomic-file'
import { withFileLock } from '../state/file-lock'
import { StateError } from '../state/state-error'

const RecordSchema = z.object({
  /** The repository id shared by the source and its copies. */
  repositoryId: z.string().max(100),
  pointId: z.string().max(200),
  vmId: z.string().max(1024),
  /** The copy's normalised location. */
  location: z.string().max(4096),
  offMachine: z.boolean(),
  copiedAt: z.string().max(40),
})
export type CopyRecord = z.infer<typeof RecordSchema>

const FileSchema = z.object({ version: z.literal(1), copies: z.array(RecordSchema).max(1_000_000) })
type CopiesFile = z.infer<typeof FileSchema>

/**
 * Which restore points this Lifeboat copied, proved and where: the app's "2 copies · 1 off this machine" without
 * listing every copy repository (an S3 bucket or a host may be slow or away). Kept in the data folder, beside the
 * other state; a copy pruned by its own retention is forgotten here at the same time.
 */
export class CopyRecords {
  constructor(private readonly file: string) {}

  async forRepository(repositoryId: string): Promise<CopyRecord[]> {
    return (await this.read()).copies.filter((c) => c.repositoryId === repositoryId)
  }

  async add(record: CopyRecord): Promise<void> {
    const parsed = RecordSchema.parse(record)
    await this.mutate((data) => {
      data.copies = data.copies.filter((c) => !(c.repositoryId === parsed.repositoryId && c.pointId === parsed.pointId && c.location === parsed.location))
      data.copies.push(parsed)
    })
  }

  /** Forgets copies of the given points at one location (pruned there). */
  async forget(repositoryId: string, location: string, pointIds: readonly string[]): Promise<void> {
    if (pointIds.length === 0) return
    const gone = new Set(pointIds)
    await this.mutate((data) => {
      data.copies = data.copies.filter((c) => !(c.repositoryId === repositoryId && c.location === location && gone.has(c.pointId)))
    })
  }

  private async mutate(change: (data: CopiesFile) => void): Promise<void> {
    await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      change(data)
      await writeFileAtomic(this.file, JSON.stringify(data, null, 1) + '\n')
    })
  }

  private async read(): Promise<CopiesFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, copies: [] }
      throw err
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new StateError('STATE_CORRUPT', `${this.file} is not valid JSON; fix or remove it (it only lists copies made, the copies themselves are unaffected).`, { file: this.file })
    }
    const result = FileSchema.safeParse(parsed)
    if (!result.success) throw new StateError('STATE_CORRUPT', `${this.file} is not a list of copies Lifeboat understands; fix or remove it.`, { file: this.file })
    return result.data
  }
}
