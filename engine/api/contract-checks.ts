import { z } from 'zod'
import { defineChannel } from './contract-core'
import type { HostKindDto } from './contract-hosts'

/**
 * Health checks: a restore point brought up as a temporary VM with no network on a saved host, booted, and asked for
 * proof of life (KVM: the QEMU guest agent answers, and the admin's command exits 0). The verdict is kept with the
 * restore point (`lastCheck` in points.list / points.get); the temporary VM and its files are removed on every path.
 */
export const PointCheckDtoSchema = z.object({
  pointId: z.string(),
  /** The repository the point is in (its id), so a check is never shown for a same-named point elsewhere. */
  repositoryId: z.string(),
  jobId: z.string(),
  host: z.object({ id: z.string(), name: z.string() }),
  checkedAt: z.string(),
  verdict: z.enum(['booted', 'failed']),
  /** "Booted — the guest agent answered after 14 s" / "Failed — no answer from the guest agent within 10 min". */
  summary: z.string(),
  /** Why, in plain words (the host's own where it said something). */
  reason: z.string(),
  /** Milliseconds: writing the disks, from power-on to the answer (or the verdict), proving (command, screenshot). */
  timings: z.object({ restoreMs: z.number(), bootMs: z.number(), proofMs: z.number(), totalMs: z.number() }),
  /** The console as the check ended, kept in Lifeboat's data folder (KVM, Hyper-V: PNG, or PPM; XenServer: JPEG). */
  screenshot: z.object({ path: z.string(), format: z.enum(['png', 'ppm', 'jpeg']) }).optional(),
  command: z.object({ commandLine: z.string(), exitCode: z.number(), output: z.string() }).optional(),
})
export type PointCheckDto = z.infer<typeof PointCheckDtoSchema>

export const DEFAULT_CHECK_TIMEOUT_SEC = 600

export const pointsCheck = defineChannel(
  'points.check',
  z.object({
    point: z.string().min(1).max(200),
    repo: z.string().min(1).max(4096).optional(),
    /** The saved host that runs the temporary VM. */
    host: z.string().min(1).max(200),
    /** How long the guest has, from power-on, to answer (and run the command). */
    timeoutSec: z.number().int().min(5).max(24 * 3600).default(DEFAULT_CHECK_TIMEOUT_SEC),
    /** A shell command line run in the guest once it answers; the check passes only when it exits 0. */
    command: z.string().min(1).max(4096).optional(),
  }),
  z.object({ jobId: z.string() }),
  'Boot a restore point as a temporary VM with no network on a host and wait for proof of life (a job; its result is the verdict, also kept with the point).',
)

/**
 * Host kinds whose adapter can run a health check in this version: KVM/libvirt (agent ping), XenServer/XCP-ng (guest
 * metrics from the PV drivers) and Hyper-V (Heartbeat). A point boots only on a host of its own kind, as a restore
 * does; the UI lists the other hosts with that reason instead of hiding them.
 */
export const hostKindsThatCheck: readonly HostKindDto[] = ['linux', 'xenserver', 'hyperv']

/** The largest screenshot served (a 4K console PNG is a few MiB; anything bigger is not one Lifeboat kept). */
export const MAX_CHECK_SCREENSHOT_BYTES = 16 * 1024 * 1024

export const pointsCheckScreenshot = defineChannel(
  'points.checkScreenshot',
  z.object({ point: z.string().min(1).max(200), repo: z.string().min(1).max(4096).optional() }),
  z.object({ jobId: z.string(), checkedAt: z.string(), mimeType: z.enum(['image/png', 'image/jpeg']), dataBase64: z.string() }),
  "The console screenshot kept with a restore point's last health check (PNG or JPEG, as `mimeType` says; base64), so a window shows it without knowing where Lifeboat keeps its files. A PPM (kept when a KVM screenshot could not be converted) is not served.",
)
