import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { AdapterError, type BlockSource } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import type { DuplexExec } from '../ssh/ssh-connection'
import { sh } from '../ssh/shell-quote'
import { jobTag, LOCK_DIR, lockPath } from './job-lock'
import { NbdClient } from './nbd/nbd-client'
import { nbdBlockSource } from './nbd/nbd-guest-disk'

/** One qcow2 internal snapshot to serve: the image that holds it (a file or a block device) and the snapshot's name. */
export interface InternalSnapshotExport {
  readonly path: string
  readonly device: 'file' | 'block'
  readonly snapshot: string
  readonly label: string
}

export interface SnapshotExports {
  /** One guest disk per export, in order. Closing the last one stops the servers and removes everything on the host. */
  readonly disks: readonly BlockSource[]
  /** Stops everything at once (idempotent); what could not be cleaned, in plain words. */
  close(): Promise<string[]>
}

/** Where a browsing session keeps its sockets and pid files: `/var/tmp/lifeboat-<id>.nbd` (reconcile knows it). */
export function exportDir(sessionId: string): string {
  return `${LOCK_DIR}/${jobTag(sessionId)}.nbd`
}

/**
 * `-l` is parsed as QEMU options ("snapshot.name=…"); a comma inside a value is written twice. The bare form
 * (`-l NAME`) would first match NAME against snapshot *ids*, so a snapshot named "1" could load another one.
 */
export function snapshotParam(name: string): string {
  return `snapshot.name=${name.replace(/,/g, ',,')}`
}

/**
 * The image as a `json:` filename: the path is data inside JSON (no option syntax to escape), and `force-share`
 * lets the read-only server open an image that a running QEMU holds locked (it is inherited by the backing files).
 */
export function imageSpec(e: Pick<InternalSnapshotExport, 'path' | 'device'>): string {
  return `json:${JSON.stringify({ driver: 'qcow2', 'force-share': true, 'read-only': true, file: { driver: e.device === 'block' ? 'host_device' : 'file', filename: e.path } })}`
}

/**
 * The host side of a browsing session, in one shell that lives as long as its SSH channel: it takes the session's
 * lock (so reconcile leaves a live session alone), makes a private folder, starts one read-only `qemu-nbd` per
 * snapshot (no `--persistent`: a server ends when its one client disconnects), says READY and waits for its stdin to
 * close — when Lifeboat is done, or when the connection or the Lifeboat process dies. Then it stops the servers and
 * removes the folder and the lock. A shell killed outright leaves the folder; reconcile stops the servers whose pid
 * files are in it (checking they are qemu-nbd serving that folder) and removes it.
 */
const SERVER_SCRIPT = [
  'd=$1; lock=$2; shift 2',
  'umask 077',
  'command -v qemu-nbd >/dev/null 2>&1 || { echo NOQEMUNBD; exit 3; }',
  'exec 9>"$lock" || exit 1',
  'if command -v flock >/dev/null 2>&1; then flock -n 9 || { echo BUSY; exit 1; }; fi',
  'made=',
  'stop() {',
  '  if [ -n "$made" ]; then',
  '    for p in "$d"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done',
  '    i=0; while [ $i -lt 50 ]; do',
  '      alive=; for p in "$d"/*.pid; do [ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null && alive=1; done',
  '      [ -z "$alive" ] && break; sleep 0.1; i=$((i+1))',
  '    done',
  '    for p in "$d"/*.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null; done',
  '    rm -rf -- "$d"',
  '  fi',
  '  rm -f -- "$lock"',
  '}',
  'trap stop EXIT',
  "trap 'exit 1' HUP INT TERM PIPE",
  'mkdir -m 700 -- "$d" || exit 1',
  'made=1',
  'i=0',
  'while [ $# -ge 2 ]; do',
  '  if ! qemu-nbd --fork --pid-file="$d/$i.pid" --socket="$d/$i.sock" --read-only --shared=1 -l "$2" "$1" 9>&- </dev/null >/dev/null 2>"$d/$i.err"; then',
  '    printf "FAIL %s %s\\n" "$i" "$(head -c 2000 "$d/$i.err" | base64 | tr -d "\\n")"; exit 1',
  '  fi',
  '  i=$((i+1)); shift 2',
  'done',
  'echo READY',
  // cat inherits the lock: it stays held exactly as long as the channel is open, even if this shell were killed.
  'cat >/dev/null',
].join('\n')

const START_TIMEOUT_MS = 120_000

/**
 * Serves qcow2 internal snapshots read-only over NBD on unix sockets in a Lifeboat-tagged folder on the host, and
 * connects to each through the SSH connection. Nothing is written to the image and the VM is not touched, so this
 * works while the VM runs: the clusters of an internal snapshot are shared (refcount > 1), so QEMU copies before it
 * writes and never changes them while the snapshot exists.
 */
