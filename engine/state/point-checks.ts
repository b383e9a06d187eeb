import { open, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { PointCheckDtoSchema, type PointCheckDto } from '../api/contract-checks'
import { writeFileAtomic } from './atomic-file'
import { withFileLock } from './file-lock'
import { StateError } from './state-error'

type ScreenshotFormat = NonNullable<PointCheckDto['screenshot']>['format']
type ServedMimeType = 'image/png' | 'image/jpeg'

/** The formats served to a window, with the signature a file must start with: PNG's 8 bytes, JPEG's SOI and a marker. */
const SERVED: Readonly<Record<ScreenshotFormat, { readonly name: string; readonly mimeType: ServedMimeType; readonly magic: Buffer } | undefined>> = {
  png: { name: 'PNG', mimeType: 'image/png', magic: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  jpeg: { name: 'JPEG', mimeType: 'image/jpeg', magic: Buffer.from([0xff, 0xd8, 0xff]) },
  ppm: undefined,
}

const FileSchema = z.object({ version: z.literal(1), checks: z.array(PointCheckDtoSchema).max(100_000) })
type ChecksFile = z.infer<typeof FileSchema>

/**
 * The newest health-check verdict of each restore point, with its console screenshot. Held in Lifeboat's data folder
 * (not in the repository, which may be read-only or shared by Lifeboats that never checked anything), keyed by the
 * repository's id and the point's id. A newer check of a point replaces the older one and its screenshot.
 */
export class PointChecks {
  constructor(
    private readonly file: string,
    private readonly screenshotDir: string,
  ) {}

  /** The newest check of each point of one repository, by point id. */
  async forRepository(repositoryId: string): Promise<Map<string, PointCheckDto>> {
    return new Map((await this.read()).checks.filter((c) => c.repositoryId === repositoryId).map((c) => [c.pointId, c]))
  }

  /** Keeps a screenshot for a check (named after its job) and returns where it is. */
  async saveScreenshot(jobId: string, format: ScreenshotFormat, data: Uint8Array): Promise<string> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(jobId)) throw new StateError('STATE_CORRUPT', 'A screenshot needs a job id made of letters, digits and dashes.')
    const file = path.join(this.screenshotDir, `${jobId}.${format}`)
    await writeFileAtomic(file, data)
    return file
  }

  /**
   * The PNG or JPEG screenshot of a point's newest check, if there is one (a PPM is not served). Only a file in this
   * store's own folder is read (the state file is editable by hand, so its path is not trusted), only up to
   * `maxBytes`, and only if it starts with its format's signature.
   */
  async screenshot(repositoryId: string, pointId: string, maxBytes: number): Promise<{ check: PointCheckDto; data: Buffer; mimeType: ServedMimeType } | undefined> {
    const check = (await this.forRepository(repositoryId)).get(pointId)
    const format = check?.screenshot?.format
    const served = format === undefined ? undefined : SERVED[format]
    const file = served !== undefined ? check?.screenshot?.path : undefined
    if (check === undefined || served === undefined || file === undefined || path.dirname(path.resolve(file)) !== path.resolve(this.screenshotDir)) return undefined
    let fh
    try {
      fh = await open(file, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    try {
      const size = (await fh.stat()).size
      if (size > maxBytes) throw new StateError('STATE_CORRUPT', `The screenshot ${file} is larger (${size} bytes) than any Lifeboat keeps; it was not read.`, { file })
      const data = Buffer.alloc(size)
      const { bytesRead } = await fh.read(data, 0, size, 0)
      if (bytesRead !== size || !data.subarray(0, served.magic.length).equals(served.magic)) throw new StateError('STATE_CORRUPT', `The screenshot ${file} is not a ${served.name} file; it was not served.`, { file })
      return { check, data, mimeType: served.mimeType }
    } finally {
      await fh.close()
    }
  }

  async record(check: PointCheckDto): Promise<void> {
    const parsed = PointCheckDtoSchema.parse(check)
    let replaced: PointCheckDto | undefined
    await this.mutate((data) => {
      replaced = data.checks.find((c) => c.repositoryId === parsed.repositoryId && c.pointId === parsed.pointId)
      data.checks = data.checks.filter((c) => c !== replaced)
      data.checks.push(parsed)
    })
    const old = replaced?.screenshot?.path
    // Only files this store wrote (in its own folder) are removed; the state file is editable by hand.
    if (old !== undefined && old !== parsed.screenshot?.path && path.dirname(old) === this.screenshotDir) await rm(old, { force: true })
  }

  private async mutate(change: (data: ChecksFile) => void): Promise<void> {
    await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      change(data)
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n')
    })
  }

  private async read(): Promise<ChecksFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, checks: [] }
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new StateError('STATE_CORRUPT', `${this.file} is not valid JSON; Lifeboat has not changed it. Remove it to forget the health-check results.`, { file: this.file }, { cause: err })
    }
    const parsed = FileSchema.safeParse(json)
    if (!parsed.success) throw new StateError('STATE_CORRUPT', `${this.file} does not have the expected layout; Lifeboat has not changed it.`, { file: this.file })
    return parsed.data
  }
}
