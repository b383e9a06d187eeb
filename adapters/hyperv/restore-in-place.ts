import { randomBytes } from 'node:crypto'
import { retrying } from '../cleanup-retry'
import { AdapterError, throwIfAborted, type RestoreRequest, type RestoreResult } from '../host-adapter'
import { withUndo } from '../undo-stack'
import type { HyperVContext } from './context'
import { ps, type PsRaw } from './powershell'
import { startVm, waitForState } from './power'
import { runJson } from './ps-runner'
import { placements, upload, type Placement } from './restore-disks'
import { VHD_FIELDS, VhdRecord, VmRecord, arrayOf } from './schemas'
import type { HyperVConfig } from './vm-config'
import { isMerging, waitForMerge } from './merge'
import { checkVmId, describeVm, raw, vmVariable } from './vm-details'

const VmList = arrayOf(VmRecord.pick({ Id: true, Name: true }), 10_000)
/** A rename or removal is a change on the host: bounded, and not interrupted half-way (a cancel takes effect after it). */
const FILE_OP_MS = 120_000
const bounded = () => AbortSignal.timeout(FILE_OP_MS)

interface Target {
  readonly p: Placement
  readonly format: 'vhdx' | 'vhd'
  /** The VM's disk file, which keeps its path: Hyper-V's configuration is never touched. */
  readonly path: string
  /** The restore point's disk, written beside the original before any original is touched. */
  readonly fresh: string
  /** Where the original steps aside while the disks are swapped, until the restore stands. */
  readonly old: string
  /** "SCSI 0:1 (C:\…\db.vhdx) of db01", for every sentence that names the disk. */
  readonly label: string
}

/** The file name alone: renames stay in the disk's folder, and -NewName takes a literal name (no wildcards). */
function leaf(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) + 1)
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

async function resolveVm(ctx: HyperVContext, name: string, signal: AbortSignal): Promise<string> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(name)) return checkVmId(name)
  const all = await runJson(ctx.runner, ps`ConvertTo-Json -Compress -InputObject @(Hyper-V\\Get-VM | Select-Object ${raw('Id, Name')})`, VmList, { signal, what: 'Listing VMs' })
  const named = all.filter((v) => v.Name === name)
  if (named.length !== 1) throw new AdapterError('NOT_FOUND', named.length === 0 ? `The host has no VM "${name.slice(0, 200)}".` : `The host has ${named.length} VMs named "${name.slice(0, 200)}"; name it by its id.`)
  return (named[0] as { Id: string }).Id
}

async function fileOp(ctx: HyperVContext, script: PsRaw, what: string, signal: AbortSignal): Promise<void> {
  await ctx.runner(script, { signal, what, timeoutMs: FILE_OP_MS })
}

/** Removes each file that is there; one failed command (a lost answer, a busy host) is tried once more. */
async function removeIfThere(ctx: HyperVContext, paths: readonly string[], signal: AbortSignal): Promise<void> {
  const script = ps`foreach ($p in ${paths}) { if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Force } }`
  await retrying(() => fileOp(ctx, script, 'Removing files the restore wrote', signal), { times: 2, delayMs: () => 0 })
}

/**
 * Replaces the disks of a stopped VM, all or nothing. Every disk of the restore point is first written beside the
 * disk it replaces and checked by Hyper-V (Get-VHD); only then are the files swapped by rename, each original stepping
 * aside under a Lifeboat name; the VM is started when asked; and only when all of that worked are the originals
 * deleted. A failure or cancel at any step puts every original back under its own name (the VM's configuration is
 * never changed, so it points at them again), turns off a VM the restore started, and removes every file the restore
 * wrote. An original that cannot be put back is named with where it is and what to do.
 */
