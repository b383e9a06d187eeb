import type { Readable } from 'node:stream'
import { AdapterError, type VmArchiveCapability } from '../host-adapter'
import { withUndo, type UndoStack } from '../undo-stack'
import { loadState } from './live-inventory'
import { TAG } from './tags'
import { markedSnapshot } from './marked-snapshot'
import type { XapiClient } from './xapi-client'
import { destroyQuietly, refByUuid, setOtherConfig } from './xapi-objects'
import { VBDRecord, VMRecord } from './xapi-records.generated'
import { isNullRef } from './xapi-schema-kit'
import { persistently } from '../cleanup-retry'
import { createTask, isCode, madeAnyway, resultRefs, runTask, settleTask, waitForTask } from './xapi-tasks'

const HEARTBEAT_MS = 60_000
/** Cleanup after the archive was fully sent runs on its own clock: a cancel then must not leave the snapshot behind. */
const CLEANUP_MS = 10 * 60_000

/**
 * Removes a transfer task. One the pool still works on is cancelled first; one no transfer ever took up refuses the
 * cancel, which does not matter: it is destroyed either way.
 */
async function dropTask(client: XapiClient, task: string, signal: AbortSignal): Promise<void> {
  await client.call('task.cancel', [task], signal).catch(() => undefined)
  await destroyQuietly(client, 'task', task, signal)
}

/**
 * An undo that removes a VM with its disks and memory image (the VM record alone would leave the disks). What it
 * learnt on a first try is kept for the next, so a retry after the VM record went still removes the disks.
 */
function removeVmWithDisks(client: XapiClient, vm: (signal: AbortSignal) => Promise<string | undefined>): (signal: AbortSignal) => Promise<void> {
  let found: { ref: string; vdis: string[] } | null | undefined
  return async (signal) => {
    if (found === undefined) {
      const ref = await vm(signal)
      const record = ref === undefined ? undefined : await client.record('VM', ref, VMRecord, signal).catch((err: unknown) => {
        if (isCode(err, 'HANDLE_INVALID')) return undefined
        throw err
      })
      if (ref === undefined || record === undefined) found = null
      else {
        const vdis = isNullRef(record.suspend_VDI) ? [] : [record.suspend_VDI]
        for (const vbdRef of record.VBDs) {
          const vbd = await client.record('VBD', vbdRef, VBDRecord, signal)
          if (vbd.type === 'Disk' && !isNullRef(vbd.VDI)) vdis.push(vbd.VDI)
        }
        found = { ref, vdis }
      }
    }
    if (found === null) return
    await destroyQuietly(client, 'VM', found.ref, signal)
    for (const v of found.vdis) await destroyQuietly(client, 'VDI', v, signal)
  }
}

/** How long cleanup waits for the pool to end an import Lifeboat gave up on, to learn whether it made a VM. */
const IMPORT_SETTLE_MS = 2 * 60_000

/** The VM an import task made, once the task has ended (undefined when it failed, was cancelled, or is gone). */
async function importedVm(client: XapiClient, task: string, signal: AbortSignal): Promise<string | undefined> {
  const record = await settleTask(client, task, AbortSignal.any([signal, AbortSignal.timeout(IMPORT_SETTLE_MS)]))
  return record?.status === 'success' ? resultRefs(record.result)[0] : undefined
}

/**
 * XVA files: /export streams a VM (a running VM through a temporary, tagged snapshot that is removed afterwards),
 * /import creates a new VM from one on the chosen SR. Lifeboat moves the bytes; the pool writes and reads the format.
 * Each change on the pool registers its undo on the flow's stack right after it is made (or right before, where the
 * pool may complete it although Lifeboat lost its answer); what could not be undone is named in the thrown error, or
 * in `leftBehind` when the transfer itself succeeded.
 */
export class XapiArchive implements VmArchiveCapability {
  readonly format = 'xva' as const

  constructor(private readonly client: (signal: AbortSignal) => Promise<XapiClient>) {}

