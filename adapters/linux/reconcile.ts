import { posix } from 'node:path'
import { z } from 'zod'
import type { Leftover } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { raw, sh } from '../ssh/shell-quote'
import { CHECK_SCRATCH_ROOT, checkJobOf, checkScratchDir } from './check-domain'
import { deleteCheckpoint } from './checkpoints'
import { discardRun } from './instant-run-manage'
import { readRunRecord } from './instant-run-model'
import { parseDomainXml, type DomainDisk } from './domain-model'
import { jobTag, liveJobs, lockPath, TAG_PATTERN } from './job-lock'
import { journalPath, parseJournal, settleJournal, type RestoreJournal } from './restore-journal'
import { commitOverlays } from './overlays'
import { exportDir } from './snapshot-nbd'
import { Virsh } from './virsh'

type Action =
  | { readonly type: 'commit'; readonly dom: string; readonly vmName: string; readonly disk: DomainDisk; readonly overlay: string; readonly base: string }
  | { readonly type: 'end-backup'; readonly dom: string }
  | { readonly type: 'checkpoint'; readonly dom: string; readonly name: string }
  | { readonly type: 'rm'; readonly path: string }
  | { readonly type: 'nbd-session'; readonly path: string }
  | { readonly type: 'lvremove'; readonly lv: string }
  | { readonly type: 'subvolume'; readonly path: string }
  | { readonly type: 'check-vm'; readonly dom: string; readonly name: string }
  | { readonly type: 'inplace-journal'; readonly journal: RestoreJournal }
  | { readonly type: 'discard-run'; readonly name: string }

interface Found {
  readonly leftover: Leftover
  readonly action: Action
}

const LvsSchema = z.object({
  report: z
    .array(z.object({ lv: z.array(z.object({ lv_name: z.string(), vg_name: z.string(), lv_tags: z.string().optional(), origin: z.string().optional() })).max(100_000) }))
    .max(16),
})

const SCRIPT = raw(
  [
    'export LC_ALL=C',
    'V="virsh -q -c qemu:///system"',
    'if command -v virsh >/dev/null 2>&1; then',
    '  for u in $($V list --all --uuid 2>/dev/null | head -n 2000); do',
    '    printf "DOM %s %s\\n" "$u" "$($V dumpxml "$u" 2>/dev/null | head -c 1048576 | base64 -w0)"',
    '    printf "CPS %s %s\\n" "$u" "$($V checkpoint-list "$u" --name 2>/dev/null | head -n 1000 | base64 -w0)"',
    '    printf "JOB %s %s\\n" "$u" "$($V domjobinfo "$u" 2>/dev/null | head -c 65536 | base64 -w0)"',
    '    printf "BKP %s %s\\n" "$u" "$($V backup-dumpxml "$u" 2>/dev/null | head -c 65536 | base64 -w0)"',
    '  done',
    'fi',
    `for f in ${CHECK_SCRATCH_ROOT}/lifeboat-*; do [ -d "$f" ] && printf "CHK %s\\n" "$(printf %s "$f" | base64 -w0)"; done`,
    'for f in /var/tmp/lifeboat-*.inplace; do [ -f "$f" ] && printf "INP %s %s\\n" "$(printf %s "$f" | base64 -w0)" "$(head -c 17000000 "$f" | base64 -w0)"; done',
    'for f in /var/tmp/lifeboat-*; do [ -e "$f" ] && printf "TMP %s\\n" "$(printf %s "$f" | base64 -w0)"; done',
    'if command -v btrfs >/dev/null 2>&1; then findmnt -n -l -t btrfs -o TARGET 2>/dev/null | head -n 50 | while read -r m; do find "$m" -maxdepth 4 -name ".lifeboat-*" -inum 256 2>/dev/null | head -n 200 | while read -r f; do printf "SUB %s\\n" "$(printf %s "$f" | base64 -w0)"; done; done; fi',
    'if command -v lvs >/dev/null 2>&1; then printf "LVS %s\\n" "$(lvs --reportformat json -o lv_name,vg_name,lv_tags,origin 2>/dev/null | head -c 4194304 | base64 -w0)"; fi',
    'exit 0',
  ].join('\n'),
)