export async function restoreInPlace(ctx: HyperVContext, request: RestoreRequest, config: HyperVConfig, signal: AbortSignal): Promise<RestoreResult> {
  const conn = await ctx.connection(signal)
  const vmId = await resolveVm(ctx, request.name, signal)
  let d = await describeVm(ctx.runner, vmId, signal)
  if (isMerging(d.vm)) {
    // The files about to be replaced are still being rewritten by a merge: wait for it, then look again.
    await waitForMerge(ctx.runner, vmId, signal, { log: request.log, what: 'The restore' })
    d = await describeVm(ctx.runner, vmId, signal)
  }
  if (d.vm.State !== 'Off') throw new AdapterError('COMMAND_FAILED', `${d.vm.Name} is ${d.vm.State.toLowerCase()}; shut it down (not saved) before restoring its disks in place.`, { reason: 'invalid-state' })
  if (d.snapshots.length > 0) throw new AdapterError('NOT_SUPPORTED', `${d.vm.Name} has ${d.snapshots.length} checkpoint(s); replacing disks under checkpoints would break them. Remove the checkpoints first, or restore as a new VM.`)
  const tag = `${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`
  // Every disk is checked before any is touched: a mismatch on the second must not come after the first is replaced.
  const targets: Target[] = placements(config, request.disks).map((p) => {
    const where = `${p.controllerType} ${p.controllerNumber}:${p.controllerLocation}`
    const drive = d.drives.find((dr) => dr.ControllerType === p.controllerType && dr.ControllerNumber === p.controllerNumber && dr.ControllerLocation === p.controllerLocation)
    const path = drive?.Path ?? undefined
    if (path === undefined) throw new AdapterError('NOT_SUPPORTED', `${d.vm.Name} has no disk at ${where} for ${p.input.name}; restore as a new VM instead. Nothing was written.`)
    const v = d.vhds.get(path.toLowerCase())
    if (v?.VhdType === 'Differencing') throw new AdapterError('NOT_SUPPORTED', `${path} is a differencing disk; Lifeboat replaces only whole disks. Nothing was written.`)
    return { p, path, format: /\.vhd$/i.test(path) ? 'vhd' : 'vhdx', fresh: `${path}.lifeboat-restore-${tag}`, old: `${path}.lifeboat-before-restore-${tag}`, label: `${where} (${path}) of ${d.vm.Name}` }
  })
  const paths = targets.map((t) => t.path.toLowerCase())
  if (new Set(paths).size !== paths.length) throw new AdapterError('BAD_RESPONSE', `The restore point names one disk of ${d.vm.Name} twice. Nothing was written.`)
  const done = { bytes: 0, total: request.disks.reduce((a, x) => a + x.size, 0) }
  return await withUndo(signal, async (undo) => {
    for (const t of targets) {
      // Registered before the upload: a half-written file is removed by the upload itself, a whole one by this.
      undo.push(`remove the staged disk ${t.fresh}`, async (s) => {
        await removeIfThere(ctx, [t.fresh, `${t.fresh}.partial`], s).catch((err: unknown) => {
          throw new AdapterError('COMMAND_FAILED', `${t.fresh} (written by the restore, not in use by ${d.vm.Name}) is still there; delete it. (${message(err)})`)
        })
      })
      await upload(conn, t.p.input, t.fresh, t.format, request, done, signal)
    }
    throwIfAborted(signal, 'The restore')
    request.phase('checking the new disks', d.vm.Name)
    const staged = await runJson(ctx.runner, ps`ConvertTo-Json -Compress -Depth 3 -InputObject @(Hyper-V\\Get-VHD -Path ${targets.map((t) => t.fresh)} | Select-Object ${raw(VHD_FIELDS)})`, arrayOf(VhdRecord, 256), { signal, what: 'Checking the restored disk files' })
    for (const t of targets) {
      const v = staged.find((x) => x.Path.toLowerCase() === t.fresh.toLowerCase())
      if (v === undefined || v.VhdFormat !== t.format.toUpperCase() || v.VhdType === 'Differencing' || v.Size < t.p.input.size) {
        throw new AdapterError('BAD_RESPONSE', `Hyper-V does not read the file written for ${t.label} as a whole ${t.format.toUpperCase()} of ${t.p.input.size} bytes (${v === undefined ? 'not listed' : `${v.VhdFormat} ${v.VhdType}, ${v.Size} bytes`}).`)
      }
    }
    throwIfAborted(signal, 'The restore')
    // Hyper-V gave the VM's account (NT VIRTUAL MACHINE\<VM id>) access to each original when it was attached; a file
    // renamed into place keeps only what it inherited from the folder, and Start-VM would be refused (0x80070005). So
    // each new file gets its original's security descriptor, for every disk before any original is touched (the
    // staged files are still the restore's own: the undo above removes them).
    for (const t of targets) {
      await fileOp(ctx, ps`Get-Acl -LiteralPath ${t.path} | Set-Acl -LiteralPath ${t.fresh}`, `Giving the restored disk the permissions of ${t.path}`, signal)
      throwIfAborted(signal, 'The restore')
    }
    request.phase('replacing disks', d.vm.Name)
    for (const t of targets) {
      // Registered before the first rename, and it looks before it acts: whichever of the two renames happened
      // (even one whose answer was lost), the original ends up under its own name and nothing else does.
      undo.push(`put the original ${t.label} back`, async (s) => {
        await fileOp(ctx, ps`if (Test-Path -LiteralPath ${t.old}) {\n  if (Test-Path -LiteralPath ${t.path}) { Remove-Item -LiteralPath ${t.path} -Force }\n  Rename-Item -LiteralPath ${t.old} -NewName ${leaf(t.path)}\n}`, `Putting back the original ${t.path}`, s).catch((err: unknown) => {
          throw new AdapterError('COMMAND_FAILED', `The original ${t.label} is at ${t.old} and could not be renamed back (${message(err)}). Before starting ${d.vm.Name}: delete ${t.path} if it is there, then rename ${t.old} to ${leaf(t.path)}.`)
        })
      })
      await fileOp(ctx, ps`Rename-Item -LiteralPath ${t.path} -NewName ${leaf(t.old)}`, `Setting the original ${t.path} aside`, bounded())
      throwIfAborted(signal, 'The restore')
      await fileOp(ctx, ps`Rename-Item -LiteralPath ${t.fresh} -NewName ${leaf(t.path)}`, `Putting the restored disk in place of ${t.path}`, bounded())
      throwIfAborted(signal, 'The restore')
    }
    let started = false
    if (request.start) {
      request.phase('starting', d.vm.Name)
      // Registered before: a start whose answer is lost may still complete, and the originals can only go back
      // under a VM that is off.
      undo.push(`turn ${d.vm.Name} off again`, async (s) => {
        await waitForState(ctx.runner, vmId, ['Off', 'Running', 'Saved', 'Paused'], 120_000, s)
        await ctx.runner(ps`${vmVariable(vmId)}\nif ($vm.State -ne 'Off') { Hyper-V\\Stop-VM -VM $vm -TurnOff -Force }`, { signal: s, what: 'Turning the VM off again', timeoutMs: 300_000 })
      })
      await startVm(ctx.runner, vmId, signal)
      started = true
    }
    // Every disk is replaced (and the VM started when asked): the restore stands, and the originals go.
    undo.commit()
    const leftBehind: string[] = []
    await removeIfThere(ctx, targets.map((t) => t.old), bounded()).catch((err: unknown) => {
      leftBehind.push(`The original disks of ${d.vm.Name} may still be beside the restored ones (${targets.map((t) => t.old).join(', ')}; ${message(err)}); delete them when the VM works.`)
    })
    return { vmId, name: d.vm.Name, disks: targets.map((t) => ({ name: t.p.input.name, path: t.path, format: t.format })), started, leftBehind }
  })
}
