import { z } from 'zod'
import { AdapterError, throwIfAborted, type BootCheckRequest, type BootCheckResult, type HealthCheckCapability } from '../host-adapter'
import { cleanupSignal, withUndo } from '../undo-stack'
import { checkFolder, checkVmName, removeCheckFolder, removeCheckVm, vhdRoot } from './check-vm'
import type { HyperVContext } from './context'
import { holdJobLock } from './job-lock'
import { startVm } from './power'
import { ps } from './powershell'
import { runJson } from './ps-runner'
import { restoreAsNewVm } from './restore'
import { isService, serviceOk } from './integration-services'
import { HeartbeatRecord } from './schemas'
import { checkScreenshot } from './thumbnail'
import { vmVariable } from './vm-details'
import { duration, pollPause, silentGuestReason } from '../boot-proof'

export interface HyperVHealthCheckOptions {
  /** How often the Heartbeat integration service is asked while the VM boots. */
  readonly pollMs?: number
}

type Proof = { readonly answered: true; readonly ms: number } | { readonly answered: false; readonly reason: string }

/**
 * A health check on a Hyper-V host: the point is restored as a temporary VM `lifeboat-check-<job>` (the restore's own
 * code; its disks in `<VirtualHardDiskPath>\lifeboat-check-<job>\`, no network adapter connected), started, and must
 * show life within the timeout: the Heartbeat integration service (found by its Id's GUID, the name is
 * localized) reports PrimaryOperationalStatus Ok, which needs a guest that booted and runs its integration services.
 * The VM, its disk files and folder are removed on every path; the job lock is held while the check runs, so the
 * leftovers check leaves a running check alone and finds everything by the job id after Lifeboat was killed.
 * Once the verdict is known, the VM's console is kept as the screenshot (GetVirtualSystemThumbnailImage, thumbnail.ts)
 * when the host gives it; without it the verdict stands and the log says why.
 */
export function hypervHealthCheck(ctx: HyperVContext, options: HyperVHealthCheckOptions = {}): HealthCheckCapability {
  return { bootCheck: (request, signal) => bootCheck(ctx, request, signal, options.pollMs ?? 1000) }
}

async function bootCheck(ctx: HyperVContext, request: BootCheckRequest, signal: AbortSignal, pollMs: number): Promise<BootCheckResult> {
  if (request.command !== undefined) throw new AdapterError('NOT_SUPPORTED', 'Lifeboat cannot run a command in a Hyper-V guest (that needs PowerShell Direct with the guest\'s credentials); run the check without --command.')
  const name = checkVmName(request.jobId)
  const started = Date.now()
  const conn = await ctx.connection(signal)
  return await withUndo(signal, async (stack) => {
    const lock = await holdJobLock(conn, await ctx.executable(signal), ctx.runner, request.jobId, signal)
    stack.push('release the job lock', () => lock.release())
    if (!lock.held) request.log('warn', 'The job lock on the host could not be confirmed: a leftovers check elsewhere could take this check\'s VM for a leftover.')
    const folder = checkFolder(await vhdRoot(ctx, signal), request.jobId)
    stack.push(`remove ${folder}`, (s) => removeCheckFolder(ctx, folder, s))
    request.phase('restore', `writing the disks into ${folder}`)
    const restored = await restoreAsNewVm(
      ctx,
      {
        vmConfig: request.vmConfig,
        disks: request.disks,
        name,
        inPlace: false,
        start: false,
        storageDir: folder,
        log: request.log,
        phase: (phase, detail) => request.phase('restore', detail === undefined ? phase : `${phase}: ${detail}`),
        progress: request.progress,
      },
      signal,
      { network: false },
    )
    stack.push(`remove the temporary VM ${name}`, (s) => removeCheckVm(ctx, restored.vmId, folder, s))
    const restoreMs = Date.now() - started
    request.phase('boot', `${name}, waiting up to ${duration(request.timeoutMs)} for its heartbeat`)
    await startVm(ctx.runner, restored.vmId, signal)
    const poweredOn = Date.now()
    const proof = await waitForHeartbeat(ctx, restored.vmId, poweredOn, request.timeoutMs, pollMs, signal)
    const bootMs = Date.now() - poweredOn
    request.phase('proof', proof.answered ? 'the heartbeat is OK' : 'no heartbeat')
    const screenshot = await checkScreenshot(ctx, restored.vmId, request.log, signal)
    const reason = proof.answered ? `the Heartbeat integration service reported OK after ${duration(proof.ms)}` : `${proof.reason}${await silentGuestReason(request.disks[0]?.source, signal, { verb: 'answered', likely: 'integration services missing, or it hung while starting' })}`
    const timings = { restoreMs, bootMs, proofMs: Date.now() - poweredOn - bootMs }
    const leftBehind = await stack.unwind(cleanupSignal(signal))
    return { booted: proof.answered, reason, timings, leftBehind, ...(screenshot !== undefined ? { screenshot } : {}) }
  })
}

const Services = z.object({ State: z.unknown(), Services: z.unknown() })
const ServiceId = z.object({ Id: z.string().max(300).nullish() })

/** The VM's state and its Heartbeat service, found by its Id: `-Name 'Heartbeat'` finds nothing on a German host ("Takt"). */
async function readHeartbeat(ctx: HyperVContext, vmId: string, signal: AbortSignal): Promise<HeartbeatRecord> {
  const script = ps`${vmVariable(vmId)}
[pscustomobject]@{ State = $vm.State; Services = @(Hyper-V\\Get-VMIntegrationService -VM $vm | Select-Object Id, Enabled, PrimaryStatusDescription, PrimaryOperationalStatus) } | ConvertTo-Json -Depth 3 -Compress`
  const raw = await runJson(ctx.runner, script, Services, { signal, what: 'Asking the Heartbeat integration service' })
  // One service arrives as an object, none as an empty array (or null).
  const list = Array.isArray(raw.Services) ? (raw.Services as unknown[]) : raw.Services == null ? [] : [raw.Services]
  const heartbeat = list.find((s) => {
    const id = ServiceId.safeParse(s)
    return id.success && isService(id.data, 'heartbeat')
  })
  return HeartbeatRecord.parse({ State: raw.State, Heartbeat: heartbeat ?? null })
}

async function waitForHeartbeat(ctx: HyperVContext, vmId: string, poweredOn: number, timeoutMs: number, pollMs: number, signal: AbortSignal): Promise<Proof> {
  for (;;) {
    throwIfAborted(signal, 'The health check')
    const r = await readHeartbeat(ctx, vmId, signal)
    if (r.State !== 'Running') return { answered: false, reason: `the VM stopped (state ${r.State}) ${duration(Date.now() - poweredOn)} after it was started, before its heartbeat was OK` }
    const hb = r.Heartbeat
    if (hb === null || hb === undefined) return { answered: false, reason: 'the VM has no Heartbeat integration service, so Hyper-V cannot tell whether its guest is alive' }
    if (!hb.Enabled) return { answered: false, reason: "the Heartbeat integration service is turned off in the VM's settings, so Hyper-V cannot tell whether its guest is alive" }
    if (serviceOk(hb)) return { answered: true, ms: Date.now() - poweredOn }
    const last = (hb.PrimaryStatusDescription ?? '') !== '' ? (hb.PrimaryStatusDescription ?? '').slice(0, 100) : (hb.PrimaryOperationalStatus ?? 'no status')
    const left = poweredOn + timeoutMs - Date.now()
    if (left <= 0) return { answered: false, reason: `no heartbeat within ${duration(timeoutMs)} (Heartbeat integration service: ${last})` }
    await pollPause(Math.min(pollMs, left), signal)
  }
}
