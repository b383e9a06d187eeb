import { randomUUID } from 'node:crypto'
import { posix } from 'node:path'
import { z } from 'zod'
import { retrying } from '../cleanup-retry'
import { AdapterError, type RestoreDiskInput, type RestoreRequest, type RestoreResult } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { withUndo } from '../undo-stack'
import { checkJobId, holdJobLock } from './job-lock'
import { asidePath, partPath, removeJournal, writeJournal, type RestoreJournal } from './restore-journal'
import { uploadDisk } from './disk-upload'
import { checkDiskName, checkHostDir } from './host-names'
import { confineRestoredDomain } from './restore-confine'
import { parseDomainXml } from './domain-model'
import type { ShellProvider } from './libvirt-prepare'
import { ACTIVE_STATES, Virsh } from './virsh'
import { child, childElements, removeChildren, serializeXml, type XmlElement } from './xml'

const ConfigSchema = z.object({ kind: z.literal('libvirt'), name: z.string(), uuid: z.string(), xml: z.string().max(16 * 1024 * 1024) })
const DEFAULT_IMAGE_DIR = '/var/lib/libvirt/images'
const LOG_DIR = '/var/log/libvirt/qemu'

/**
 * Restores a libvirt restore point onto a host. As a new VM (the default): disks are written as new files (sparse;
 * converted to qcow2 on the host when the original was qcow2 and qemu-img is there), the recorded domain XML gets the
 * new name, no UUID and no MAC addresses (libvirt makes fresh ones, so the copy never collides with the original), its
 * disks point at the new files, and it is defined (and started if asked). In place: only with the VM shut off; each
 * disk is written beside its image and moved over it at the end. Nothing existing is overwritten by a new-VM restore;
 * a failed or cancelled restore removes the files and definition it made (each registered for removal right after it
 * was made) and nothing else. Disk names and folders from the restore point are checked before they become paths.
 */
export async function restoreLibvirtVm(getShell: ShellProvider, request: RestoreRequest, signal: AbortSignal, options: AsNewOptions = {}): Promise<RestoreResult> {
  const parsed = ConfigSchema.safeParse(request.vmConfig)
  if (!parsed.success) throw new AdapterError('NOT_SUPPORTED', 'This restore point was not made from a libvirt domain; it cannot be restored as one.')
  const shell = await getShell(signal)
  const virsh = new Virsh(shell)
  const hasQemuImg = (await shell.exec(sh`command -v qemu-img`, { signal })).code === 0
  return request.inPlace ? await inPlace(getShell, shell, virsh, request, hasQemuImg, signal) : await asNew(shell, virsh, parsed.data.xml, request, options.rawDisks === true ? false : hasQemuImg, signal, options)
}

/** How a restore as a new VM may be bent for a temporary VM (a health check's): its own last word on the XML. */
export interface AsNewOptions {
  /** Runs on the confined domain XML just before it is defined (after the disks point at the new files). */
  readonly adjust?: (root: XmlElement) => void
  /** Keep every disk raw (no qcow2 conversion): a file that lives for minutes is not worth converting. */
  readonly rawDisks?: boolean
  /**
   * Makes each disk's qcow2 file itself instead of writing the restore point into it (instant recovery: an overlay
   * over the served backup). The file was created empty and exclusively, and is removed if the restore fails.
   */
  readonly placeDisk?: (disk: { readonly target: string; readonly input: RestoreDiskInput; readonly path: string }, signal: AbortSignal) => Promise<void>
}

function diskElements(root: XmlElement): XmlElement[] {
  return childElements(child(root, 'devices') ?? root, 'disk').filter((d) => (d.attrs.device ?? 'disk') === 'disk' || d.attrs.device === 'lun')
}

