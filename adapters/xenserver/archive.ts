import { AdapterError, type VmArchiveCapability } from '../host-adapter'
import { loadState } from './live-inventory'
import { destroySnapshot } from './snapshots'
import { tags } from './tags'
import type { XapiClient } from './xapi-client'
import { refByUuid, setOtherConfig } from './xapi-objects'
import { VMRecord } from './xapi-records.generated'
import { createTask, resultRefs, runTask, runTaskForRef, waitForTask } from './xapi-tasks'

/**
 * XVA files: /export streams a VM (a running VM through a temporary, tagged snapshot that is removed afterwards),
 * /import creates a new VM from one on the chosen SR. Lifeboat moves the bytes; the pool writes and reads the format.
 */
export class XapiArchive implements VmArchiveCapability {
  readonly format = 'xva' as const

  constructor(private readonly client: (signal: AbortSignal) => Promise<XapiClient>) {}

  async export(vmId: string, sink: (data: AsyncIterable<Buffer>) => Promise<void>, options: { readonly progress?: (bytesDone: number, bytesTotal?: number) => void }, signal: AbortSignal): Promise<{ bytes: number }> {
    const client = await this.client(signal)
    const vmRef = await refByUuid(client, 'VM', vmId, signal)
    const vm = await client.record('VM', vmRef, VMRecord, signal)
    let source = vmRef
    let temporary: string | undefined
    try {
      if (vm.power_state === 'Running' || vm.power_state === 'Paused') {
        // Named like the VM, because an imported XVA takes the name of what was exported.
        temporary = await runTaskForRef(client, 'VM.snapshot', [vmRef, vm.name_label, []], { signal })
        await setOtherConfig(client, 'VM', temporary, tags('backup', { vm: vm.uuid, job: 'xva-export' }), signal)
        source = temporary
      }
      const task = await createTask(client, `Lifeboat: XVA export of ${vm.name_label}`)
      const onAbort = () => void client.call('task.cancel', [task]).catch(() => undefined)
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        const { body } = await client.http.get('/export', { query: { ref: source, use_compression: 'false', task_id: task }, signal })
        let bytes = 0
        const counted = async function* (): AsyncGenerator<Buffer> {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            bytes += chunk.length
            options.progress?.(bytes)
            yield chunk
          }
        }
        await sink(counted())
        if (bytes < 1024) throw new AdapterError('BAD_RESPONSE', 'The pool sent an XVA too short to hold a VM.')
        return { bytes }
      } catch (err) {
        if (signal.aborted) throw new AdapterError('CANCELLED', 'The XVA export was cancelled.')
        throw err
      } finally {
        signal.removeEventListener('abort', onAbort)
        await client.call('task.destroy', [task]).catch(() => undefined)
      }
    } finally {
      if (temporary !== undefined) {
        const snapshot = temporary
        const cleanup = AbortSignal.timeout(5 * 60_000)
        const record = await client.record('VM', snapshot, VMRecord, cleanup).catch(() => undefined)
        if (record !== undefined) await destroySnapshot(client, snapshot, record, cleanup).catch(() => undefined)
      }
    }
  }

  async import(
    source: { readonly size: number; readonly open: () => AsyncIterable<Uint8Array> },
    options: { readonly storage?: string; readonly start?: boolean; readonly progress?: (bytesDone: number, bytesTotal?: number) => void },
    signal: AbortSignal,
  ): Promise<{ vmId: string; name: string; started: boolean }> {
    const client = await this.client(signal)
    const { state } = await loadState(client, signal)
    const pool = [...state.pool.values()][0]
    const sr = options.storage === undefined ? pool?.default_SR : [...state.SR].find(([, s]) => s.uuid === options.storage || s.name_label === options.storage)?.[0]
    if (sr === undefined) throw new AdapterError('NOT_FOUND', `The pool has no storage repository "${options.storage ?? '(default)'}".`)
    const task = await createTask(client, 'Lifeboat: XVA import')
    const onAbort = () => void client.call('task.cancel', [task]).catch(() => undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    let vmRef: string | undefined
    try {
      const counted = async function* (): AsyncGenerator<Uint8Array> {
        let done = 0
        for await (const chunk of source.open()) {
          done += chunk.length
          options.progress?.(done, source.size)
          yield chunk
        }
      }
      await client.http.put('/import', { query: { sr_id: sr, task_id: task }, signal, length: source.size, body: counted })
      vmRef = resultRefs(await waitForTask(client, task, 'the XVA import', { signal }))[0]
      if (vmRef === undefined) throw new AdapterError('BAD_RESPONSE', 'The import finished without naming the new VM.')
      const vm = await client.record('VM', vmRef, VMRecord, signal)
      let started = false
      if (options.start === true) {
        await runTask(client, 'VM.start', [vmRef, false, false], { signal })
        started = true
      }
      return { vmId: vm.uuid, name: vm.name_label, started }
    } finally {
      signal.removeEventListener('abort', onAbort)
      await client.call('task.destroy', [task]).catch(() => undefined)
    }
  }
}
