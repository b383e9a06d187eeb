import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from './atomic-file'
import { withFileLock } from './file-lock'
import { StateError } from './state-error'

export const SavedHostSchema = z.object({
  id: z.string().min(1).max(64),
  kind: z.enum(['linux', 'hyperv', 'xenserver']),
  name: z.string().min(1).max(100),
  address: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  user: z.string().min(1).max(255),
  authType: z.enum(['password', 'key']),
  fingerprint: z.string().min(1).max(200),
  fingerprintType: z.string().max(100),
  addedAt: z.string(),
  identity: z
    .object({ hostname: z.string().max(255), os: z.string().max(255).optional(), version: z.string().max(255).optional() })
    .optional(),
})
export type SavedHost = z.infer<typeof SavedHostSchema>

const HostsFileSchema = z.object({ version: z.literal(1), hosts: z.array(SavedHostSchema).max(10_000) })
type HostsFile = z.infer<typeof HostsFileSchema>

/** The saved hosts (no secrets: those live in the SecretStore). Safe against concurrent Lifeboat processes. */
export class HostsStore {
  constructor(private readonly file: string) {}

  async list(): Promise<SavedHost[]> {
    return (await this.read()).hosts
  }

  async get(id: string): Promise<SavedHost | undefined> {
    return (await this.list()).find((h) => h.id === id)
  }

  /** Finds by id, or by name (case-insensitive): the CLI lets admins say `--host web01`. */
  async find(idOrName: string): Promise<SavedHost | undefined> {
    const hosts = await this.list()
    return hosts.find((h) => h.id === idOrName) ?? hosts.find((h) => h.name.toLowerCase() === idOrName.toLowerCase())
  }

  /** Adds a host; `check` runs inside the lock so two processes cannot add the same name at once. */
  async add(record: SavedHost, check?: (existing: readonly SavedHost[]) => void): Promise<void> {
    await this.mutate((data) => {
      check?.(data.hosts)
      data.hosts.push(SavedHostSchema.parse(record))
    })
  }

  async update(id: string, patch: Partial<Omit<SavedHost, 'id'>>): Promise<SavedHost | undefined> {
    let updated: SavedHost | undefined
    await this.mutate((data) => {
      const i = data.hosts.findIndex((h) => h.id === id)
      const current = data.hosts[i]
      if (current === undefined) return
      updated = SavedHostSchema.parse({ ...current, ...patch })
      data.hosts[i] = updated
    })
    return updated
  }

  async remove(id: string): Promise<SavedHost | undefined> {
    let removed: SavedHost | undefined
    await this.mutate((data) => {
      const i = data.hosts.findIndex((h) => h.id === id)
      if (i >= 0) removed = data.hosts.splice(i, 1)[0]
    })
    return removed
  }

  private async mutate(change: (data: HostsFile) => void): Promise<void> {
    await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read()
      change(data)
      await writeFileAtomic(this.file, JSON.stringify(data, null, 2) + '\n')
    })
  }

  private async read(): Promise<HostsFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, hosts: [] }
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new StateError('STATE_CORRUPT', `${this.file} is not valid JSON; Lifeboat has not changed it. Restore it from a copy or remove it to start over.`, { file: this.file }, { cause: err })
    }
    const parsed = HostsFileSchema.safeParse(json)
    if (!parsed.success) {
      const first = parsed.error.issues[0]
      throw new StateError(
        'STATE_CORRUPT',
        `${this.file} does not have the expected layout (${first ? `${first.path.join('.')}: ${first.message}` : 'unknown problem'}); Lifeboat has not changed it.`,
        { file: this.file },
      )
    }
    return parsed.data
  }
}
