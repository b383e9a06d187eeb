import { posix } from 'node:path'
import type { DomainDisk } from './domain-model'
import { parseDomainXml } from './domain-model'
import { jobTag, LOCK_DIR } from './job-lock'
import type { Virsh } from './virsh'
import { child, removeChildren, serializeXml } from './xml'
import { sh } from '../ssh/shell-quote'

export interface OverlayPlan {
  readonly disk: DomainDisk
  /** The image the VM ran on before the snapshot: frozen while the overlay takes the writes. */
  readonly base: string
  readonly overlay: string
}

/** Where a disk's temporary overlay goes: beside a file disk, in /var/tmp for a block device. Tagged with the job. */
export function overlayPath(disk: DomainDisk, jobId: string): string {
  if (disk.type === 'file' && disk.source !== undefined) return `${disk.source}.${jobTag(jobId)}`
  return posix.join(LOCK_DIR, `${jobTag(jobId)}-${disk.target}.qcow2`)
}

/** virsh --diskspec values are comma-separated; a comma inside a path is written twice. */
const spec = (s: string) => s.replace(/,/g, ',,')

/**
 * `snapshot-create-as --disk-only --atomic --no-metadata`: every listed disk switches to a fresh overlay at the same
 * instant (or none does), disks not listed are left alone. No metadata: this snapshot exists only to freeze the bases
 * while they are read, and is merged back by commitOverlays().
 */
export async function createOverlays(virsh: Virsh, dom: string, all: readonly DomainDisk[], plans: readonly OverlayPlan[], jobId: string, quiesce: boolean, signal?: AbortSignal): Promise<void> {
  const planned = new Set(plans.map((p) => p.disk.target))
  const diskspecs = all
    .filter((d) => d.device === 'disk' || d.device === 'lun')
    .flatMap((d) => ['--diskspec', planned.has(d.target) ? `${spec(d.target)},snapshot=external,file=${spec(plans.find((p) => p.disk.target === d.target)?.overlay ?? '')}` : `${spec(d.target)},snapshot=no`])
  await virsh.run(
    ['snapshot-create-as', dom, '--name', jobTag(jobId), '--description', `Lifeboat backup job ${jobId}`, '--disk-only', '--atomic', '--no-metadata', ...(quiesce ? ['--quiesce'] : []), ...diskspecs],
    { ...(signal ? { signal } : {}), timeoutMs: 300_000 },
  )
}

/**
 * Merges each overlay back into its base and switches the VM onto the base again (`blockcommit --active --pivot`),
 * then deletes the overlay file. A VM that stopped meanwhile is handled offline (qemu-img commit, definition
 * pointed back at the base). Never throws: returns what it could not undo, in plain words.
 */
export async function commitOverlays(virsh: Virsh, dom: string, vmName: string, plans: readonly OverlayPlan[], signal: AbortSignal): Promise<string[]> {
  const left: string[] = []
  for (const plan of plans) {
    let offline = false
    try {
      // The usual case first: the domain runs and merges live. Only when that fails is its state asked for.
      const r = await virsh.exec(['blockcommit', dom, plan.disk.target, '--active', '--pivot', '--wait'], { signal, timeoutMs: 6 * 3600_000 })
      if (r.code !== 0) {
        const state = await virsh.domstate(dom, signal)
        offline = state === 'shut off' || state === 'crashed'
        if (offline) await commitOffline(virsh, dom, plan, signal)
        else {
          // An earlier attempt may have left the commit job waiting for its pivot.
          const pivot = await virsh.exec(['blockjob', dom, plan.disk.target, '--pivot'], { signal })
          if (pivot.code !== 0) throw new Error(r.stderr.trim().slice(0, 300))
        }
      }
      const now = await currentSource(virsh, dom, plan.disk.target, signal)
      if (now !== plan.base) throw new Error(`the disk still runs on ${now ?? 'an unknown image'}`)
      await virsh.shell.run(sh`rm -f -- ${plan.overlay}`, { signal, timeoutMs: 60_000 })
    } catch (err) {
      left.push(
        `${vmName} disk ${plan.disk.target} still runs on the overlay ${plan.overlay} (merge failed: ${err instanceof Error ? err.message : String(err)}). ${
          offline
            ? `${vmName} is off: merge it with qemu-img commit ${plan.overlay}, point the disk back at ${plan.base} (virsh edit ${dom}), then delete ${plan.overlay}.`
            : `Merge it with: virsh blockcommit ${dom} ${plan.disk.target} --active --pivot --wait; then delete ${plan.overlay}.`
        }`,
      )
    }
  }
  return left
}

async function currentSource(virsh: Virsh, dom: string, target: string, signal: AbortSignal): Promise<string | undefined> {
  const xml = await virsh.run(['dumpxml', dom], { signal })
  return parseDomainXml(xml).info.disks.find((d) => d.target === target)?.source
}

async function commitOffline(virsh: Virsh, dom: string, plan: OverlayPlan, signal: AbortSignal): Promise<void> {
  await virsh.shell.run(sh`qemu-img commit -q -f qcow2 ${plan.overlay}`, { signal, timeoutMs: 6 * 3600_000, what: 'qemu-img commit' })
  const xml = await virsh.run(['dumpxml', '--inactive', '--security-info', dom], { signal })
  const { root } = parseDomainXml(xml)
  for (const d of root.children) {
    if (typeof d === 'string' || d.name !== 'devices') continue
    for (const disk of d.children) {
      if (typeof disk === 'string' || disk.name !== 'disk' || child(disk, 'target')?.attrs.dev !== plan.disk.target) continue
      const source = child(disk, 'source')
      if (source !== undefined) {
        if (plan.disk.type === 'block') source.attrs = { dev: plan.base }
        else source.attrs = { file: plan.base }
      }
      disk.attrs.type = plan.disk.type
      const driver = child(disk, 'driver')
      if (driver !== undefined) driver.attrs.type = plan.disk.format ?? 'raw'
      removeChildren(disk, 'backingStore')
    }
  }
  await virsh.run(['define', '/dev/stdin'], { signal, stdin: serializeXml(root) })
}
