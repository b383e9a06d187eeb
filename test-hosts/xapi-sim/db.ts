import { randomUUID } from 'node:crypto'
import type { XapiValue } from './datamodel-values'
import { fault } from './errors'
import { coerce, Model, type XapiRecord } from './model'

export interface DbEvent {
  readonly id: number
  readonly cls: string
  readonly ref: string
  readonly operation: 'add' | 'mod' | 'del'
  readonly timestamp: string
}

/** Events kept for event.from; a token older than this window gets EVENTS_LOST, as on a real pool. */
const EVENT_WINDOW = 5000

/** XAPI's datetime format: 20240131T12:34:56Z. */
export function xapiTime(date = new Date()): string {
  const iso = date.toISOString()
  return `${iso.slice(0, 10).replace(/-/g, '')}T${iso.slice(11, 19)}Z`
}

/**
 * The simulator's database: records by class and reference, every one complete per the datamodel, and an event
 * log with generation numbers that event.from tokens point into.
 */
export class Db {
  readonly model = Model.load()
  private readonly tables = new Map<string, Map<string, XapiRecord>>()
  private readonly events: DbEvent[] = []
  private generation = 0
  private oldestKept = 0
  private readonly waiters = new Set<() => void>()
  /** Records as they were when deleted, so event.from can still describe them. */
  private readonly tombstones = new Map<string, XapiRecord>()

  private table(cls: string): Map<string, XapiRecord> {
    let t = this.tables.get(cls)
    if (!t) {
      t = new Map()
      this.tables.set(cls, t)
    }
    return t
  }

  add(cls: string, values: Readonly<Record<string, XapiValue>>, ref = `OpaqueRef:${randomUUID()}`): string {
    const hasUuid = this.model.fieldNames(cls).includes('uuid')
    const record = this.model.newRecord(cls, hasUuid && values.uuid === undefined ? { ...values, uuid: randomUUID() } : values)
    this.table(cls).set(ref, record)
    this.emit(cls, ref, 'add')
    return ref
  }

  has(cls: string, ref: string): boolean {
    return this.table(cls).has(ref)
  }

  /** The live record (callers must not keep it across changes); HANDLE_INVALID when it does not exist. */
  get(cls: string, ref: string): XapiRecord {
    const r = this.table(cls).get(ref)
    if (!r) throw fault('HANDLE_INVALID', cls, ref)
    return r
  }

  find(cls: string, ref: string): XapiRecord | undefined {
    return this.table(cls).get(ref)
  }

  all(cls: string): [string, XapiRecord][] {
    return [...this.table(cls).entries()]
  }

  byUuid(cls: string, uuid: string): string {
    for (const [ref, r] of this.table(cls)) if (r.uuid === uuid) return ref
    throw fault('UUID_INVALID', cls, uuid)
  }

  set(cls: string, ref: string, patch: Readonly<Record<string, XapiValue>>): void {
    const r = this.get(cls, ref)
    for (const [k, v] of Object.entries(patch)) {
      const type = this.model.fieldType(cls, k)
      if (type === undefined) throw new Error(`The simulator tried to set ${cls}.${k}, which the datamodel does not have`)
      r[k] = coerce(type, v)
    }
    this.emit(cls, ref, 'mod')
  }

  /** Adds `item` to a set field (no duplicates). */
  addTo(cls: string, ref: string, field: string, item: string): void {
    const r = this.find(cls, ref)
    if (!r) return
    const list = (r[field] as string[] | undefined) ?? []
    if (!list.includes(item)) this.set(cls, ref, { [field]: [...list, item] })
  }

  removeFrom(cls: string, ref: string, field: string, item: string): void {
    const r = this.find(cls, ref)
    if (!r) return
    const list = (r[field] as string[] | undefined) ?? []
    if (list.includes(item)) this.set(cls, ref, { [field]: list.filter((x) => x !== item) })
  }

  delete(cls: string, ref: string): void {
    const r = this.table(cls).get(ref)
    if (!r) return
    this.table(cls).delete(ref)
    this.tombstones.set(ref, r)
    this.emit(cls, ref, 'del')
  }

  private emit(cls: string, ref: string, operation: DbEvent['operation']): void {
    this.events.push({ id: ++this.generation, cls, ref, operation, timestamp: xapiTime() })
    if (this.events.length > EVENT_WINDOW) {
      const dropped = this.events.splice(0, this.events.length - EVENT_WINDOW)
      this.oldestKept = dropped[dropped.length - 1]?.id ?? this.oldestKept
    }
    for (const w of [...this.waiters]) w()
  }

  get currentGeneration(): number {
    return this.generation
  }

  /** Forgets the event log up to now (fault switch): older tokens then get EVENTS_LOST. */
  loseEvents(): void {
    this.generation++
    this.oldestKept = this.generation
    this.events.length = 0
  }

  /** Events after `since`, or undefined when some of them are no longer kept. */
  eventsSince(since: number): DbEvent[] | undefined {
    if (since < this.oldestKept) return undefined
    return this.events.filter((e) => e.id > since)
  }

  /** The record an event refers to: the live one, or the last one seen before deletion. */
  snapshotOf(cls: string, ref: string): XapiRecord | undefined {
    return this.table(cls).get(ref) ?? this.tombstones.get(ref)
  }

  /** Resolves when the next change happens, or after `ms`. */
  waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.waiters.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  classesInUse(): string[] {
    return [...this.tables.keys()]
  }
}