async function asNew(shell: RootShell, virsh: Virsh, xml: string, request: RestoreRequest, hasQemuImg: boolean, signal: AbortSignal, options: AsNewOptions): Promise<RestoreResult> {
  if (!/^[^/\n\0]{1,200}$/.test(request.name)) throw new AdapterError('BAD_RESPONSE', 'A VM name must be 1-200 characters without "/" or line breaks.')
  const storageDir = request.storageDir === undefined ? undefined : checkHostDir(request.storageDir, 'The folder for the restored disks')
  const exists = await virsh.exec(['domuuid', request.name], { signal })
  if (exists.code === 0) throw new AdapterError('COMMAND_FAILED', `${shell.conn.label} already has a VM named "${request.name}"; pick another name (--as NAME).`, { vm: request.name })
  const { root } = parseDomainXml(xml)
  const nameEl = child(root, 'name')
  if (nameEl) nameEl.children = [request.name]
  removeChildren(root, 'uuid')
  for (const nic of childElements(child(root, 'devices') ?? root, 'interface')) removeChildren(nic, 'mac')
  const fileSafe = request.name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.-]/, '_').slice(0, 80)
  separateHostPaths(root, fileSafe)
  const confined = confineRestoredDomain(root)
  // Every disk name becomes part of a file name: all are checked before anything is written.
  for (const el of diskElements(root)) checkDiskName(child(el, 'target')?.attrs.dev ?? '')
  for (const f of confined.hostFiles) {
    if ((await shell.exec(sh`test -f ${f.path}`, { signal })).code !== 0) {
      throw new AdapterError('NOT_FOUND', `${f.what} is ${f.path}, which is not a file on ${shell.conn.label}; copy it there first (or restore the disks alone as files). Nothing was written.`, { path: f.path })
    }
  }
  for (const w of confined.warnings) request.log('warn', w)
  const disks: { name: string; path: string; format: string }[] = []
  const total = request.disks.reduce((s, d) => s + d.size, 0)
  let before = 0
  return await withUndo(signal, async (stack) => {
    const created = (path: string) => stack.push(`remove ${path}`, (s) => removeFile(shell, path, s))
    for (const el of diskElements(root)) {
      const target = child(el, 'target')?.attrs.dev ?? ''
      const input = request.disks.find((d) => d.name === target)
      if (input === undefined) {
        request.log('warn', `Disk ${target} is not in the restore point; the restored VM will not have it.`)
        const devices = child(root, 'devices')
        if (devices) devices.children = devices.children.filter((x) => x !== el)
        continue
      }
      const originalFormat = child(el, 'driver')?.attrs.type ?? 'raw'
      const format = options.placeDisk !== undefined || (originalFormat === 'qcow2' && hasQemuImg) ? 'qcow2' : 'raw'
      const originalSource = child(el, 'source')?.attrs.file
      const beside = originalSource !== undefined && el.attrs.type === 'file' ? checkHostDir(posix.dirname(originalSource), `The folder of disk ${target} in the restore point`) : DEFAULT_IMAGE_DIR
      const dir = storageDir ?? (await usableDir(shell, beside, signal))
      const final = posix.join(dir, `${fileSafe}-${target}.${format}`)
      const part = format === 'raw' || options.placeDisk !== undefined ? final : `${final}.lifeboat-part`
      // Created exclusively (never over an existing file), and only then registered for removal: a failed restore
      // removes what it made and nothing else.
      await createExclusive(shell, final, signal)
      created(final)
      let partFile: ReturnType<typeof created> | undefined
      if (part !== final) {
        await createExclusive(shell, part, signal)
        partFile = created(part)
      }
      if (options.placeDisk !== undefined) await options.placeDisk({ target, input, path: final }, signal)
      else {
        request.phase('writing disk', `${target} → ${final}`)
        const base = before
        await uploadDisk(shell, input.source, part, { fresh: true, signal, progress: (done) => request.progress(base + done, total, target) })
      }
      before += input.size
      if (partFile !== undefined) {
        request.phase('converting', `${target} to qcow2`)
        await shell.run(sh`qemu-img convert -q -f raw -O qcow2 ${part} ${final}`, { signal, timeoutMs: 6 * 3600_000, what: 'qemu-img convert' })
        await shell.run(sh`rm -f -- ${part}`, { signal })
        partFile.done()
      }
      el.attrs.type = 'file'
      // The recorded source (and whatever it held: network hosts, auth, labels) and any block-copy mirror go.
      el.children = el.children.filter((c) => typeof c === 'string' || (c.name !== 'source' && c.name !== 'mirror'))
      el.children.push({ name: 'source', attrs: { file: final }, children: [] })
      const driver = child(el, 'driver')
      if (driver) driver.attrs.type = format
      else el.children.push({ name: 'driver', attrs: { name: 'qemu', type: format }, children: [] })
      removeChildren(el, 'backingStore')
      disks.push({ name: target, path: final, format })
    }
    options.adjust?.(root)
    request.phase('defining', request.name)
    await virsh.run(['define', '/dev/stdin'], { signal, stdin: serializeXml(root) })
    stack.push(`undefine ${request.name}`, async (s) => {
      const r = await virsh.exec(['undefine', request.name], { signal: s })
      return r.code === 0 ? undefined : `The restored VM "${request.name}" is still defined: ${r.stderr.trim().slice(0, 200)}. Remove it with: virsh undefine NAME`
    })
    const uuid = (await virsh.run(['domuuid', request.name], { signal })).trim().toLowerCase()
    let started = false
    if (request.start) {
      request.phase('starting', request.name)
      await virsh.run(['start', uuid], { signal })
      started = true
    }
    return { vmId: uuid, name: request.name, disks, started, leftBehind: [] }
  })
}

