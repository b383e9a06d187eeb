import type { BootCheckRequest, BootCheckResult } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { cleanupSignal, withUndo, type UndoStack } from '../undo-stack'
import { checkScratchDir, checkVmName, CHECK_SCRATCH_ROOT, isolateCheckDomain } from './check-domain'
import { duration } from '../boot-proof'
import { runInGuest, waitForAgent } from './guest-proof'
import { holdJobLock, jobTag, LOCK_DIR } from './job-lock'
import { restoreLibvirtVm } from './libvirt-restore'
import type { ShellProvider } from './libvirt-prepare'
import { ppmToPng } from './ppm-png'
import { Virsh } from './virsh'

const MAX_SCREENSHOT_BYTES = 32 * 1024 * 1024
/** A command given to the guest has at least this long, even when the guest took most of the timeout to answer. */
const MIN_COMMAND_MS = 60_000
const QEMU_LOG_DIR = '/var/log/libvirt/qemu'

/**
 * A health check of a libvirt restore point: its disks are written into a folder of their own
 * (`/var/lib/libvirt/images/lifeboat-<job>/`) and defined as a temporary domain `lifeboat-<job>` with no network, which
 * is started and must show life within the timeout — the QEMU guest agent answers `guest-ping`, and the admin's
 * command (if any) exits 0 through `guest-exec`. The console is captured (`virsh screenshot`, converted to PNG). The
 * domain, its folder, its QEMU log and the screenshot file are removed on every path (undo stack, run in `finally`);
 * while the check runs its job lock is held, so the leftovers check never cleans it from under it, and finds all of it
 * by the job id after Lifeboat was killed.
 */
export async function libvirtBootCheck(getShell: ShellProvider, request: BootCheckRequest, signal: AbortSignal): Promise<BootCheckResult> {
  const name = checkVmName(request.jobId)
  const scratch = checkScratchDir(request.jobId)
  const shell = await getShell(signal)
  const virsh = new Virsh(shell)
  const started = Date.now()
  // A failure or cancel unwinds the stack (and says what it could not remove); a verdict unwinds it before returning.
  return await withUndo(signal, async (stack) => {
    const lock = await holdJobLock(shell, request.jobId, signal, getShell)
    stack.push('release the job lock', () => lock.release())
    request.phase('restore', `writing the disks into ${scratch}`)
    await shell.run(sh`mkdir -p -- ${CHECK_SCRATCH_ROOT}`, { signal, what: 'Creating the image folder' })
    // Exclusive: a folder that exists already is not this check's to write into or remove.
    await shell.run(sh`mkdir -m 0711 -- ${scratch}`, { signal, what: `Creating ${scratch}` })
    stack.push(`remove ${scratch}`, (s) => removeTree(shell, scratch, s))
    // QEMU's log of the domain goes after the domain itself (registered first, so unwound last).
    const logFile = `${QEMU_LOG_DIR}/${name}.log`
    stack.push(`remove ${logFile}`, (s) => removeFile(shell, logFile, s))
    let removedInterfaces = 0
    await restoreLibvirtVm(
      getShell,
      {
        vmConfig: request.vmConfig,
        disks: request.disks,
        name,
        inPlace: false,
        start: false,
        storageDir: scratch,
        log: request.log,
        phase: (phase, detail) => request.phase('restore', detail === undefined ? phase : `${phase}: ${detail}`),
        progress: request.progress,
      },
      signal,
      {
        rawDisks: true,
        adjust: (root) => {
          removedInterfaces = isolateCheckDomain(root, request.jobId).removedInterfaces
        },
      },
    )
    stack.push(`remove the temporary VM ${name}`, (s) => removeDomain(virsh, name, s))
    if (removedInterfaces > 0) request.log('info', `The temporary VM has no network: ${removedInterfaces} network interface(s) of the original were left out.`)
    const restoreMs = Date.now() - started
    request.phase('boot', `${name}, waiting up to ${duration(request.timeoutMs)} for its guest agent`)
    await virsh.run(['start', name], { signal })
    const poweredOn = Date.now()
    const answer = await waitForAgent(virsh, name, poweredOn, request.timeoutMs, signal)
    const bootMs = Date.now() - poweredOn
    request.phase('proof', answer.answered ? 'the guest agent answered' : 'taking a screenshot')
    let booted = answer.answered
    let reason = answer.answered ? `the guest agent answered after ${duration(answer.ms)}` : answer.reason
    let command: BootCheckResult['command']
    if (answer.answered && request.command !== undefined) {
      const ran = await runInGuest(virsh, name, request.command, Math.max(MIN_COMMAND_MS, request.timeoutMs - bootMs), signal)
      if ('failed' in ran) {
        booted = false
        reason = `${reason}, but ${ran.failed}`
      } else {
        command = { commandLine: request.command, ...ran }
        booted = ran.exitCode === 0
        reason = `${reason}; \`${request.command}\` exited with ${ran.exitCode}${ran.exitCode !== 0 && ran.output !== '' ? `: ${ran.output.split('\n').slice(0, 3).join(' / ').slice(0, 300)}` : ''}`
      }
    }
    const screenshot = await takeScreenshot(shell, virsh, name, request, stack, signal)
    const timings = { restoreMs, bootMs, proofMs: Date.now() - poweredOn - bootMs }
    const leftBehind = await stack.unwind(cleanupSignal(signal))
    return { booted, reason, timings, ...(screenshot ? { screenshot } : {}), ...(command ? { command } : {}), leftBehind }
  })
}

