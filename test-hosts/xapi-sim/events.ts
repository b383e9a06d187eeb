import type { SimCore } from './core'
import type { XapiValue } from './datamodel-values'
import { fault } from './errors'

const pad = (n: number) => `${String(n).padStart(20, '0')},${'0'.repeat(20)}`
const MAX_WAIT_S = 60

function parseToken(token: string): number | undefined {
  if (token === '') return undefined
  const m = /^(\d{1,20})(,\d{1,20})?$/.exec(token)
  if (!m?.[1]) throw fault('EVENT_FROM_TOKEN_PARSE_FAILURE', token)
  return Number(m[1])
}

/**
 * event.from: with the empty token every object of the classes (as "add"), then whatever changed after the token,
 * one event per object (the newest state), waiting up to `timeout` seconds for something to happen. A token whose
 * events are no longer kept fails with EVENTS_LOST; a session that expires meanwhile with SESSION_INVALID.
 */
export async function eventFrom(core: SimCore, session: string, classes: readonly string[], token: string, timeout: number, signal?: AbortSignal): Promise<XapiValue> {
  const db = core.db
  const wanted = new Set<string>()
  for (const c of classes) {
    if (c === '*') {
      for (const name of Object.keys(db.model.data.classes)) if (db.model.hasClassAt(name, core.xapiVersion)) wanted.add(name)
      continue
    }
    const name = db.model.className(c.split('/')[0] ?? '')
    if (name === undefined || !db.model.hasClassAt(name, core.xapiVersion)) throw fault('EVENT_SUBSCRIPTION_PARSE_FAILURE', c)
    wanted.add(name)
  }
  const since = parseToken(token)
  const counts = (): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const cls of wanted) out[cls.toLowerCase()] = db.all(cls).length
    return out
  }
  const event = (id: number, cls: string, ref: string, operation: string, timestamp: string) => {
    const snapshot = db.model.recordAt(cls, db.snapshotOf(cls, ref) ?? {}, core.xapiVersion)
    return db.model.newRecord('event', { id, timestamp, class: cls.toLowerCase(), operation, ref, obj_uuid: typeof snapshot.uuid === 'string' ? snapshot.uuid : '', snapshot: { ...snapshot } })
  }
  if (since === undefined) {
    const events: XapiValue[] = []
    const gen = db.currentGeneration
    for (const cls of wanted) for (const [ref] of db.all(cls)) events.push(event(gen, cls, ref, 'add', new Date().toISOString()))
    return { events, valid_ref_counts: counts(), token: pad(gen) }
  }
  const deadline = Date.now() + Math.max(0, Math.min(MAX_WAIT_S, Number.isFinite(timeout) ? timeout : 0)) * 1000
  for (;;) {
    const all = db.eventsSince(since)
    if (all === undefined) throw fault('EVENTS_LOST')
    const relevant = all.filter((e) => wanted.has(e.cls))
    if (relevant.length > 0 || Date.now() >= deadline || signal?.aborted === true) {
      const last = new Map<string, (typeof relevant)[number]>()
      for (const e of relevant) last.set(`${e.cls}/${e.ref}`, e)
      const gen = all.length > 0 ? (all[all.length - 1]?.id ?? since) : since
      return { events: [...last.values()].map((e) => event(e.id, e.cls, e.ref, e.operation, e.timestamp)), valid_ref_counts: counts(), token: pad(gen) }
    }
    await db.waitForChange(deadline - Date.now(), signal)
    core.checkSession(session)
  }
}

export async function eventInject(core: SimCore, cls: string, ref: string): Promise<string> {
  const name = core.db.model.className(cls)
  if (name === undefined) throw fault('HANDLE_INVALID', cls, ref)
  core.db.set(name, ref, {})
  return Promise.resolve(pad(core.db.currentGeneration))
}
