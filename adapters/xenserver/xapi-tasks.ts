import { AdapterError } from '../host-adapter'
import type { XapiClient } from './xapi-client'
import { mapXapiError, xapiCode } from './xapi-errors'
import { TaskRecord } from './xapi-records.generated'

export interface TaskOptions {
  readonly signal: AbortSignal
  /** Fraction done (0…1), as XAPI reports it. */
  readonly onProgress?: (fraction: number) => void
  /** How long to wait for the task to end after task.cancel (it may finish anyway). */
  readonly cancelGraceMs?: number
}

/** Polls of a task that may fail in a row before the wait gives up. */
const MAX_FAILED_POLLS = 5

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

/** References in a task result (XAPI serialises results as XML-RPC values: <value>OpaqueRef:…</value>). */
export function resultRefs(result: string): string[] {
  if (result.length > 1_000_000) throw new AdapterError('BAD_RESPONSE', 'The pool sent an oversized task result.')
  return [...result.matchAll(/OpaqueRef:[A-Za-z0-9-]{1,64}/g)].map((m) => m[0]).filter((r) => r !== 'OpaqueRef:NULL')
}

/**
 * Waits for an XAPI task, reporting its progress. When the signal fires, the task is cancelled on the pool
 * (task.cancel) and waited for a little, so the pool is not left working for nobody. The task is destroyed at the end.
 */
export async function waitForTask(client: XapiClient, task: string, what: string, options: TaskOptions): Promise<string> {
  let cancelSent = false
  let delay = 50
  let deadline: number | undefined
  let lastProgress = -1
  let failedPolls = 0
  try {
    for (;;) {
      if (options.signal.aborted && !cancelSent) {
        cancelSent = true
        deadline = Date.now() + (options.cancelGraceMs ?? 30_000)
        await client.call('task.cancel', [task]).catch(() => undefined)
      }
      let record: TaskRecord
      try {
        record = await client.record('task', task, TaskRecord)
        failedPolls = 0
      } catch (err) {
        // A poll is only a read: one that fails (a dropped connection, a busy pool) must not make Lifeboat lose
        // track of a task that goes on working on the pool. Give up only when the pool keeps failing, or the task is gone.
        if (++failedPolls >= MAX_FAILED_POLLS || isCode(err, 'HANDLE_INVALID')) throw err
        await sleep(delay)
        continue
      }
      if (record.progress !== lastProgress && Number.isFinite(record.progress)) {
        lastProgress = record.progress
        options.onProgress?.(Math.max(0, Math.min(1, record.progress)))
      }
      if (record.status === 'success') {
        if (cancelSent) throw new AdapterError('CANCELLED', `${what} was cancelled, but the pool finished it anyway.`, { finished: true, result: record.result.slice(0, 200) })
        return record.result
      }
      if (record.status === 'failure') {
        const [code, ...params] = record.error_info
        throw mapXapiError(Object.assign(new Error(code ?? 'task failed'), { code: code ?? 'INTERNAL_ERROR', params }))
      }
      if (record.status === 'cancelled') throw new AdapterError('CANCELLED', `${what} was cancelled.`, { xapiCode: 'TASK_CANCELLED' })
      if (deadline !== undefined && Date.now() > deadline) throw new AdapterError('CANCELLED', `${what} was cancelled; the pool has not stopped it yet (task ${task}).`)
      await sleep(delay, cancelSent ? undefined : options.signal)
      delay = Math.min(1000, Math.round(delay * 1.5))
    }
  } finally {
    await client.call('task.destroy', [task]).catch(() => undefined)
  }
}

/** Runs `Async.<method>` and waits for it (see waitForTask). Returns the raw result (XML-RPC value text). */
export async function runTask(client: XapiClient, method: string, args: readonly unknown[], options: TaskOptions): Promise<string> {
  if (options.signal.aborted) throw new AdapterError('CANCELLED', `${method} was cancelled.`)
  const task = await client.call(`Async.${method}`, args)
  if (typeof task !== 'string' || !/^OpaqueRef:[A-Za-z0-9-]+$/.test(task)) throw new AdapterError('BAD_RESPONSE', `The pool answered Async.${method} without a task.`)
  return await waitForTask(client, task, method, options)
}

/** The one reference a task returns (VM.snapshot, VM.checkpoint …). */
export async function runTaskForRef(client: XapiClient, method: string, args: readonly unknown[], options: TaskOptions): Promise<string> {
  const refs = resultRefs(await runTask(client, method, args, options))
  const ref = refs[0]
  if (ref === undefined) throw new AdapterError('BAD_RESPONSE', `${method} finished without naming what it created.`)
  return ref
}

/**
 * What a task made although the caller saw it fail: a task the pool finished after Lifeboat cancelled it, or one that
 * failed half-way naming its result. The caller registers its undo before rethrowing.
 */
export function madeAnyway(err: unknown): string | undefined {
  const result = err instanceof AdapterError ? err.params.result : undefined
  return typeof result === 'string' ? resultRefs(result)[0] : undefined
}

/** A task for an HTTP transfer (task_id=), so the transfer shows progress and can be cancelled on the pool. */
export async function createTask(client: XapiClient, label: string): Promise<string> {
  const task = await client.call('task.create', [label, 'Lifeboat'])
  if (typeof task !== 'string' || !/^OpaqueRef:[A-Za-z0-9-]+$/.test(task)) throw new AdapterError('BAD_RESPONSE', 'The pool did not create a task.')
  return task
}

export function isCode(err: unknown, ...codes: string[]): boolean {
  const code = xapiCode(err)
  return code !== undefined && codes.includes(code)
}

/**
 * How a task Lifeboat gave up on ended: cancelled on the pool if it still runs, then polled until it ends (bounded by
 * `signal`). Undefined when the task is gone. Cleanup asks this to learn what the pool made although Lifeboat lost
 * its answer (an import that finished as the job was cancelled).
 */
export async function settleTask(client: XapiClient, task: string, signal: AbortSignal): Promise<TaskRecord | undefined> {
  const read = () =>
    client.record('task', task, TaskRecord, signal).catch((err: unknown) => {
      if (isCode(err, 'HANDLE_INVALID')) return undefined
      throw err
    })
  let record = await read()
  // A pending task that cannot be cancelled is one no handler took up (XAPI marks a task cancellable when a transfer
  // takes it): nothing works on it, so there is nothing to wait for.
  if (record?.status === 'pending' && !record.allowed_operations.includes('cancel')) return record
  if (record?.status === 'pending') {
    // A task that ended in the meantime refuses the cancel; the polls below say how it ended either way.
    await client.call('task.cancel', [task], signal).catch(() => undefined)
  }
  let delay = 50
  while (record !== undefined && (record.status === 'pending' || record.status === 'cancelling')) {
    await sleep(delay, signal)
    if (signal.aborted) throw new AdapterError('CANCELLED', `The pool has not stopped task ${task} yet.`)
    delay = Math.min(1000, Math.round(delay * 1.5))
    record = await read()
  }
  return record
}