/** The console as it is now; a host that cannot take one (no display device, old libvirt) only costs a warning. */
async function takeScreenshot(shell: RootShell, virsh: Virsh, name: string, request: BootCheckRequest, stack: UndoStack, signal: AbortSignal): Promise<BootCheckResult['screenshot']> {
  const file = `${LOCK_DIR}/${jobTag(request.jobId)}.screen`
  stack.push(`remove ${file}`, (s) => removeFile(shell, file, s))
  const r = await virsh.exec(['screenshot', name, `--file=${file}`], { signal, timeoutMs: 60_000, maxOutputBytes: 64 * 1024 })
  if (r.code !== 0) {
    request.log('warn', `No screenshot of the console: ${r.stderr.trim().split('\n')[0]?.slice(0, 300) ?? 'virsh screenshot failed'}.`)
    return undefined
  }
  const data = await shell.exec(sh`sh -c ${'s=$(stat -c %s -- "$1") || exit 1; [ "$s" -le "$2" ] || { echo "too large: $s bytes" >&2; exit 3; }; base64 -w0 < "$1"'} lifeboat-screen ${file} ${String(MAX_SCREENSHOT_BYTES)}`, {
    signal,
    timeoutMs: 120_000,
    maxOutputBytes: Math.ceil((MAX_SCREENSHOT_BYTES * 4) / 3) + 1024,
  })
  if (data.code !== 0) {
    request.log('warn', `The screenshot could not be read back (${data.stderr.trim().slice(0, 200)}).`)
    return undefined
  }
  const bytes = Buffer.from(data.stdout.trim(), 'base64')
  if (bytes.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))) return { format: 'png', data: bytes }
  const png = ppmToPng(bytes)
  if (png !== undefined) return { format: 'png', data: png }
  request.log('warn', 'The screenshot is kept as the host wrote it (PPM): it could not be converted to PNG.')
  return { format: 'ppm', data: bytes }
}

async function removeDomain(virsh: Virsh, name: string, signal: AbortSignal): Promise<string | undefined> {
  await virsh.exec(['destroy', name], { signal, timeoutMs: 120_000 }).catch(() => undefined)
  let r = await virsh.exec(['undefine', name, '--nvram'], { signal, timeoutMs: 120_000 }).catch((err: unknown) => ({ code: null, stdout: '', stderr: String(err) }))
  if (r.code !== 0) r = await virsh.exec(['undefine', name], { signal, timeoutMs: 120_000 }).catch((err: unknown) => ({ code: null, stdout: '', stderr: String(err) }))
  if (r.code === 0) return undefined
  const still = await virsh.exec(['domuuid', name], { signal, timeoutMs: 60_000 }).catch(() => ({ code: 0, stdout: '', stderr: '' }))
  if (still.code !== 0) return undefined
  return `The temporary VM ${name} could not be removed (${r.stderr.trim().slice(0, 200)}); remove it with \`virsh destroy ${name}; virsh undefine ${name}\` or \`lifeboat leftovers\`.`
}

async function removeTree(shell: RootShell, dir: string, signal: AbortSignal): Promise<string | undefined> {
  const r = await shell.exec(sh`rm -rf -- ${dir}`, { signal, timeoutMs: 300_000 }).catch((err: unknown) => ({ code: null, stderr: String(err) }))
  return r.code === 0 ? undefined : `The disks of the temporary VM in ${dir} could not be removed (${r.stderr.trim().slice(0, 200)}); delete the folder by hand or with \`lifeboat leftovers\`.`
}

async function removeFile(shell: RootShell, file: string, signal: AbortSignal): Promise<string | undefined> {
  const r = await shell.exec(sh`rm -f -- ${file}`, { signal, timeoutMs: 60_000 }).catch((err: unknown) => ({ code: null, stderr: String(err) }))
  return r.code === 0 ? undefined : `${file} could not be removed (${r.stderr.trim().slice(0, 200)}); delete it by hand.`
}