/** Creates an empty file, failing when anything is already at that path (the shell's noclobber). */
async function createExclusive(shell: RootShell, path: string, signal: AbortSignal): Promise<void> {
  const r = await shell.exec(sh`sh -c ${'set -C; : > "$1"'} lifeboat-create ${path}`, { signal, timeoutMs: 30_000 })
  if (r.code !== 0) throw new AdapterError('COMMAND_FAILED', `${path} could not be created on ${shell.conn.label} (${r.stderr.trim().slice(0, 200) || 'it already exists'}); Lifeboat never overwrites a file. Choose another name or folder.`, { path })
}

/** Removes a file Lifeboat made; one failed command (a lost answer, a busy host) is tried again before reporting. */
async function removeFile(shell: RootShell, path: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    await retrying(
      async () => {
        const r = await shell.exec(sh`rm -f -- ${path}`, { signal, timeoutMs: 60_000 }).catch((err: unknown) => ({ code: null, stderr: String(err) }))
        if (r.code !== 0) throw new Error(r.stderr.trim().slice(0, 200))
      },
      { times: 2, delayMs: () => (signal.aborted ? 0 : 1000) },
    )
    return undefined
  } catch (err) {
    return `${path} could not be removed (${err instanceof Error ? err.message : String(err)}); delete it by hand.`
  }
}

/**
 * Character devices that name host files or sockets (serial console logs, agent channels) would collide with the
 * original VM on the same host: log files get names of their own, unix sockets are left for libvirt to choose.
 */
function separateHostPaths(root: XmlElement, fileSafe: string): void {
  let n = 0
  for (const kind of ['serial', 'console', 'parallel', 'channel']) {
    for (const dev of childElements(child(root, 'devices') ?? root, kind)) {
      const source = child(dev, 'source')
      const log = child(dev, 'log')
      if (dev.attrs.type === 'file' && source?.attrs.path !== undefined) source.attrs.path = posix.join(LOG_DIR, `${fileSafe}-${kind}${n++}.log`)
      if (dev.attrs.type === 'unix' && source?.attrs.path !== undefined) delete source.attrs.path
      if (log?.attrs.file !== undefined) log.attrs.file = posix.join(LOG_DIR, `${fileSafe}-${kind}${n++}-log.log`)
    }
  }
}

