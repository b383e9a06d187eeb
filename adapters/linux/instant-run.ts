import { AdapterError, type InstantRunDisk, type InstantRunInfo, type InstantRunRequest, type InstantRunSession } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import type { SshConnection } from '../ssh/ssh-connection'
import { sh } from '../ssh/shell-quote'
import { withUndo } from '../undo-stack'
import { exportUri, readRunRecord, requireRun, runSocket, runSocketDir, setRunRecord, type RunRecord } from './instant-run-model'
import { discardRun, resumeIfStalled, runInfo } from './instant-run-manage'
import { checkDiskName } from './host-names'
import { countLiveHere, holdJobLock, liveJobs } from './job-lock'
import { restoreLibvirtVm } from './libvirt-restore'
import type { ShellProvider } from './libvirt-prepare'
import { parseDomainXml } from './domain-model'
import { Virsh } from './virsh'
import { child, childElements, element, parseXml, removeChildren, type XmlElement } from './xml'

/** Sockets sshd listens on for QEMU, and the lock that tells the leftovers check a Lifeboat serves them. */
interface Serving {
  /** The connection whose streamlocal forwards these are: they end with it. */
  readonly conn: SshConnection
  close(): Promise<string[]>
}

/**
 * Runs a VM straight from a restore point. Per disk, sshd listens on a unix socket on the host (streamlocal forwarding
 * of this very connection) and every connection QEMU opens there is handed to the engine, which serves the disk over
 * NBD. The VM's disk is a qcow2 overlay on the host's storage whose backing file is that export: QEMU reads the
 * backup through it and writes only into the overlay, so the repository never changes. error_policy and
 * rerror_policy 'stop' make a lost connection pause the VM instead of failing its I/O. Nothing is copied before the
 * VM starts, so it runs in seconds whatever the disk size. The domain is defined through the restore-as-new path
 * (same confinement of the recorded XML, new UUID and MAC addresses) and carries a Lifeboat run record in its
 * metadata (run id, point, overlays, sockets), which is how list, make permanent, discard and the leftovers check find
 * it. A failure or cancel before it runs removes everything it made.
 */
export async function startInstantRun(getShell: ShellProvider, request: InstantRunRequest, signal: AbortSignal): Promise<InstantRunSession> {
  const shell = await getShell(signal)
  requireRoot(shell)
  const virsh = new Virsh(shell)
  if ((await shell.exec(sh`command -v qemu-img`, { signal })).code !== 0) throw new AdapterError('NOT_SUPPORTED', `${shell.conn.label} has no qemu-img: install qemu-utils there to run VMs from restore points.`)
  return await withUndo(signal, async (stack) => {
    request.phase('serve', `listening on ${runSocketDir(request.runId)} for QEMU`)
    const serving = await serveSockets(shell, getShell, request.runId, request.disks, { fresh: true }, signal)
    stack.push('stop serving the disks', () => serving.close())
    const overlays = new Map<string, string>()
    let removedInterfaces = 0
    await restoreLibvirtVm(
      getShell,
      { vmConfig: request.vmConfig, disks: request.disks, name: request.name, inPlace: false, start: false, log: request.log, phase: request.phase, progress: () => undefined },
      signal,
      {
        placeDisk: async ({ target, input, path }, s) => {
          await shell.run(sh`qemu-img create -q -f qcow2 -u -b ${exportUri(request.runId, target)} -F raw ${path} ${String(input.size)}`, { signal: s, timeoutMs: 120_000, what: `Creating the overlay ${path}` })
          overlays.set(target, path)
        },
        adjust: (root) => {
          removedInterfaces = adjustRunDomain(root, request, overlays)
        },
      },
    )
    // Over a new connection when this one was lost since (a drop during the start is what most often undoes it).
    stack.push(`discard ${request.name}`, async (s) => (await discardRun(await liveShell(shell, getShell, s), request.name, s)).leftBehind)
    if (removedInterfaces > 0) request.log('info', `${request.name} has no network (--network none): ${removedInterfaces} network interface(s) of the original were left out.`)
    request.phase('start', request.name)
    await virsh.run(['start', request.name], { signal })
    const info = await runInfo(shell, request.name, signal)
    return servingSession(getShell, request.runId, request.name, request.disks, serving, info)
  })
}

