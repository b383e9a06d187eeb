import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { AdapterError } from '../host-adapter'
import type { XapiClient } from './xapi-client'
import { isCode } from './xapi-tasks'
import { TAG } from './tags'

const Ref = z.string().regex(/^OpaqueRef:[A-Za-z0-9-]{1,64}$/)

/** The reference of an object by uuid; NOT_FOUND when the pool has no such object. */
export async function refByUuid(client: XapiClient, cls: string, uuid: string, signal?: AbortSignal): Promise<string> {
  if (!/^[0-9a-f-]{36}$/i.test(uuid)) throw new AdapterError('NOT_FOUND', `"${uuid.slice(0, 80)}" is not a ${cls} uuid.`)
  try {
    const ref = Ref.safeParse(await client.call(`${cls}.get_by_uuid`, [uuid.toLowerCase()], signal))
    if (!ref.success) throw new AdapterError('BAD_RESPONSE', `The pool answered ${cls}.get_by_uuid with something that is not a reference.`)
    return ref.data
  } catch (err) {
    if (isCode(err, 'UUID_INVALID', 'HANDLE_INVALID')) throw new AdapterError('NOT_FOUND', `The pool has no ${cls} ${uuid}.`, { uuid })
    throw err
  }
}

/** The reference of an object by uuid, or undefined when it no longer exists. */
export async function findByUuid(client: XapiClient, cls: string, uuid: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return await refByUuid(client, cls, uuid, signal)
  } catch (err) {
    if (err instanceof AdapterError && err.code === 'NOT_FOUND') return undefined
    throw err
  }
}

/** Sets keys in an object's other_config (remove first, so an existing key does not fail with MAP_DUPLICATE_KEY). */
export async function setOtherConfig(client: XapiClient, cls: string, ref: string, entries: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<void> {
  for (const [key, value] of Object.entries(entries)) {
    await client.call(`${cls}.remove_from_other_config`, [ref, key], signal)
    await client.call(`${cls}.add_to_other_config`, [ref, key, value], signal)
  }
}

export async function removeOtherConfig(client: XapiClient, cls: string, ref: string, keys: readonly string[], signal?: AbortSignal): Promise<void> {
  for (const key of keys) await client.call(`${cls}.remove_from_other_config`, [ref, key], signal)
}

/** The keys a snapshot or pending marker carries (not lifeboat:restored-from, which stays on restored VMs). */
export const allTagKeys: readonly string[] = [TAG.purpose, TAG.created, TAG.job, TAG.vm, TAG.disk, TAG.label, TAG.expires, TAG.heartbeat]

/**
 * Pauses between tries of a call the pool answers VDI_IN_USE, about 45 s in all. A transfer's dom0 VBD (xapi-nbd,
 * /export_raw_vdi, /import_raw_vdi) is unplugged and destroyed a moment after the client saw the transfer end, and
 * VDI.destroy does not wait for it (xen-api ocaml/xapi/xapi_vdi.ml; data_destroy waits 4 s). Xen Orchestra retries
 * such calls for 50 s.
 */
const IN_USE_PAUSES_MS = [200, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000, 5000, 5000]

/** Runs `call` again while the pool answers VDI_IN_USE (see IN_USE_PAUSES_MS); the last answer stands. */
export async function whileInUse<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (const pause of IN_USE_PAUSES_MS) {
    try {
      return await call()
    } catch (err) {
      if (!isCode(err, 'VDI_IN_USE')) throw err
    }
    await sleep(pause, undefined, signal !== undefined ? { signal } : {})
  }
  return await call()
}

/** Ignores "it is gone already" (HANDLE_INVALID) from a destroy; a VDI still held by a transfer is tried again. */
export async function destroyQuietly(client: XapiClient, cls: string, ref: string, signal?: AbortSignal): Promise<void> {
  try {
    if (cls === 'VDI') await whileInUse(() => client.call(`${cls}.destroy`, [ref], signal), signal)
    else await client.call(`${cls}.destroy`, [ref], signal)
  } catch (err) {
    if (!isCode(err, 'HANDLE_INVALID')) throw err
  }
}