async function usableDir(shell: RootShell, dir: string, signal: AbortSignal): Promise<string> {
  if ((await shell.exec(sh`test -d ${dir}`, { signal })).code === 0) return dir
  if ((await shell.exec(sh`test -d ${DEFAULT_IMAGE_DIR}`, { signal })).code === 0) return DEFAULT_IMAGE_DIR
  throw new AdapterError('NOT_FOUND', `Neither ${dir} nor ${DEFAULT_IMAGE_DIR} exists on ${shell.conn.label}; choose a folder for the restored disks.`)
}

/**
 * Overwrites a shut-off domain's disks with the restore point's. All or nothing for image files: every disk is first
 * written beside its image (`<image>.lifeboat-<job>.restore`, converted to qcow2 where the image was qcow2); only when
 * all are written is each original renamed aside (`<image>.lifeboat-<job>.old`) and the new one moved into its place,
 * and the originals are deleted once the domain is defined again. A failure or cancel before that point puts every
 * original back, so the VM is never left with some disks restored and others not. A Lifeboat killed in the middle
 * cannot do that itself: the job lock tells the leftovers check the restore is over, and its journal on the host
 * (restore-journal.ts) says which originals to put back, or — once the domain was defined — which to delete. Block
 * devices cannot be written aside: they are written last, directly, and a restore that stops while writing one says so.
 */