/**
 * Serves a run whose Lifeboat went away (killed, connection lost) again on the same sockets and resumes the VM, which
 * paused on its first read that found nobody serving. Refused while another Lifeboat still serves it.
 */
export async function resumeInstantRun(getShell: ShellProvider, name: string, disks: readonly InstantRunDisk[], signal: AbortSignal): Promise<InstantRunSession> {
  const shell = await getShell(signal)
  requireRoot(shell)
  const virsh = new Virsh(shell)
  const record = requireRun(parseDomainXml(await virsh.run(['dumpxml', '--inactive', name], { signal })).root, name)
  if (record.state === 'permanent') throw new AdapterError('COMMAND_FAILED', `${name} was made permanent: it no longer needs Lifeboat, so there is nothing to serve.`, { vm: name })
  if ((await liveJobs(shell, [record.runId], signal)).has(record.runId)) throw new AdapterError('COMMAND_FAILED', `${name} is still served by a running Lifeboat (run ${record.runId}); stop that one first.`, { vm: name })
  for (const d of record.disks) if (!disks.some((x) => x.name === d.target)) throw new AdapterError('NOT_FOUND', `The restore point has no disk ${d.target}, which ${name} runs on; resume it from restore point ${record.pointId}.`)
  return await withUndo(signal, async (stack) => {
    const served = disks.filter((d) => record.disks.some((r) => r.target === d.name))
    const serving = await serveSockets(shell, getShell, record.runId, served, { fresh: false }, signal)
    stack.push('stop serving the disks', () => serving.close())
    const state = await virsh.domstate(name, signal)
    if (state === 'paused') await virsh.run(['resume', name], { signal })
    else if (state === 'shut off') await virsh.run(['start', name], { signal })
    // QEMU's NBD client reconnects on the first request after a lost connection, and that request may still fail
    // (pausing the VM once more): the serving job resumes a VM stalled that way for as long as it serves.
    return servingSession(getShell, record.runId, name, served, serving, await runInfo(shell, name, signal))
  })
}

/**
 * The session of a served run. The forwards live and die with their SSH connection: when it is lost (network drop,
 * sshd restarted) nobody serves the VM and it pauses on its next read of the backup; serveAgain serves the same
 * sockets on a new connection. The lost serving is not unwound — its lock ended with its session on the host, and
 * removing its folder or lock file now would pull them from under the new serving.
 */
function servingSession(getShell: ShellProvider, runId: string, name: string, disks: readonly InstantRunDisk[], first: Serving, info: InstantRunInfo): InstantRunSession {
  let serving = first
  let stopped = false
  // Asked afresh after each await (stopServing may have run meanwhile).
  const hasStopped = () => stopped
  const listeners = new Set<(reason: string) => void>()
  // Why the current serving's connection was lost, until it serves again: a listener added later hears of it too.
  let lostFor: string | undefined
  const watch = (s: Serving) =>
    s.conn.onClose(({ lost, reason }) => {
      if (!lost || stopped || s !== serving) return
      lostFor = reason
      for (const l of [...listeners]) l(reason)
    })
  let unwatch = watch(serving)
  // From now until serving stops this process answers for the run, also while it reconnects (the lock is down then).
  const endLive = countLiveHere(runId)
  return {
    info,
    onLost(listener) {
      listeners.add(listener)
      const reason = lostFor
      if (reason !== undefined)
        queueMicrotask(() => {
          if (listeners.has(listener)) listener(reason)
        })
      return () => {
        listeners.delete(listener)
      }
    },
    async serveAgain(signal) {
      if (hasStopped()) throw new AdapterError('CANCELLED', `Serving ${name} has stopped.`, { vm: name })
      const shell = await getShell(signal)
      requireRoot(shell)
      // Discarded while the connection was down (runs discard from another Lifeboat, virsh undefine): its socket
      // folder is not made anew for a VM that no longer exists. Asked on every try: a discard can come between tries.
      if (!(await isStillRun(shell, name, runId, signal))) return { gone: true }
      if (!serving.conn.isOpen) {
        const next = await serveSockets(shell, getShell, runId, disks, { fresh: false, again: true }, signal)
        if (hasStopped()) {
          await next.close()
          throw new AdapterError('CANCELLED', `Serving ${name} has stopped.`, { vm: name })
        }
        unwatch()
        serving = next
        lostFor = undefined
        unwatch = watch(next)
      }
      return { gone: false, resumed: await resumeIfStalled(shell, name, signal) }
    },
    async stopServing() {
      stopped = true
      unwatch()
      listeners.clear()
      try {
        return await serving.close()
      } finally {
        endLive()
      }
    },
  }
}

