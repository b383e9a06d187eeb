import { AdapterError, type InstantRunInfo } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { raw, sh } from '../ssh/shell-quote'
import { parseDomainXml } from './domain-model'
import { readRunRecord, requireRun, RUN_NS, runSocketDir, setRunRecord, type RunRecord } from './instant-run-model'
import { liveJobs } from './job-lock'
import { sleep, Virsh } from './virsh'
import { child, childElements, removeChildren, serializeXml, type XmlElement } from './xml'

const QEMU_LOG_DIR = '/var/log/libvirt/qemu'
const POLL_MS = 1000

/** One run as the host's records say now. */
export async function runInfo(shell: RootShell, name: string, signal: AbortSignal): Promise<InstantRunInfo> {
  const virsh = new Virsh(shell)
  const { root } = parseDomainXml(await virsh.run(['dumpxml', '--inactive', name], { signal }))
  const record = requireRun(root, name)
  const vmId = (await virsh.run(['domuuid', name], { signal })).trim().toLowerCase()
  const state = (await virsh.run(['domstate', name, '--reason'], { signal })).split('\n')[0] ?? ''
  const served = (await liveJobs(shell, [record.runId], signal)).has(record.runId)
  return toInfo(name, vmId, state, served, record)
}

/** `state` is domstate --reason's line: "paused (I/O error)". */
function toInfo(name: string, vmId: string, stateLine: string, served: boolean, record: RunRecord): InstantRunInfo {
  const state = stateLine.replace(/\s*\(.*$/, '').trim().slice(0, 40)
  const stalled = state === 'paused' && /I\/O error/i.test(stateLine)
  return { name, vmId, runId: record.runId, pointId: record.pointId, state, permanent: record.state === 'permanent', served, stalled, disks: record.disks.map((d) => ({ target: d.target, overlay: d.overlay })) }
}

/** Resumes a run that paused on an I/O error; any other pause (the admin's) is left alone. */
export async function unstallRun(shell: RootShell, name: string, signal: AbortSignal): Promise<void> {
  await resumeIfStalled(shell, name, signal)
}

/** unstallRun, saying whether the VM had paused on an I/O error and was resumed. */
export async function resumeIfStalled(shell: RootShell, name: string, signal: AbortSignal): Promise<boolean> {
  const virsh = new Virsh(shell)
  const line = (await virsh.run(['domstate', name, '--reason'], { signal })).split('\n')[0] ?? ''
  if (!/^paused \(I\/O error\)/i.test(line.trim())) return false
  await virsh.run(['resume', name], { signal })
  return true
}

const LIST_SCRIPT = raw(
  [
    'export LC_ALL=C',
    'V="virsh -q -c qemu:///system"',
    'for u in $($V list --all --uuid 2>/dev/null | head -n 2000); do',
    '  x=$($V dumpxml --inactive "$u" 2>/dev/null | head -c 1048576)',
    '  case "$x" in *"$1"*) printf "RUN %s %s %s\\n" "$u" "$($V domstate "$u" --reason 2>/dev/null | head -n 1 | base64 -w0)" "$(printf %s "$x" | base64 -w0)";; esac',
    'done',
    'exit 0',
  ].join('\n'),
)

/** Every domain on the host that carries a Lifeboat run record, with whether a Lifeboat serves it right now. */
export async function listRuns(shell: RootShell, signal: AbortSignal): Promise<InstantRunInfo[]> {
  const out = await shell.run(sh`sh -c ${LIST_SCRIPT.text} lifeboat-runs ${RUN_NS}`, { signal, timeoutMs: 300_000, maxOutputBytes: 64 * 1024 * 1024, what: 'Listing the VMs run from restore points' })
  const found: { vmId: string; state: string; name: string; record: RunRecord }[] = []
  for (const line of out.split('\n')) {
    const [kind, vmId, state, xml] = line.split(' ')
    if (kind !== 'RUN' || vmId === undefined || !/^[0-9a-f-]{36}$/.test(vmId)) continue
    try {
      const { root, info } = parseDomainXml(Buffer.from(xml ?? '', 'base64').toString('utf8'))
      const record = readRunRecord(root)
      if (record !== undefined) found.push({ vmId, name: info.name, state: Buffer.from(state ?? '', 'base64').toString('utf8').trim().slice(0, 80), record })
    } catch {
      // A definition that does not parse is not one Lifeboat wrote.
    }
  }
  const live = await liveJobs(shell, found.map((f) => f.record.runId), signal)
  return found.map((f) => toInfo(f.name, f.vmId, f.state, live.has(f.record.runId), f.record))
}

/**
 * Why `virsh blockpull` (block-stream into the overlay) and not `blockcopy --pivot`: the overlay already is a qcow2
 * file on the host's storage and already holds everything the VM wrote; pulling copies only what it still reads from
 * the backup into that same file and then drops the backing file from its header, so there is nothing to pivot, no
 * second file to size and place, and the VM ends up on exactly the disk it was using. A block copy would write a
 * second full copy (the overlay's clusters included) and need a pivot. Each disk in turn; the job is aborted when the
 * flow is cancelled (the VM keeps running from the backup, nothing is lost).
 */
export async function makeRunPermanent(shell: RootShell, name: string, progress: (bytesDone: number, bytesTotal: number, detail: string) => void, signal: AbortSignal): Promise<InstantRunInfo> {
  const virsh = new Virsh(shell)
  const inactive = parseDomainXml(await virsh.run(['dumpxml', '--inactive', name], { signal })).root
  const record = requireRun(inactive, name)
  if (record.state === 'permanent') return await runInfo(shell, name, signal)
  const state = await virsh.domstate(name, signal)
  if (state !== 'running' && state !== 'paused') throw new AdapterError('COMMAND_FAILED', `${name} is ${state}: its disks are copied while it runs. Start it from the backup first (lifeboat points run --resume ${name}).`, { vm: name, state })
  if (!(await liveJobs(shell, [record.runId], signal)).has(record.runId)) {
    throw new AdapterError('COMMAND_FAILED', `Nobody serves the backup ${name} runs from (its Lifeboat stopped): resume it first (lifeboat points run --resume ${name}), then make it permanent.`, { vm: name })
  }
  for (const d of record.disks) {
    if (!(await stillOnBackup(virsh, name, d.target, signal))) continue
    await virsh.run(['blockpull', name, d.target], { signal, timeoutMs: 120_000 })
    try {
      await waitForPull(virsh, name, d.target, progress, signal)
    } catch (err) {
      await virsh.exec(['blockjob', name, d.target, '--abort'], { signal: AbortSignal.timeout(60_000), timeoutMs: 60_000 }).catch(() => undefined)
      throw err
    }
    if (await stillOnBackupAfter(virsh, name, d.target, signal)) throw new AdapterError('COMMAND_FAILED', `The copy of ${name} disk ${d.target} ended but the disk still reads from the backup; it keeps running from the backup. Try again.`, { vm: name })
  }
  // The next boot's definition, too: the disks alone, and the record says the run no longer needs Lifeboat.
  for (const el of childElements(child(inactive, 'devices') ?? inactive, 'disk')) {
    if (record.disks.some((d) => d.target === child(el, 'target')?.attrs.dev)) removeChildren(el, 'backingStore')
  }
  setRunRecord(inactive, { ...record, state: 'permanent' })
  removeChildren(inactive, 'description')
  await virsh.run(['define', '/dev/stdin'], { signal, stdin: serializeXml(inactive) })
  return await runInfo(shell, name, signal)
}

/** libvirt drops the backing chain from the live definition when it handles the job's end, a moment after the job is gone. */
async function stillOnBackupAfter(virsh: Virsh, name: string, target: string, signal: AbortSignal): Promise<boolean> {
  for (let i = 0; i < 30; i++) {
    if (!(await stillOnBackup(virsh, name, target, signal))) return false
    await sleep(POLL_MS, signal)
  }
  return true
}

async function stillOnBackup(virsh: Virsh, name: string, target: string, signal: AbortSignal): Promise<boolean> {
  const { root } = parseDomainXml(await virsh.run(['dumpxml', name], { signal }))
  const disk = childElements(child(root, 'devices') ?? root, 'disk').find((el) => child(el, 'target')?.attrs.dev === target)
  return disk !== undefined && usesNbd(disk)
}

function usesNbd(el: XmlElement): boolean {
  return childElements(el).some((c) => (c.name === 'source' && c.attrs.protocol === 'nbd') || (c.name === 'backingStore' && usesNbd(c)))
}

/** Polls the pull job once a second: bytes done of total for the progress (the caller derives rate and ETA). */
async function waitForPull(virsh: Virsh, name: string, target: string, progress: (bytesDone: number, bytesTotal: number, detail: string) => void, signal: AbortSignal): Promise<void> {
  let last: { cur: number; end: number } | undefined
  for (;;) {
    const r = await virsh.exec(['blockjob', name, target, '--raw'], { signal, timeoutMs: 60_000, maxOutputBytes: 64 * 1024 })
    const text = `${r.stdout}\n${r.stderr}`
    if (/No current block job/i.test(text) || (r.code === 0 && r.stdout.trim() === '')) {
      if (last !== undefined) progress(last.end, last.end, target)
      return
    }
    if (r.code !== 0) throw new AdapterError('COMMAND_FAILED', `Copying ${name} disk ${target} to host storage failed: ${r.stderr.trim().slice(0, 300)}`, { vm: name })
    const cur = /\bcur=(\d{1,20})/.exec(text)?.[1]
    const end = /\bend=(\d{1,20})/.exec(text)?.[1]
    if (cur !== undefined && end !== undefined) {
      last = { cur: Number(cur), end: Number(end) }
      progress(last.cur, last.end, target)
    }
    await sleep(POLL_MS, signal)
  }
}

/**
 * Stop and discard: the VM is turned off and undefined, its overlays (everything it wrote), sockets and QEMU log are
 * removed. Refused for a VM that is not a Lifeboat run, and for one made permanent (it is an ordinary VM now).
 */
export async function discardRun(shell: RootShell, name: string, signal: AbortSignal): Promise<{ leftBehind: string[] }> {
  const virsh = new Virsh(shell)
  const { root } = parseDomainXml(await virsh.run(['dumpxml', '--inactive', name], { signal }))
  const record = requireRun(root, name)
  if (record.state === 'permanent') throw new AdapterError('COMMAND_FAILED', `${name} was made permanent: it is an ordinary VM now and Lifeboat does not delete it. Remove it with virsh if you mean to.`, { vm: name })
  const left: string[] = []
  await virsh.exec(['destroy', name], { signal, timeoutMs: 120_000 }).catch(() => undefined)
  let r = await virsh.exec(['undefine', name, '--nvram'], { signal, timeoutMs: 120_000 })
  if (r.code !== 0) r = await virsh.exec(['undefine', name], { signal, timeoutMs: 120_000 })
  if (r.code !== 0 && (await virsh.exec(['domuuid', name], { signal })).code === 0) left.push(`${name} could not be undefined (${r.stderr.trim().slice(0, 200)}); remove it with virsh destroy/undefine.`)
  const logs = [`${QEMU_LOG_DIR}/${name}.log`, ...logFilesOf(root)]
  for (const path of [...record.disks.map((d) => d.overlay), ...logs]) {
    const rm = await shell.exec(sh`rm -f -- ${path}`, { signal, timeoutMs: 60_000 })
    if (rm.code !== 0) left.push(`${path} could not be removed (${rm.stderr.trim().slice(0, 200)}); delete it by hand.`)
  }
  const dir = runSocketDir(record.runId)
  const rmDir = await shell.exec(sh`rm -rf -- ${dir}`, { signal, timeoutMs: 60_000 })
  if (rmDir.code !== 0) left.push(`${dir} could not be removed (${rmDir.stderr.trim().slice(0, 200)}); delete it by hand.`)
  return { leftBehind: left }
}

/** Console log files the restore gave the VM in QEMU's log folder (its own names: nothing else is touched). */
function logFilesOf(root: XmlElement): string[] {
  const out: string[] = []
  for (const kind of ['serial', 'console', 'parallel', 'channel']) {
    for (const dev of childElements(child(root, 'devices') ?? root, kind)) {
      for (const p of [child(dev, 'source')?.attrs.path, child(dev, 'log')?.attrs.file]) {
        if (p !== undefined && p.startsWith(`${QEMU_LOG_DIR}/`) && !p.slice(QEMU_LOG_DIR.length + 1).includes('/') && p.endsWith('.log')) out.push(p)
      }
    }
  }
  return out
}