async function inPlace(getShell: ShellProvider, shell: RootShell, virsh: Virsh, request: RestoreRequest, hasQemuImg: boolean, signal: AbortSignal): Promise<RestoreResult> {
  const job = checkJobId(request.jobId ?? randomUUID())
  const dom = (await virsh.run(['domuuid', request.name], { signal })).trim().toLowerCase()
  const state = await virsh.domstate(dom, signal)
  if (ACTIVE_STATES.includes(state)) throw new AdapterError('COMMAND_FAILED', `${request.name} is ${state}; an in-place restore needs it shut off.`, { vm: request.name, state })
  const originalXml = await virsh.run(['dumpxml', '--inactive', dom], { signal })
  const { root, info } = parseDomainXml(originalXml)
  const targets = request.disks.map((input) => {
    const d = info.disks.find((x) => x.target === input.name)
    if (d?.source === undefined) throw new AdapterError('NOT_FOUND', `${request.name} has no disk ${input.name} to restore into. Nothing was written.`)
    return { input, disk: d, source: d.source }
  })
  const total = request.disks.reduce((s, d) => s + d.size, 0)
  let before = 0
  const disks: { name: string; path: string; format: string }[] = []
  const progressFrom = (name: string) => {
    const base = before
    return (done: number) => request.progress(base + done, total, name)
  }
  // Held for the whole restore, released after success and failure alike: the leftovers check leaves a restore alone
  // while it runs, and after a kill knows it is over.
  const lock = await holdJobLock(shell, job, signal, getShell)
  let result: RestoreResult
  try {
    result = await swapDisks()
  } catch (err) {
    await lock.release()
    throw err
  }
  return { ...result, leftBehind: [...result.leftBehind, ...(await lock.release())] }

  function swapDisks(): Promise<RestoreResult> {
    return withUndo(signal, async (stack) => {
      const ready: { name: string; source: string; file: string; done: () => void }[] = []
      for (const { input, disk, source } of targets.filter((t) => t.disk.type !== 'block')) {
        const format = disk.format === 'qcow2' && hasQemuImg ? 'qcow2' : 'raw'
        const part = partPath(source, job)
        request.phase('writing disk', `${input.name} → beside ${source}`)
        const raw = stack.push(`remove ${part}`, (s) => removeFile(shell, part, s))
        await uploadDisk(shell, input.source, part, { fresh: true, signal, progress: progressFrom(input.name) })
        before += input.size
        let file = part
        let written = raw
        if (format === 'qcow2') {
          const converted = stack.push(`remove ${part}.qcow2`, (s) => removeFile(shell, `${part}.qcow2`, s))
          request.phase('converting', `${input.name} to qcow2`)
          await shell.run(sh`qemu-img convert -q -f raw -O qcow2 ${part} ${part}.qcow2`, { signal, timeoutMs: 6 * 3600_000, what: 'qemu-img convert' })
          await shell.run(sh`rm -f -- ${part}`, { signal })
          raw.done()
          file = `${part}.qcow2`
          written = converted
        }
        ready.push({ name: input.name, source, file, done: () => written.done() })
        disks.push({ name: input.name, path: source, format })
        for (const el of diskElements(root)) {
          if (child(el, 'target')?.attrs.dev !== input.name) continue
          const driver = child(el, 'driver')
          if (driver) driver.attrs.type = format
          removeChildren(el, 'backingStore')
        }
      }
      for (const { input, source } of targets.filter((t) => t.disk.type === 'block')) {
        request.phase('writing disk', `${input.name} → ${source} (in place)`)
        const writing = stack.push(`overwrite ${source}`, () => `${input.name} (${source}) was being overwritten in place when the restore stopped: it now holds part of the restore point and part of what was there. Run the restore again before starting ${request.name}.`)
        await uploadDisk(shell, input.source, source, { fresh: false, signal, progress: progressFrom(input.name) })
        writing.done()
        before += input.size
        disks.push({ name: input.name, path: source, format: 'raw' })
      }
      request.phase('replacing disks', request.name)
      const journal: RestoreJournal = { format: 'lifeboat-inplace-restore', job, dom, vm: request.name, xml: originalXml, disks: ready.map((r) => ({ target: r.name, source: r.source })), committed: false }
      // Before the first original moves: from here a kill leaves files only the journal explains.
      if (ready.length > 0) {
        await writeJournal(shell, journal, signal)
        stack.push('remove the restore journal', async (s) => {
          await removeJournal(shell, job, s)
        })
      }
      const olds: string[] = []
      for (const r of ready) {
        const old = asidePath(r.source, job)
        await shell.run(sh`mv -f -- ${r.source} ${old}`, { signal })
        stack.push(`put the original ${r.name} back`, async (s) => {
          const back = await shell.exec(sh`mv -f -- ${old} ${r.source}`, { signal: s, timeoutMs: 60_000 }).catch((err: unknown) => ({ code: null, stderr: String(err) }))
          return back.code === 0 ? undefined : `The original ${r.name} of ${request.name} is at ${old} and could not be moved back to ${r.source} (${back.stderr.trim().slice(0, 200)}); move it back by hand.`
        })
        olds.push(old)
        await shell.run(sh`mv -f -- ${r.file} ${r.source}`, { signal })
        r.done()
      }
      await virsh.run(['define', '/dev/stdin'], { signal, stdin: serializeXml(root) })
      // Defined with the restored disks: from here the restore stands, and the originals go.
      stack.commit()
      if (ready.length > 0) {
        // A journal that still said "not committed" would have the leftovers check undo this finished restore: if it
        // cannot say "committed", it goes (the originals are deleted just below anyway).
        await writeJournal(shell, { ...journal, committed: true }, AbortSignal.timeout(60_000)).catch(() => removeJournal(shell, job, AbortSignal.timeout(60_000)))
      }
      const leftBehind: string[] = []
      for (const old of olds) {
        const r = await removeFile(shell, old, AbortSignal.timeout(60_000))
        if (r !== undefined) leftBehind.push(r)
      }
      if (ready.length > 0 && leftBehind.length === 0) await removeJournal(shell, job, AbortSignal.timeout(60_000)).catch(() => undefined)
      let started = false
      if (request.start) {
        await virsh.run(['start', dom], { signal })
        started = true
      }
      return { vmId: dom, name: info.name, disks, started, leftBehind }
    })
  }
}
