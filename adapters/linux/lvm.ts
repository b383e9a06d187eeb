import { z } from 'zod'
import { AdapterError, type RemoteFile } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { jobTag } from './job-lock'

const LvSchema = z.object({
  lv_name: z.string().max(128),
  vg_name: z.string().max(128),
  lv_path: z.string().max(4096).optional(),
  lv_dm_path: z.string().max(4096).optional(),
  lv_size: z.string().max(32).optional(),
  lv_attr: z.string().max(16).optional(),
  data_percent: z.string().max(16).optional(),
  lv_snapshot_invalid: z.string().max(64).optional(),
})
const ReportSchema = z.object({ report: z.array(z.object({ lv: z.array(LvSchema).max(100_000) })).max(16) })
export type LvInfo = z.infer<typeof LvSchema>

export async function lvsReport(shell: RootShell, fields: readonly string[], target: string | undefined, signal: AbortSignal): Promise<LvInfo[]> {
  const out = await shell.run(sh`lvs --reportformat json --units b --nosuffix -o ${fields.join(',')} ${target === undefined ? [] : [target]}`, { signal, timeoutMs: 60_000, maxOutputBytes: 16 * 1024 * 1024, what: 'lvs' })
  let json: unknown
  try {
    json = JSON.parse(out)
  } catch {
    throw new AdapterError('BAD_RESPONSE', 'lvs printed something that is not JSON.')
  }
  const r = ReportSchema.safeParse(json)
  if (!r.success) throw new AdapterError('BAD_RESPONSE', `lvs printed an unexpected report (${r.error.issues[0]?.message ?? ''}).`)
  return r.data.report.flatMap((x) => x.lv)
}

export interface LvSnapshot {
  readonly name: string
  readonly path: string
  readonly cowBytes: number
}

/**
 * `lvcreate -s` of an LV, tagged and named after the job. Its copy-on-write space is the larger of the admin's change
 * budget (percent of the LV, default 20 %) and a byte count, at least 16 MiB: the writes the VM may make while the
 * snapshot is read. When they overflow, dm-snapshot invalidates the snapshot and the backup fails (see watch()).
 */
export async function createLvSnapshot(shell: RootShell, lv: LvInfo, jobId: string, budget: { percent?: number; bytes?: number } | undefined, signal: AbortSignal): Promise<LvSnapshot> {
  const size = Number(lv.lv_size ?? '0')
  const percent = Math.min(100, Math.max(1, budget?.percent ?? 20))
  const bytes = Math.max(16 * 1024 * 1024, Math.ceil((size * percent) / 100), budget?.bytes ?? 0)
  const mib = Math.ceil(bytes / (1024 * 1024))
  const name = `${lv.lv_name.slice(0, 80)}.${jobTag(jobId)}`
  await shell.run(sh`lvcreate -s -n ${name} -L ${`${mib}m`} --addtag ${jobTag(jobId)} ${`${lv.vg_name}/${lv.lv_name}`}`, { signal, timeoutMs: 120_000, what: 'lvcreate -s' })
  const [made] = await lvsReport(shell, ['lv_name', 'vg_name', 'lv_path'], `${lv.vg_name}/${name}`, signal)
  return { name: `${lv.vg_name}/${name}`, path: made?.lv_path ?? `/dev/${lv.vg_name}/${name}`, cowBytes: mib * 1024 * 1024 }
}

/** Why the snapshot can no longer be trusted, or undefined while it is valid. Warns once past 80 % use. */
export async function snapshotProblem(shell: RootShell, snap: LvSnapshot, signal: AbortSignal, warn: (message: string) => void, warned: { done: boolean }): Promise<string | undefined> {
  const [info] = await lvsReport(shell, ['lv_name', 'vg_name', 'lv_attr', 'data_percent', 'lv_snapshot_invalid'], snap.name, signal)
  if (info === undefined) return `the LVM snapshot ${snap.name} disappeared while it was read`
  const percent = Number(info.data_percent ?? '0')
  const invalid = (info.lv_attr ?? '')[4] === 'I' || (info.lv_snapshot_invalid ?? '') !== '' || percent >= 100
  if (invalid) {
    return `the LVM snapshot ${snap.name} overflowed: the VM wrote more than its change budget (${Math.round(snap.cowBytes / 1024 / 1024)} MiB) while it was read, so what was read cannot be trusted. Raise the change budget or back up at a quieter time`
  }
  if (percent > 80 && !warned.done) {
    warned.done = true
    warn(`The LVM snapshot ${snap.name} is ${percent.toFixed(1)} % full; if it overflows, the backup fails.`)
  }
  return undefined
}

/**
 * A snapshot LV that is checked while it is read: every few seconds during the stream and once after the last byte.
 * An overflow fails the read loudly — reading on would hand the repository garbage.
 */
export function watchedLv(shell: RootShell, file: RemoteFile, snap: LvSnapshot, warn: (message: string) => void): RemoteFile {
  const warned = { done: false }
  const check = async (signal?: AbortSignal) => {
    const problem = await snapshotProblem(shell, snap, signal ?? AbortSignal.timeout(60_000), warn, warned)
    if (problem !== undefined) throw new AdapterError('COMMAND_FAILED', `The backup failed: ${problem}.`, { reason: 'snapshot-overflow' })
  }
  return {
    path: file.path,
    size: file.size,
    label: file.label,
    async readRange(offset, length, signal) {
      const data = await file.readRange(offset, length, signal)
      await check(signal)
      return data
    },
    async *stream(offset, length, signal) {
      let last = Date.now()
      try {
        for await (const chunk of file.stream(offset, length, signal)) {
          yield chunk
          if (Date.now() - last > 2000) {
            last = Date.now()
            await check(signal)
          }
        }
      } catch (err) {
        // A read error of an overflowed snapshot (EIO) is explained by the overflow.
        await check(signal)
        throw err
      }
      await check(signal)
    },
    close: () => file.close(),
  }
}

export async function removeLvSnapshot(shell: RootShell, snap: LvSnapshot, signal: AbortSignal): Promise<string | undefined> {
  const r = await shell.exec(sh`lvremove -f ${snap.name}`, { signal, timeoutMs: 120_000 })
  if (r.code === 0 || /Failed to find logical volume/.test(r.stderr)) return undefined
  return `The LVM snapshot ${snap.name} could not be removed (${r.stderr.trim().slice(0, 200)}); remove it with: lvremove -f ${snap.name}`
}