/** Whether `name` is still the VM of run `runId` (not undefined, nor replaced by another VM of that name). */
async function isStillRun(shell: RootShell, name: string, runId: string, signal: AbortSignal): Promise<boolean> {
  let xml: string
  try {
    xml = await new Virsh(shell).run(['dumpxml', '--inactive', name], { signal })
  } catch (err) {
    if (err instanceof AdapterError && err.code === 'NOT_FOUND') return false
    throw err
  }
  return readRunRecord(parseDomainXml(xml).root)?.runId === runId
}

/** The shell to undo with: this one while its connection is open, else a new one (this one when none can be had). */
async function liveShell(shell: RootShell, getShell: ShellProvider, signal: AbortSignal): Promise<RootShell> {
  return shell.conn.isOpen ? shell : await getShell(signal).catch(() => shell)
}

function requireRoot(shell: RootShell): void {
  // sshd makes the sockets as the login user, in a folder only root may write to.
  if (shell.privilege !== 'root') throw new AdapterError('NOT_SUPPORTED', `Running a VM from a restore point needs a root login on ${shell.conn.label} (sshd makes the disks' sockets as the login user); add the host with the root account.`)
}

/**
 * Per disk, sshd listens on `<run folder>/<disk>.sock` and hands each connection to the disk's server; the socket is
 * given to QEMU's user (libvirt's DAC label), 0600, in a root folder others may only pass through. The run's lock is
 * held for as long as this serves, so the leftovers check can tell a served run from one whose Lifeboat died.
 */
async function serveSockets(shell: RootShell, getShell: ShellProvider, runId: string, disks: readonly InstantRunDisk[], mode: { fresh: boolean; again?: boolean }, signal: AbortSignal): Promise<Serving> {
  const dir = runSocketDir(runId)
  return await withUndo(signal, async (stack) => {
    // Serving again after a lost connection: the lock may still be held by the old connection's session on the host
    // (see holdJobLock's `wait`). And the lock lives as long as its channel, which a signal's abort kills: that try's
    // signal bounds one try only, so the lock is tied to none and ends when serving stops (or with its connection).
    const again = mode.again === true
    const lock = await holdJobLock(shell, runId, again ? undefined : signal, getShell, { wait: again })
    stack.push('release the run lock', () => lock.release())
    // A new run's folder is made exclusively; a resumed run's stale sockets (sshd does not unlink them) are replaced.
    if (mode.fresh) await shell.run(sh`mkdir -m 0711 -- ${dir}`, { signal, what: `Creating ${dir}` })
    else await shell.run(sh`mkdir -p -m 0711 -- ${dir}`, { signal, what: `Creating ${dir}` })
    stack.push(`remove ${dir}`, async (s) => {
      const r = await (await liveShell(shell, getShell, s)).exec(sh`rm -rf -- ${dir}`, { signal: s, timeoutMs: 60_000 }).catch((err: unknown) => ({ code: null, stderr: err instanceof Error ? err.message : String(err) }))
      return r.code === 0 ? undefined : `${dir} could not be removed (${r.stderr.trim().slice(0, 200)}); delete it by hand.`
    })
    const owner = await qemuOwner(new Virsh(shell), signal)
    for (const d of disks) {
      const socket = runSocket(runId, checkDiskName(d.name))
      if (!mode.fresh) await shell.run(sh`rm -f -- ${socket}`, { signal })
      const listener = await shell.conn.listenUnixSocket(socket, d.serve, signal)
      stack.push(`stop listening on ${socket}`, async () => {
        await listener.close()
      })
      if (owner !== undefined) await shell.run(sh`chown -- ${owner} ${socket}`, { signal, what: `Giving ${socket} to QEMU` })
      await shell.run(sh`chmod 0600 -- ${socket}`, { signal })
    }
    const all = stack
    return { conn: shell.conn, close: () => all.unwind(AbortSignal.timeout(120_000)) }
  })
}