export async function serveInternalSnapshots(shell: RootShell, exports: readonly InternalSnapshotExport[], signal: AbortSignal): Promise<SnapshotExports> {
  const id = randomUUID()
  const dir = exportDir(id)
  const args = exports.flatMap((e) => [imageSpec(e), snapshotParam(e.snapshot)])
  // No signal: the server lives as long as the readouts, not as long as the call that opened them.
  const exec = await shell.execDuplex(sh`sh -c ${SERVER_SCRIPT} lifeboat-browse ${dir} ${lockPath(id)} ${args}`)
  let stopped: Promise<string[]> | undefined
  const stop = (): Promise<string[]> => (stopped ??= stopServer(exec, dir, shell.conn.label))
  const opened: BlockSource[] = []
  try {
    await waitReady(exec, exports, shell.conn.label, signal)
    let open = exports.length
    for (const [i, e] of exports.entries()) {
      const stream = await openSocket(shell, `${dir}/${i}.sock`, signal)
      const client = await NbdClient.connect(stream, '', [], e.label)
      opened.push(
        nbdBlockSource(client, e.label, async () => {
          open--
          if (open === 0) await stop()
        }),
      )
    }
    return {
      disks: opened,
      close: async () => {
        for (const d of opened) await d.close().catch(() => undefined)
        return await stop()
      },
    }
  } catch (err) {
    for (const d of opened) await d.close().catch(() => undefined)
    await stop()
    throw err
  }
}

async function waitReady(exec: DuplexExec, exports: readonly InternalSnapshotExport[], label: string, signal: AbortSignal): Promise<void> {
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      exec.channel.off('data', onData)
      // Keep draining: the script prints nothing more, but a paused channel must never block it.
      exec.channel.resume()
      if (err) reject(err)
      else resolve()
    }
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8')
      if (out.length > 64 * 1024) return done(new AdapterError('BAD_RESPONSE', `${label} printed too much while starting qemu-nbd.`))
      const lines = out.split('\n')
      for (const line of lines.slice(0, -1)) {
        if (line === 'READY') return done()
        if (line === 'NOQEMUNBD') return done(new AdapterError('NOT_SUPPORTED', `${label} has no qemu-nbd, which Lifeboat needs to read a snapshot kept inside a qcow2 image; install it (Debian/Ubuntu: qemu-utils, Fedora/RHEL: qemu-img).`))
        if (line === 'BUSY') return done(new AdapterError('COMMAND_FAILED', `${label}: another process holds Lifeboat's lock for this browsing session.`))
        const fail = /^FAIL (\d+) ([A-Za-z0-9+/=]*)$/.exec(line)
        if (fail !== null) return done(failure(exports[Number(fail[1])], Buffer.from(fail[2] ?? '', 'base64').toString('utf8'), label))
      }
      return undefined
    }
    const onAbort = () => done(new AdapterError('CANCELLED', 'Opening the snapshot was cancelled.'))
    const timer = setTimeout(() => done(new AdapterError('COMMAND_FAILED', `qemu-nbd on ${label} did not start within ${START_TIMEOUT_MS / 1000} s.`)), START_TIMEOUT_MS)
    exec.channel.on('data', onData)
    signal.addEventListener('abort', onAbort, { once: true })
    void exec.exited.then((r) => done(new AdapterError('COMMAND_FAILED', `Serving the snapshot on ${label} failed before it started (exit ${r.code ?? r.signal ?? '?'}): ${r.stderr.trim().slice(0, 300) || 'no output'}`)))
  })
}

function failure(e: InternalSnapshotExport | undefined, stderr: string, label: string): AdapterError {
  const detail = stderr.replace(/\s+/g, ' ').trim().slice(0, 400)
  const what = e === undefined ? 'a snapshot' : `snapshot "${e.snapshot.slice(0, 200)}" of ${e.path}`
  if (/Failed to load snapshot|Can't find snapshot|not found/i.test(detail)) {
    return new AdapterError('NOT_FOUND', `${label}: ${e?.path ?? 'the image'} does not hold ${what} any more (${detail}).`, { path: e?.path ?? '' })
  }
  return new AdapterError('COMMAND_FAILED', `qemu-nbd on ${label} could not serve ${what}: ${detail || 'no output'}`, { path: e?.path ?? '' })
}

/**
 * A byte stream to a unix socket in the session's root-only folder: OpenSSH streamlocal forwarding for a root
 * login, `socat` run as root for a sudo login (sshd connects as the login user, who cannot enter the folder).
 */
async function openSocket(shell: RootShell, path: string, signal: AbortSignal): Promise<Duplex> {
  if (shell.privilege === 'root') return await shell.conn.openUnixSocket(path, signal)
  const exec = await shell.execDuplex(sh`command -v socat >/dev/null 2>&1 || { echo "socat is not installed" >&2; exit 127; }; exec socat - UNIX-CONNECT:${path}`)
  return exec.channel
}

/** Ends the server shell by closing its stdin and waits for its cleanup; kills the channel only when that hangs. */
async function stopServer(exec: DuplexExec, dir: string, label: string): Promise<string[]> {
  exec.channel.end()
  const ended = await Promise.race([exec.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))])
  if (ended !== undefined) return []
  exec.kill()
  return [`The snapshot server on ${label} did not stop in time; Lifeboat removes ${dir} the next time it looks for leftovers.`]
}
