/**
 * XVA, XenServer's VM archive: a tar whose first member ova.xml describes the VM, its VBDs, VDIs and VIFs
 * (XML-RPC encoded records, references as "Ref:N"), followed by each VDI's bytes as 1 MiB members
 * "Ref:N/00000000" with a ".checksum" (SHA-1) beside each; all-zero members are left out except the last.
 */
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { XapiValue } from './datamodel-values'
import { NULL_REF, text } from './datamodel-values'
import { encodeValue, parseXmlRpcValue } from './rpc-xml'

export const XVA_CHUNK = 1024 * 1024

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`
}

export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512)
  h.write(name.slice(0, 100), 0, 'utf8')
  h.write(octal(0o644, 8), 100, 'latin1')
  h.write(octal(0, 8), 108, 'latin1')
  h.write(octal(0, 8), 116, 'latin1')
  h.write(octal(size, 12), 124, 'latin1')
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, 'latin1')
  h.write('        ', 148, 'latin1')
  h.write('0', 156, 'latin1')
  h.write('ustar\0', 257, 'latin1')
  h.write('00', 263, 'latin1')
  let sum = 0
  for (const b of h) sum += b
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  return h
}

const padding = (size: number) => Buffer.alloc((512 - (size % 512)) % 512)

export interface XvaObject {
  readonly cls: string
  readonly id: string
  readonly snapshot: Record<string, XapiValue>
}

export function ovaXml(objects: readonly XvaObject[], fieldType: (cls: string, field: string) => string | undefined): string {
  const version = { hostname: 'xapi-sim', date: new Date().toISOString().slice(0, 10), product_version: '8.3.0', product_brand: 'XCP-ng', build_number: 'sim', xapi_major: '25', xapi_minor: '6', export_vsn: '2' }
  const objs = objects.map((o) => ({ class: o.cls, id: o.id, snapshot: o.snapshot }))
  const typed = (cls: string, field: string) => (field === 'snapshot' ? `${cls} record` : fieldType(cls, field))
  const body = objs.map((o) => `<value><struct><member><name>class</name><value>${o.class}</value></member><member><name>id</name><value>${o.id}</value></member><member><name>snapshot</name>${encodeValue(o.snapshot, `${o.class} record`, typed)}</member></struct></value>`)
  return `<value><struct><member><name>version</name>${encodeValue(version, undefined)}</member><member><name>objects</name><value><array><data>${body.join('')}</data></array></value></member></struct></value>`
}

/** The tar stream of an XVA: ova.xml, then each disk's chunks from `read`. */
export async function* xvaStream(xml: string, disks: readonly { id: string; size: number; read: (offset: number, length: number) => Promise<Buffer> }[]): AsyncGenerator<Buffer> {
  const xmlBytes = Buffer.from(xml, 'utf8')
  yield tarHeader('ova.xml', xmlBytes.length)
  yield xmlBytes
  yield padding(xmlBytes.length)
  for (const d of disks) {
    const chunks = Math.max(1, Math.ceil(d.size / XVA_CHUNK))
    for (let i = 0; i < chunks; i++) {
      const len = Math.min(XVA_CHUNK, d.size - i * XVA_CHUNK)
      const data = await d.read(i * XVA_CHUNK, Math.max(0, len))
      if (i < chunks - 1 && !data.some((b) => b !== 0)) continue
      const name = `${d.id}/${String(i).padStart(8, '0')}`
      yield tarHeader(name, data.length)
      yield data
      yield padding(data.length)
      const sum = Buffer.from(createHash('sha1').update(data).digest('hex'))
      yield tarHeader(`${name}.checksum`, sum.length)
      yield sum
      yield padding(sum.length)
    }
  }
  yield Buffer.alloc(1024)
}

class TarReader {
  private buffered = Buffer.alloc(0)
  private readonly it: AsyncIterator<Buffer>

  constructor(stream: Readable) {
    this.it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered.length < n) {
      const next = await this.it.next()
      if (next.done === true) return false
      this.buffered = Buffer.concat([this.buffered, next.value])
    }
    return true
  }

  async take(n: number): Promise<Buffer> {
    if (!(await this.fill(n))) throw new Error('the XVA ended in the middle of a member')
    const out = this.buffered.subarray(0, n)
    this.buffered = this.buffered.subarray(n)
    return out
  }

  /** The next member (name and content), or undefined at the end of the archive. */
  async next(maxSize: number): Promise<{ name: string; data: Buffer } | undefined> {
    if (!(await this.fill(512))) return undefined
    const header = await this.take(512)
    if (header.every((b) => b === 0)) return undefined
    const name = header.toString('utf8', 0, 100).replace(/\0.*$/s, '')
    const size = Number.parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8)
    if (!Number.isSafeInteger(size) || size < 0 || size > maxSize) throw new Error(`XVA member ${name} is too large`)
    const data = await this.take(size)
    await this.take((512 - (size % 512)) % 512)
    return { name, data: Buffer.from(data) }
  }
}

/** Reads an XVA: ova.xml first, then hands each verified disk chunk to `onChunk`. */
export async function readXva(stream: Readable, onObjects: (objects: XvaObject[]) => Promise<void>, onChunk: (diskId: string, offset: number, data: Buffer) => Promise<void>): Promise<void> {
  const tar = new TarReader(stream)
  const first = await tar.next(64 * 1024 * 1024)
  if (first?.name !== 'ova.xml') throw new Error('not an XVA: ova.xml must come first')
  const root = parseXmlRpcValue(first.data.toString('utf8')) as Record<string, XapiValue>
  const objects = ((root.objects as XapiValue[] | undefined) ?? []).map((o) => {
    const r = o as Record<string, XapiValue>
    return { cls: text(r.class), id: text(r.id), snapshot: (r.snapshot ?? {}) as Record<string, XapiValue> }
  })
  await onObjects(objects)
  let pending: { disk: string; index: number; data: Buffer } | undefined
  for (;;) {
    const m = await tar.next(XVA_CHUNK + 1024)
    if (!m) break
    const chunk = /^(.+)\/(\d{8})$/.exec(m.name)
    const sum = /^(.+)\/(\d{8})\.checksum$/.exec(m.name)
    if (chunk?.[1] !== undefined && chunk[2] !== undefined) {
      pending = { disk: chunk[1], index: Number(chunk[2]), data: m.data }
    } else if (sum && pending) {
      const expected = m.data.toString('latin1').trim()
      if (createHash('sha1').update(pending.data).digest('hex') !== expected) throw new Error(`XVA chunk ${m.name} has a wrong checksum`)
      await onChunk(pending.disk, pending.index * XVA_CHUNK, pending.data)
      pending = undefined
    }
  }
}

export function refOrNull(map: ReadonlyMap<string, string>, ref: XapiValue | undefined): string {
  return typeof ref === 'string' ? (map.get(ref) ?? NULL_REF) : NULL_REF
}