/** The user:group QEMU runs as (libvirt's DAC base label, e.g. `+64055:+64055`), undefined when it runs as root or unknown. */
async function qemuOwner(virsh: Virsh, signal: AbortSignal): Promise<string | undefined> {
  const caps = await virsh.exec(['capabilities'], { signal, timeoutMs: 60_000, maxOutputBytes: 4 * 1024 * 1024 })
  if (caps.code !== 0) return undefined
  let root: XmlElement
  try {
    root = parseXml(caps.stdout)
  } catch {
    return undefined
  }
  for (const model of childElements(child(root, 'host') ?? root, 'secmodel')) {
    if (textMatches(child(model, 'model'), 'dac')) {
      for (const label of childElements(model, 'baselabel')) {
        const text = label.children.filter((c): c is string => typeof c === 'string').join('').trim()
        const m = /^\+?(\d{1,10}):\+?(\d{1,10})$/.exec(text)
        if (m?.[1] !== undefined && m[2] !== undefined) return m[1] === '0' ? undefined : `${m[1]}:${m[2]}`
      }
    }
  }
  return undefined
}

function textMatches(el: XmlElement | undefined, text: string): boolean {
  return el !== undefined && el.children.filter((c): c is string => typeof c === 'string').join('').trim() === text
}

/** The run's last word on the restored XML: overlays over the exports, pause on I/O errors, network, run record. */
function adjustRunDomain(root: XmlElement, request: InstantRunRequest, overlays: ReadonlyMap<string, string>): number {
  const devices = child(root, 'devices') ?? element('devices')
  const disks: RunRecord['disks'][number][] = []
  for (const el of childElements(devices, 'disk')) {
    const target = child(el, 'target')?.attrs.dev
    const overlay = target === undefined ? undefined : overlays.get(target)
    if (target === undefined || overlay === undefined) continue
    const driver = child(el, 'driver')
    if (driver !== undefined) {
      driver.attrs.error_policy = 'stop'
      driver.attrs.rerror_policy = 'stop'
    }
    removeChildren(el, 'backingStore')
    // The chain is given whole (ended by an empty backingStore): libvirt uses it as written instead of probing.
    el.children.push(
      element('backingStore', { type: 'network' }, [
        element('format', { type: 'raw' }),
        element('source', { protocol: 'nbd', name: target }, [element('host', { transport: 'unix', socket: runSocket(request.runId, target) })]),
        element('backingStore'),
      ]),
    )
    disks.push({ target, overlay, socket: runSocket(request.runId, target) })
  }
  let removed = 0
  if (request.network === 'none') {
    removed = childElements(devices, 'interface').length
    removeChildren(devices, 'interface')
  }
  removeChildren(root, 'description')
  root.children.push(element('description', {}, [`Running from Lifeboat restore point ${request.pointId}: it needs Lifeboat until it is made permanent or discarded.`]))
  setRunRecord(root, { runId: request.runId, pointId: request.pointId, state: 'from-backup', disks })
  return removed
}