/**
 * Stops the qemu-nbd servers a snapshot-browsing session left (each named by a pid file in its folder, and killed
 * only when that process is qemu-nbd serving a socket in that folder: a reused pid is left alone), then removes it.
 */
const STOP_NBD_SESSION = [
  'd=$1',
  'pids=',
  'for p in "$d"/*.pid; do',
  '  [ -f "$p" ] || continue',
  '  pid=$(head -c 20 "$p" | tr -cd 0-9); [ -n "$pid" ] || continue',
  '  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qemu-nbd ] || continue',
  '  tr "\\000" "\\n" < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--socket=${p%.pid}.sock" || continue',
  '  kill "$pid" 2>/dev/null; pids="$pids $pid"',
  'done',
  'i=0; while [ -n "$pids" ] && [ $i -lt 50 ]; do alive=; for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done; pids=$alive; [ -n "$pids" ] && sleep 0.1; i=$((i+1)); done',
  'for pid in $pids; do kill -9 "$pid" 2>/dev/null; done',
  'rm -rf -- "$d"',
].join('\n')

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8')

async function scan(shell: RootShell, signal: AbortSignal): Promise<Found[]> {
  const out = await shell.run(sh`sh -c ${SCRIPT.text}`, { signal, timeoutMs: 300_000, maxOutputBytes: 128 * 1024 * 1024, what: 'Looking for leftovers' })
  const found: { action: Action; leftover: Omit<Leftover, 'safeToClean'> }[] = []
  const inUse = new Set<string>()
  const dirs = new Set<string>()
  const journals = new Map<string, RestoreJournal>()
  for (const line of out.split('\n')) {
    const [kind, a, b] = line.split(' ')
    if (kind === 'DOM' && a !== undefined && /^[0-9a-f-]{36}$/.test(a)) {
      let parsed
      try {
        parsed = parseDomainXml(b64(b))
      } catch {
        continue
      }
      const { info, root } = parsed
      const run = readRunRecord(root)
      if (run?.state === 'from-backup') {
        found.push({
          leftover: {
            id: `run:${a}`,
            kind: 'vm',
            description: `${info.name} runs from Lifeboat restore point ${run.pointId}, but no Lifeboat serves its disks any more (it pauses on its next read of the backup). Serve it again and resume it with \`lifeboat points run ${run.pointId} --host HOST --resume ${info.name}\`; cleaning discards it and everything written in it.`,
            vmId: a,
            vmName: info.name,
            jobId: run.runId,
          },
          action: { type: 'discard-run', name: info.name },
        })
      }
      const checkJob = checkJobOf(info.name)
      if (checkJob !== undefined) {
        found.push({
          leftover: { id: `vm:${a}`, kind: 'vm', description: `Temporary VM ${info.name} of a Lifeboat health check (job ${checkJob}); cleaning turns it off and removes its definition.`, vmId: a, vmName: info.name, jobId: checkJob },
          action: { type: 'check-vm', dom: a, name: info.name },
        })
      }
      for (const d of info.disks) {
        for (const p of [d.source, ...d.backing.map((x) => x.path)]) if (p !== undefined) inUse.add(p)
        if (d.source !== undefined && d.type === 'file') dirs.add(posix.dirname(d.source))
        const tag = d.source === undefined ? null : TAG_PATTERN.exec(posix.basename(d.source))
        const below = d.backing[0]
        const base = below?.path
        if (tag?.[1] !== undefined && d.source !== undefined && below !== undefined && base !== undefined) {
          // The disk as it was before the overlay: the base's kind and format, so an offline merge restores both.
          const original: DomainDisk = { ...d, source: base, type: below.type ?? (base.startsWith('/dev/') ? 'block' : 'file'), format: below.format ?? 'raw', backing: d.backing.slice(1) }
          found.push({
            leftover: { id: `overlay:${a}:${d.target}`, kind: 'overlay', description: `${info.name} disk ${d.target} runs on a Lifeboat overlay (${d.source}) left by job ${tag[1]}; cleaning merges it back into ${base}.`, vmId: a, vmName: info.name, jobId: tag[1] },
            action: { type: 'commit', dom: a, vmName: info.name, disk: original, overlay: d.source, base },
          })
        }
      }
    } else if (kind === 'CPS' && a !== undefined && /^[0-9a-f-]{36}$/.test(a)) {
      const names = b64(b).split('\n').map((l) => l.trim()).filter((l) => TAG_PATTERN.test(l))
      // The newest Lifeboat checkpoint is what the last restore point continues from; older ones are offered only.
      for (const name of names.slice(0, -1)) {
        found.push({ leftover: { id: `checkpoint:${a}:${name}`, kind: 'checkpoint', description: `Older Lifeboat checkpoint ${name} of domain ${a}; deleting it only makes an incremental from it impossible (that backup then reads whole disks).`, vmId: a, jobId: TAG_PATTERN.exec(name)?.[1] ?? '' }, action: { type: 'checkpoint', dom: a, name } })
      }
    } else if (kind === 'BKP' && a !== undefined && /^[0-9a-f-]{36}$/.test(a)) {
      const tag = TAG_PATTERN.exec(b64(b))
      if (tag?.[1] !== undefined) found.push({ leftover: { id: `backup-job:${a}`, kind: 'backup-job', description: `A Lifeboat backup job (${tag[1]}) still runs on domain ${a}; cleaning ends it.`, vmId: a, jobId: tag[1] }, action: { type: 'end-backup', dom: a } })
    } else if (kind === 'INP') {
      const path = b64(a)
      const tag = TAG_PATTERN.exec(path)
      const journal = tag?.[1] === undefined || path !== journalPath(tag[1]) ? undefined : parseJournal(b64(b), tag[1])
      if (journal !== undefined) journals.set(journal.job, journal)
    } else if (kind === 'TMP') {
      const path = b64(a)
      const tag = TAG_PATTERN.exec(path)
      // In-place restore journals are read whole (INP) and settled, never just deleted.
      if (tag?.[1] !== undefined && path === journalPath(tag[1])) continue
      // The lock file of a restore that left a journal goes when the journal is settled (printed before these lines).
      if (tag?.[1] !== undefined && path === lockPath(tag[1]) && journals.has(tag[1])) continue
      if (tag?.[1] !== undefined && path === exportDir(tag[1])) {
        found.push({ leftover: { id: `file:${path}`, kind: 'file', description: `Snapshot-browsing folder ${path} of Lifeboat session ${tag[1]}; cleaning stops the qemu-nbd servers it names and removes it.`, jobId: tag[1] }, action: { type: 'nbd-session', path } })
      } else if (tag?.[1] !== undefined && path.startsWith('/var/tmp/lifeboat-') && !path.includes('/../')) {
        found.push({ leftover: { id: `file:${path}`, kind: 'file', description: `Temporary Lifeboat file ${path} (job ${tag[1]}).`, jobId: tag[1] }, action: { type: 'rm', path } })
      }
    } else if (kind === 'CHK') {
      const path = b64(a)
      const job = checkJobOf(posix.basename(path))
      if (job !== undefined && path === checkScratchDir(job)) {
        found.push({ leftover: { id: `file:${path}`, kind: 'file', description: `Disks of the temporary VM of Lifeboat health check ${job} (folder ${path}).`, jobId: job }, action: { type: 'rm', path } })
      }
    } else if (kind === 'SUB') {
      const path = b64(a)
      const tag = TAG_PATTERN.exec(posix.basename(path))
      if (tag?.[1] !== undefined && posix.basename(path).startsWith('.lifeboat-')) {
        found.push({ leftover: { id: `subvolume:${path}`, kind: 'subvolume', description: `Read-only btrfs snapshot ${path} left by Lifeboat job ${tag[1]}.`, jobId: tag[1] }, action: { type: 'subvolume', path } })
      }
    } else if (kind === 'LVS') {
      const parsed = LvsSchema.safeParse(safeJson(b64(a)))
      if (!parsed.success) continue
      for (const lv of parsed.data.report.flatMap((r) => r.lv)) {
        const tag = TAG_PATTERN.exec(lv.lv_name) ?? TAG_PATTERN.exec(lv.lv_tags ?? '')
        if (tag?.[1] === undefined || (lv.origin ?? '') === '') continue
        const name = `${lv.vg_name}/${lv.lv_name}`
        found.push({ leftover: { id: `lv:${name}`, kind: 'lv-snapshot', description: `LVM snapshot ${name} of ${lv.origin ?? ''} left by Lifeboat job ${tag[1]}.`, jobId: tag[1] }, action: { type: 'lvremove', lv: name } })
      }
    }
  }
  // Overlay files beside the disks that no domain uses any more.
  const dirList = [...dirs].filter((d) => d.startsWith('/')).slice(0, 200)
  if (dirList.length > 0) {
    const files = await shell.run(sh`sh -c ${'for d in "$@"; do for f in "$d"/*.lifeboat-*; do [ -f "$f" ] && printf "%s\\n" "$(printf %s "$f" | base64 -w0)"; done; done; exit 0'} lifeboat-scan ${dirList}`, { signal, timeoutMs: 120_000, maxOutputBytes: 16 * 1024 * 1024 })
    for (const line of files.split('\n')) {
      const path = b64(line.trim())
      const tag = TAG_PATTERN.exec(posix.basename(path))
      if (tag?.[1] === undefined || inUse.has(path)) continue
      const job = tag[1]
      const journal = journals.get(job)
      const original = path.endsWith(`.${jobTag(job)}.old`) ? path.slice(0, -`.${jobTag(job)}.old`.length) : undefined
      const restored = /\.restore(\.qcow2)?$/.test(path) && path.includes(`.${jobTag(job)}.restore`)
      // What an in-place restore set aside or half wrote is its journal's to settle (below); without a journal, an
      // original set aside belongs to a restore that had committed (the journal goes only then), and a half-written
      // disk to one that never swapped anything.
      if (journal !== undefined && (original !== undefined || restored)) continue
      const description =
        original !== undefined
          ? `The original disk ${original} as it was before in-place restore ${job} replaced it (the restore finished; this copy was not deleted). Cleaning deletes it.`
          : restored
            ? `A half-written disk ${path} of in-place restore ${job}, stopped before it replaced anything (the VM's own disk is untouched).`
            : `Unused Lifeboat overlay file ${path} (job ${job}).`
      found.push({ leftover: { id: `file:${path}`, kind: 'file', description, jobId: job }, action: { type: 'rm', path } })
    }
  }
  for (const journal of journals.values()) {
    const names = journal.disks.map((d) => d.target).join(', ')
    const description = journal.committed
      ? `In-place restore ${journal.job} of ${journal.vm} finished, but the original disks it replaced (${names}) were not all deleted; cleaning deletes them.`
      : `In-place restore ${journal.job} of ${journal.vm} was interrupted while it swapped disks (${names}): the VM may have some disks restored and some not, or one missing. Cleaning puts every original disk back and the VM's definition as it was (the VM must be shut off).`
    found.push({ leftover: { id: `restore:${journal.job}`, kind: 'file', description, vmId: journal.dom, vmName: journal.vm, jobId: journal.job }, action: { type: 'inplace-journal', journal } })
  }
  const live = await liveJobs(shell, found.map((f) => f.leftover.jobId ?? ''), signal)
  // A run that a Lifeboat serves is no leftover; one nobody serves holds the admin's writes: offered, never cleaned unasked.
  return found
    .filter((f) => f.action.type !== 'discard-run' || !live.has(f.leftover.jobId ?? ''))
    .map((f) => ({
      action: f.action,
      leftover: { ...f.leftover, safeToClean: f.leftover.kind !== 'checkpoint' && f.action.type !== 'discard-run' && !live.has(f.leftover.jobId ?? '') },
    }))
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

export async function findLeftovers(shell: RootShell, signal: AbortSignal): Promise<Leftover[]> {
  return (await scan(shell, signal)).map((f) => f.leftover)
}

/** Cleans leftovers by id — only ids a fresh scan still finds, so a stale or forged id does nothing. */
export async function cleanLeftovers(shell: RootShell, ids: readonly string[], signal: AbortSignal): Promise<{ cleaned: string[]; failed: { id: string; reason: string }[] }> {
  const wanted = new Set(ids)
  const cleaned: string[] = []
  const failed: { id: string; reason: string }[] = []
  const virsh = new Virsh(shell)
  // Backup jobs first (they hold files open), then overlays, then files that are no longer in use.
  const order: Action['type'][] = ['inplace-journal', 'end-backup', 'discard-run', 'check-vm', 'nbd-session', 'commit', 'checkpoint', 'lvremove', 'subvolume', 'rm']
  const found = (await scan(shell, signal)).filter((f) => wanted.has(f.leftover.id)).sort((x, y) => order.indexOf(x.action.type) - order.indexOf(y.action.type))
  for (const { leftover, action } of found) {
    try {
      switch (action.type) {
        case 'end-backup':
          await virsh.run(['domjobabort', action.dom], { signal })
          break
        case 'commit': {
          // Merged as a backup's own cleanup merges: live when the domain runs, with qemu-img while it is off.
          const left = await commitOverlays(virsh, action.dom, action.vmName, [{ disk: action.disk, base: action.base, overlay: action.overlay }], signal)
          if (left[0] !== undefined) throw new Error(left[0])
          break
        }
        case 'checkpoint': {
          const l = await deleteCheckpoint(virsh, action.dom, action.name, signal)
          if (l !== undefined) throw new Error(l)
          break
        }
        case 'lvremove':
          await shell.run(sh`lvremove -f ${action.lv}`, { signal, what: 'lvremove' })
          break
        case 'subvolume':
          await shell.run(sh`btrfs subvolume delete ${action.path}`, { signal, what: 'btrfs subvolume delete' })
          break
        case 'rm':
          await shell.run(sh`rm -rf -- ${action.path}`, { signal })
          break
        case 'check-vm':
          await removeCheckVm(virsh, action.dom, action.name, signal)
          break
        case 'inplace-journal':
          await settleJournal(shell, action.journal, signal)
          break
        case 'discard-run': {
          const { leftBehind } = await discardRun(shell, action.name, signal)
          if (leftBehind.length > 0) throw new Error(leftBehind.join(' '))
          break
        }
        case 'nbd-session':
          await shell.run(sh`sh -c ${STOP_NBD_SESSION} lifeboat-clean ${action.path}`, { signal, timeoutMs: 60_000, what: 'Stopping a snapshot server' })
          break
      }
      cleaned.push(leftover.id)
    } catch (err) {
      failed.push({ id: leftover.id, reason: err instanceof Error ? err.message : String(err) })
    }
  }
  for (const id of ids) if (!found.some((f) => f.leftover.id === id)) failed.push({ id, reason: 'not found any more' })
  return { cleaned, failed }
}

/** Turns a health check's temporary VM off and removes its definition and QEMU log (its disks are a leftover of their own). */
async function removeCheckVm(virsh: Virsh, dom: string, name: string, signal: AbortSignal): Promise<void> {
  await virsh.exec(['destroy', dom], { signal })
  const r = await virsh.exec(['undefine', dom, '--nvram'], { signal })
  if (r.code !== 0) await virsh.run(['undefine', dom], { signal })
  await virsh.shell.run(sh`rm -f -- ${`/var/log/libvirt/qemu/${name}.log`}`, { signal })
}