  async export(
    vmId: string,
    sink: (data: AsyncIterable<Buffer>) => Promise<void>,
    options: { readonly progress?: (bytesDone: number, bytesTotal?: number) => void },
    signal: AbortSignal,
  ): Promise<{ bytes: number; leftBehind: string[] }> {
    const client = await this.client(signal)
    const vmRef = await refByUuid(client, 'VM', vmId, signal)
    const vm = await client.record('VM', vmRef, VMRecord, signal)
    return await withUndo(signal, async (undo) => {
      const running = vm.power_state === 'Running' || vm.power_state === 'Paused'
      const source = running ? await this.temporarySnapshot(client, vmRef, vm, undo, signal) : vmRef
      const task = await createTask(client, `Lifeboat: XVA export of ${vm.name_label}`)
      undo.push(`remove the XVA export task of ${vm.name_label}`, persistently((s) => dropTask(client, task, s)))
      let bytes = 0
      let body: Readable | undefined
      try {
        body = (await client.http.get('/export', { query: { ref: source, use_compression: 'false', task_id: task }, signal })).body
        const stream = body
        const counted = async function* (): AsyncGenerator<Buffer> {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            bytes += chunk.length
            options.progress?.(bytes)
            yield chunk
          }
        }
        await sink(counted())
      } catch (err) {
        if (signal.aborted) throw new AdapterError('CANCELLED', 'The XVA export was cancelled.')
        throw err
      } finally {
        // A sink that gave up early leaves the response unread: release the connection rather than leave it open.
        // Dropping it on purpose makes undici report an abort that nobody reads any more.
        if (body !== undefined && !body.readableEnded) body.on('error', () => undefined).destroy()
      }
      if (bytes < 1024) throw new AdapterError('BAD_RESPONSE', 'The pool sent an XVA too short to hold a VM.')
      return { bytes, leftBehind: await undo.unwind(AbortSignal.timeout(CLEANUP_MS)) }
    })
  }

  /**
   * A tagged snapshot of a running VM to export from. The VM carries Lifeboat's marker while the snapshot is taken,
   * so the snapshot inherits it and a crash right after leaves it findable; its disks are tagged too, and a heartbeat
   * keeps a long export's snapshot from looking like a leftover.
   */
  private async temporarySnapshot(client: XapiClient, vmRef: string, vm: VMRecord, undo: UndoStack, signal: AbortSignal): Promise<string> {
    const name = vm.name_label
    const { snapRef, marks } = await markedSnapshot(
      client,
      undo,
      {
        vmRef,
        // Named like the VM, because an imported XVA takes the name of what was exported.
        method: 'VM.snapshot',
        // Without ignore_vdis (added in XAPI 21.4.0): an older pool refuses a third argument (see backup.ts).
        args: [vmRef, name],
        fields: { job: 'xva-export', vm: vm.uuid },
        markerLabel: `remove Lifeboat's marker from ${name}`,
        markerUndo: persistently,
        register: (ref) => undo.push(`remove the temporary snapshot of ${name} (with its disks)`, persistently(removeVmWithDisks(client, () => Promise.resolve(ref)))),
      },
      signal,
    )
    // A snapshot is a template, and an XVA import keeps that flag: the imported copy would refuse VM.start
    // (VM_IS_TEMPLATE) and be no VM in the inventory. Xen Orchestra clears it before an export for the same reason.
    await client.call('VM.set_is_a_template', [snapRef, false], signal)
    const snap = await client.record('VM', snapRef, VMRecord, signal)
    const vdis: string[] = []
    for (const vbdRef of snap.VBDs) {
      const vbd = await client.record('VBD', vbdRef, VBDRecord, signal)
      if (vbd.type !== 'Disk' || vbd.empty || isNullRef(vbd.VDI)) continue
      vdis.push(vbd.VDI)
      await setOtherConfig(client, 'VDI', vbd.VDI, marks, signal)
    }
    const heartbeat = setInterval(() => {
      const now = { [TAG.heartbeat]: new Date().toISOString() }
      const beat = AbortSignal.timeout(30_000)
      // A missed heartbeat only makes the snapshot look stale sooner; the export goes on.
      void (async () => {
        await setOtherConfig(client, 'VM', snapRef, now, beat)
        for (const v of vdis) await setOtherConfig(client, 'VDI', v, now, beat)
      })().catch(() => undefined)
    }, HEARTBEAT_MS)
    heartbeat.unref()
    undo.push('stop the heartbeat', () => clearInterval(heartbeat))
    return snapRef
  }

  async import(
    source: { readonly size: number; readonly open: () => AsyncIterable<Uint8Array> },
    options: { readonly storage?: string; readonly start?: boolean; readonly progress?: (bytesDone: number, bytesTotal?: number) => void },
    signal: AbortSignal,
  ): Promise<{ vmId: string; name: string; started: boolean; leftBehind: string[] }> {
    const client = await this.client(signal)
    const { state } = await loadState(client, signal)
    const pool = [...state.pool.values()][0]
    const sr = options.storage === undefined ? pool?.default_SR : [...state.SR].find(([, s]) => s.uuid === options.storage || s.name_label === options.storage)?.[0]
    if (sr === undefined) throw new AdapterError('NOT_FOUND', `The pool has no storage repository "${options.storage ?? '(default)'}".`)
    return await withUndo(signal, async (undo) => {
      const task = await createTask(client, 'Lifeboat: XVA import')
      undo.push('remove the XVA import task', persistently((s) => dropTask(client, task, s)))
      let vmRef: string | undefined
      // Registered before the upload: the pool may finish the import although Lifeboat lost its answer (a cancel, a
      // broken connection); the task then names the VM. A failed import the pool rolls back itself.
      const imported = undo.push(
        'remove the VM the XVA import created, with its disks',
        persistently(removeVmWithDisks(client, async (s) => vmRef ?? (await importedVm(client, task, s)))),
      )
      const counted = async function* (): AsyncGenerator<Uint8Array> {
        let done = 0
        for await (const chunk of source.open()) {
          done += chunk.length
          options.progress?.(done, source.size)
          yield chunk
        }
      }
      await client.http.put('/import', { query: { sr_id: sr, task_id: task }, signal, length: source.size, body: counted })
      try {
        vmRef = resultRefs(await waitForTask(client, task, 'the XVA import', { signal }))[0]
      } catch (err) {
        vmRef = madeAnyway(err)
        throw err
      }
      if (vmRef === undefined) throw new AdapterError('BAD_RESPONSE', 'The import finished without naming the new VM.')
      const made = vmRef
      // An XVA exported elsewhere straight from a snapshot imports as a template; the admin asked for a VM.
      if ((await client.record('VM', made, VMRecord, signal)).is_a_template) await client.call('VM.set_is_a_template', [made, false], signal)
      const vm = await client.record('VM', made, VMRecord, signal)
      let started = false
      if (options.start === true) {
        // Registered before: a start Lifeboat cancelled may still complete on the pool.
        const stop = undo.push(`shut the imported VM ${vm.name_label} down`, persistently(async (s) => {
          if (String(await client.call('VM.get_power_state', [made], s)) !== 'Halted') await runTask(client, 'VM.hard_shutdown', [made], { signal: s })
        }))
        await runTask(client, 'VM.start', [made, false, false], { signal })
        stop.done()
        started = true
      }
      imported.done()
      return { vmId: vm.uuid, name: vm.name_label, started, leftBehind: await undo.unwind(AbortSignal.timeout(CLEANUP_MS)) }
    })
  }
}
