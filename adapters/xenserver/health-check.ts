import { AdapterError, throwIfAborted, type BootCheckRequest, type BootCheckResult, type HealthCheckCapability } from '../host-adapter'
import { cleanupSignal, withUndo } from '../undo-stack'
import { beatCheckVm, checkVmName, removeCheckVm } from './check-vm'
import { checkScreenshot, type ConsoleSnapshotOptions } from './console-snapshot'
import type { XapiRestore } from './restore'
import { healthCheckMarks } from './tags'
import type { XapiClient } from './xapi-client'
import { refByUuid } from './xapi-objects'
import { VMGuestMetricsRecord, VMRecord } from './xapi-records.generated'
import { isNullRef } from './xapi-schema-kit'
import { isCode, runTask } from './xapi-tasks'
import { duration, pollPause, silentGuestReason } from '../boot-proof'

const HEARTBEAT_MS = 60_000

export interface XapiHealthCheckOptions {
  /** How often the VM's guest metrics are looked at while it boots. */
  readonly pollMs?: number
  /** How long, and how large, the console screenshot may be (console-snapshot.ts has the defaults). */
  readonly screenshot?: ConsoleSnapshotOptions
}

type Proof = { readonly answered: true; readonly ms: number; readonly what: string } | { readonly answered: false; readonly reason: string }

/**
 * A health check on a pool: the point is restored as a temporary VM `lifeboat-check-<job>` (the restore's own code,
 * its VM and VDIs marked from their creation, no network interfaces), started, and must show life within the timeout:
 * XAPI creates the VM's guest metrics (`VM.guest_metrics` → `VM_guest_metrics` with `os_version` and
 * `PV_drivers_detected`) only when the guest's PV drivers / guest agent report through xenstore, which a guest does
 * only after it has booted. The VM and its VDIs are removed on every path; a heartbeat in its other_config tells the
 * leftovers check whether a check still owns it (after a kill it goes stale and the VM is cleaned).
 * Once the verdict is known and before the VM is removed, its console is kept as the screenshot: the JPEG xapi's
 * `GET /vncsnapshot?ref=<VM>` answers (console-snapshot.ts; checked as a whole JPEG of a sane size, jpeg.ts). A pool
 * that cannot take one (no VNC console, no vncsnapshot binary in dom0, no answer in time, not a JPEG) leaves the
 * check without a screenshot and one log line that says why; the verdict stands either way.
 */
export class XapiHealthCheck implements HealthCheckCapability {
  constructor(
    private readonly client: (signal: AbortSignal) => Promise<XapiClient>,
    private readonly restore: XapiRestore,
    private readonly options: XapiHealthCheckOptions = {},
  ) {}

  async bootCheck(request: BootCheckRequest, signal: AbortSignal): Promise<BootCheckResult> {
    if (request.command !== undefined) throw new AdapterError('NOT_SUPPORTED', 'XenServer/XCP-ng cannot run a command in the guest (XAPI has no guest-exec); run the check without --command.')
    const client = await this.client(signal)
    const name = checkVmName(request.jobId)
    const started = Date.now()
    return await withUndo(signal, async (stack) => {
      // Started before the restore: a long upload must not make the half-restored VM look abandoned.
      const heartbeat = setInterval(() => void beatCheckVm(client, request.jobId, AbortSignal.timeout(30_000)).catch(() => undefined), HEARTBEAT_MS)
      heartbeat.unref()
      stack.push('stop the heartbeat', () => clearInterval(heartbeat))
      request.phase('restore', `writing the disks as the temporary VM ${name}`)
      const restored = await this.restore.restoreVm(
        {
          vmConfig: request.vmConfig,
          disks: request.disks,
          name,
          inPlace: false,
          start: false,
          log: request.log,
          phase: (phase, detail) => request.phase('restore', detail === undefined ? phase : `${phase}: ${detail}`),
          progress: request.progress,
        },
        signal,
        { marks: healthCheckMarks(request.jobId), network: false },
      )
      const vmRef = await refByUuid(client, 'VM', restored.vmId, signal)
      stack.push(`remove the temporary VM ${name}`, (s) => removeCheckVm(client, vmRef, s))
      const restoreMs = Date.now() - started
      request.phase('boot', `${name}, waiting up to ${duration(request.timeoutMs)} for its guest metrics`)
      await runTask(client, 'VM.start', [vmRef, false, false], { signal })
      const poweredOn = Date.now()
      const proof = await this.waitForGuestMetrics(client, vmRef, poweredOn, request.timeoutMs, signal)
      const bootMs = Date.now() - poweredOn
      request.phase('proof', proof.answered ? 'the guest reported' : 'no report from the guest')
      const screenshot = await checkScreenshot(client, vmRef, request.log, signal, this.options.screenshot)
      const reason = proof.answered ? `the guest reported through its PV drivers after ${duration(proof.ms)} (${proof.what})` : `${proof.reason}${await silentGuestReason(request.disks[0]?.source, signal, { verb: 'reported', likely: 'PV drivers / guest tools missing, or it hung while starting' })}`
      const timings = { restoreMs, bootMs, proofMs: Date.now() - poweredOn - bootMs }
      const leftBehind = await stack.unwind(cleanupSignal(signal))
      return { booted: proof.answered, reason, timings, leftBehind, ...(screenshot !== undefined ? { screenshot } : {}) }
    })
  }

  private async waitForGuestMetrics(client: XapiClient, vmRef: string, poweredOn: number, timeoutMs: number, signal: AbortSignal): Promise<Proof> {
    const pollMs = this.options.pollMs ?? 1000
    for (;;) {
      throwIfAborted(signal, 'The health check')
      const vm = await client.record('VM', vmRef, VMRecord, signal)
      if (vm.power_state !== 'Running') return { answered: false, reason: `the VM stopped (power state ${vm.power_state}) ${duration(Date.now() - poweredOn)} after it was started, before its guest reported` }
      if (!isNullRef(vm.guest_metrics)) {
        const gm = await client.record('VM_guest_metrics', vm.guest_metrics, VMGuestMetricsRecord, signal).catch((err: unknown) => {
          if (isCode(err, 'HANDLE_INVALID')) return undefined
          throw err
        })
        if (gm !== undefined && (Object.keys(gm.os_version).length > 0 || gm.PV_drivers_detected)) return { answered: true, ms: Date.now() - poweredOn, what: describeGuest(gm) }
      }
      const left = poweredOn + timeoutMs - Date.now()
      if (left <= 0) return { answered: false, reason: `no guest metrics (PV drivers / guest agent) within ${duration(timeoutMs)}` }
      await pollPause(Math.min(pollMs, left), signal)
    }
  }
}

function describeGuest(gm: VMGuestMetricsRecord): string {
  const os = gm.os_version.name ?? ([gm.os_version.distro, gm.os_version.major].filter((x) => x !== undefined).join(' ') || 'an unnamed OS')
  const v = gm.PV_drivers_version
  const drivers = v.major === undefined ? 'PV drivers detected' : `PV drivers ${[v.major, v.minor, v.micro].filter((x) => x !== undefined).join('.')}`
  return `${os.slice(0, 200)}, ${drivers.slice(0, 100)}`
}
