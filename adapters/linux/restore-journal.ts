import { z } from 'zod'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { jobTag, LOCK_DIR, lockPath } from './job-lock'
import { ACTIVE_STATES, Virsh } from './virsh'

/**
 * An in-place restore swaps files a VM cannot live without: each original disk is renamed aside, the restored one
 * moved into its place, and only once the domain is defined again are the originals deleted. A Lifeboat killed in
 * between leaves the VM with some disks swapped and some not — or with a disk missing. The journal on the host says
 * which files are whose and whether the restore had committed, so the leftovers check can finish the job exactly:
 * put every original back (not committed) or delete the replaced originals (committed). Nothing in it is trusted
 * beyond what this schema allows; the paths are only used if they are the ones the names below derive from.
 */
export const JournalSchema = z.object({
  format: z.literal('lifeboat-inplace-restore'),
  job: z.string().regex(/^[0-9a-f-]{36}$/),
  dom: z.string().regex(/^[0-9a-f-]{36}$/),
  vm: z.string().max(400),
  /** The domain's inactive XML before the restore, defined again when the originals are put back. */
  xml: z.string().max(16 * 1024 * 1024),
  disks: z.array(z.object({ target: z.string().max(64), source: z.string().regex(/^\/[^\n\0]{1,4000}$/) })).max(64),
  committed: z.boolean(),
})
export type RestoreJournal = z.infer<typeof JournalSchema>

export const journalPath = (job: string): string => `${LOCK_DIR}/${jobTag(job)}.inplace`
/** The restored disk while it is written, beside the original (and its qcow2 form). */
export const partPath = (source: string, job: string): string => `${source}.${jobTag(job)}.restore`
/** The original disk while the restored one takes its place. */
export const asidePath = (source: string, job: string): string => `${source}.${jobTag(job)}.old`

/** Writes the journal whole (temp file, then rename): a kill never leaves half a journal. */
export async function writeJournal(shell: RootShell, journal: RestoreJournal, signal: AbortSignal): Promise<void> {
  const path = journalPath(journal.job)
  const text = JSON.stringify(JournalSchema.parse(journal))
  await shell.run(sh`cat > ${`${path}.tmp`} && mv -f -- ${`${path}.tmp`} ${path}`, { signal, stdin: text, what: 'Writing the restore journal' })
}

export async function removeJournal(shell: RootShell, job: string, signal: AbortSignal): Promise<void> {
  await shell.run(sh`rm -f -- ${journalPath(job)} ${`${journalPath(job)}.tmp`}`, { signal, what: 'Removing the restore journal' })
}

/** A journal as read back from the host, or undefined for anything that is not one this version wrote. */
export function parseJournal(text: string, job: string): RestoreJournal | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = JournalSchema.safeParse(value)
  return parsed.success && parsed.data.job === job ? parsed.data : undefined
}

/**
 * Finishes what an interrupted in-place restore left, as its journal says. Not committed: each original that is
 * aside goes back over whatever took its place, the half-written restored files go, and the domain gets its old
 * definition back (only while it is shut off: a running VM is not Lifeboat's to change). Committed: the replaced
 * originals are deleted. Throws with what it could not do; the journal stays until everything is done.
 */
export async function settleJournal(shell: RootShell, journal: RestoreJournal, signal: AbortSignal): Promise<void> {
  const { job } = journal
  if (!journal.committed) {
    const virsh = new Virsh(shell)
    const state = await virsh.exec(['domstate', journal.dom], { signal })
    const exists = state.code === 0
    if (exists && ACTIVE_STATES.includes(state.stdout.trim())) throw new Error(`${journal.vm} is ${state.stdout.trim()}: shut it down first, then clean again to put its original disks back.`)
    for (const d of journal.disks) {
      const script = 'old=$1; src=$2; part=$3; if [ -e "$old" ]; then mv -f -- "$old" "$src" || exit 1; fi; rm -f -- "$part" "$part.qcow2"'
      await shell.run(sh`sh -c ${script} lifeboat-putback ${asidePath(d.source, job)} ${d.source} ${partPath(d.source, job)}`, { signal, what: `Putting the original ${d.target} of ${journal.vm} back` })
    }
    if (exists) await virsh.run(['define', '/dev/stdin'], { signal, stdin: journal.xml })
  } else {
    for (const d of journal.disks) await shell.run(sh`rm -f -- ${asidePath(d.source, job)}`, { signal, what: `Removing the replaced original ${d.target} of ${journal.vm}` })
  }
  await removeJournal(shell, job, signal)
  // The killed restore's job lock file (its flock ended with the connection; only the empty file is left).
  await shell.run(sh`rm -f -- ${lockPath(job)}`, { signal, what: 'Removing the lock file of the restore' })
}
