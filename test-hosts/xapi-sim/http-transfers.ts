import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SimCore, SimHost, TaskControl } from './core'
import { NULL_REF, type XapiValue, text } from './datamodel-values'
import { XapiFault, fault } from './errors'
import { enterCall } from './faults'
import type { VdiOps } from './vdi-ops'
import { encodeValue } from './rpc-xml'
import { VHD_BLOCK, vhdStream, writeVhdInto } from './vhd-stream'
import type { VmOps } from './vm-ops'
import { vncSnapshotRoute } from './vnc-snapshot'
import { ovaXml, readXva, refOrNull, xvaStream, type XvaObject } from './xva'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Writes disk data to the client honouring the fault switches (throttle, cut the connection) and task.cancel. */
/** Responses whose body has begun: a failure can no longer be told as a response of its own. */
const bodyStarted = new WeakSet<ServerResponse>()

/**
 * What xapi writes when /export_raw_vdi fails after its 200 header went out (the VDI could not be attached): a
 * whole HTTP 500 response, inside the body (Xen Orchestra's checkVdiExport, xen-api issue 4603).
 */
function embeddedFailure(f: XapiFault): string {
  const html = `<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. If the problem persists, please contact your support representative.<h1> Additional information </h1>${f.code}: [ ${f.params.join('; ')} ]</body></html>`
  return `HTTP/1.1 500 Internal Error\r\ncontent-length: ${Buffer.byteLength(html)}\r\ncontent-type:text/html\r\nconnection:close\r\ncache-control:no-cache, no-store\r\n\r\n${html}`
}

async function send(core: SimCore, res: ServerResponse, chunks: AsyncIterable<Buffer>, task: TaskControl, total: number | undefined): Promise<void> {
  let sent = 0
  bodyStarted.add(res)
  const started = Date.now()
  for await (const chunk of chunks) {
    task.checkCancelled()
    const drop = core.faults.dropTransferAfterBytes
    if (drop !== undefined && sent + chunk.length > drop) {
      core.faults.dropTransferAfterBytes = undefined
      res.write(chunk.subarray(0, Math.max(0, drop - sent)))
      await sleep(20)
      res.socket?.destroy()
      throw fault('INTERNAL_ERROR', 'the connection was cut (fault switch)')
    }
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done)
          res.off('close', done)
          resolve()
        }
        res.on('drain', done)
        res.on('close', done)
      })
      if (res.destroyed || res.socket?.destroyed === true) throw fault('INTERNAL_ERROR', 'the client closed the connection')
    }
    sent += chunk.length
    core.stats.exportBytes += chunk.length
    const rate = core.faults.transferBytesPerSecond
    if (rate !== undefined) {
      const due = started + (sent / rate) * 1000
      if (due > Date.now()) await sleep(due - Date.now())
    }
    if (total !== undefined && total > 0) task.progress(sent / total)
  }
  res.end()
}

function httpError(res: ServerResponse, status: number, text: string): void {
  if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' })
  res.end(`${text}\n`)
}

/** /export_raw_vdi, /import_raw_vdi, /export and /import: XAPI's HTTP handlers for disk and VM transfers; /vncsnapshot (vnc-snapshot.ts). */
export function transferRoutes(core: SimCore, vms: VmOps, vdis: VdiOps, host: SimHost) {
  const db = core.db

  function lookup(cls: 'VDI' | 'VM' | 'SR', value: string | null): string {
    if (value === null) throw fault('HANDLE_INVALID', cls, '')
    if (db.has(cls, value)) return value
    return db.byUuid(cls, value)
  }

  async function transfer(res: ServerResponse, url: URL, label: string, work: (task: TaskControl) => Promise<XapiValue | undefined>, attached?: string): Promise<void> {
    let session: string
    try {
      session = core.checkSession(url.searchParams.get('session_id') ?? '')
    } catch {
      httpError(res, 401, 'Unauthorised (session invalid)')
      return
    }
    const t = core.transferTask(session, url.searchParams.get('task_id'), label)
    try {
      const n = enterCall(core.faults, url.pathname)
      const failure = core.faults.failTransfer
      if (failure !== undefined && failure.path === url.pathname) {
        core.faults.failTransfer = undefined
        throw new XapiFault(failure.code, failure.params)
      }
      const result = await work(t.control)
      if (typeof result === 'string' && db.has('task', t.ref)) db.set('task', t.ref, { result })
      core.finishTransfer(t.ref)
      core.faults.afterCall?.(n, url.pathname)
      if (!res.writableEnded) res.writeHead(200, { 'content-type': 'text/plain' }).end()
    } catch (err) {
      const f = err instanceof XapiFault ? err : new XapiFault('INTERNAL_ERROR', [err instanceof Error ? err.message : String(err)])
      core.finishTransfer(t.ref, f)
      if (!res.headersSent) httpError(res, 500, `${f.code} ${f.params.join(' ')}`)
      else if (!bodyStarted.has(res)) res.end(embeddedFailure(f))
      else res.destroy()
    } finally {
      if (attached !== undefined) vdis.holdInDom0(attached, host.ref)
    }
  }

  /**
   * A VDI on another host's local SR is served by that host: redirect as XAPI does (importexport.ml
   * `return_302_redirect`, import.ml for /import): `Http.http_302_redirect` — 302 Found, "Connection: close", the
   * Location with the same query — written by the handler, which then returns without reading a request body. An
   * upload already under way is not drained: the connection is closed under it (a client that keeps writing meets a
   * reset, and may never read the 302).
   */
  function redirectIfElsewhere(req: IncomingMessage, res: ServerResponse, url: URL, sr: string): boolean {
    const owner = core.hostOfSr(sr)
    if (owner.ref === host.ref) return false
    const target = new URL(url.pathname + url.search, `https://${owner.address}:${url.port || '443'}`)
    res.writeHead(302, { connection: 'close', 'cache-control': 'no-cache, no-store', location: target.toString() })
    if (req.method === 'PUT' && req.headers['content-length'] !== '0') res.end(() => req.socket.destroy())
    else res.end()
    return true
  }

  async function exportRawVdi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let vdiRef: string
    try {
      vdiRef = lookup('VDI', url.searchParams.get('vdi'))
    } catch {
      httpError(res, 404, 'VDI not found')
      return
    }
    const vdi = db.get('VDI', vdiRef)
    if (redirectIfElsewhere(req, res, url, vdi.SR as string)) return
    const format = url.searchParams.get('format') ?? 'raw'
    // As xapi's export_raw_vdi handler: the 200 header, without a length, goes out before the VDI is attached, so
    // whatever fails from here on is told inside the body (see embeddedFailure).
    if (core.checkSessionQuietly(url.searchParams.get('session_id') ?? '')) res.writeHead(200, { 'content-type': 'application/octet-stream' }).flushHeaders()
    await transfer(res, url, `export_raw_vdi ${text(vdi.uuid)}`, async (task) => {
      if (vdi.type === 'cbt_metadata') throw fault('VDI_INCOMPATIBLE_TYPE', vdiRef, 'cbt_metadata')
      const uuid = vdi.uuid as string
      const size = vdi.virtual_size as number
      if (format === 'raw') {
        await send(core, res, createReadStream(core.storage.path(uuid), { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>, task, size)
        return undefined
      }
      if (format !== 'vhd') throw fault('INTERNAL_ERROR', `unknown format ${format}`)
      const baseParam = url.searchParams.get('base')
      const baseRef = baseParam === null ? undefined : lookup('VDI', baseParam)
      const base = baseRef === undefined ? undefined : db.get('VDI', baseRef)
      if (base && (base.type === 'cbt_metadata' || base.virtual_size !== size)) throw fault('VDI_INCOMPATIBLE_TYPE', baseRef ?? '', 'base')
      const fh = await open(core.storage.path(uuid), 'r')
      const baseFh = base ? await open(core.storage.path(base.uuid as string), 'r') : undefined
      try {
        const readBlock = async (fhx: typeof fh, i: number) => {
          const len = Math.min(VHD_BLOCK, size - i * VHD_BLOCK)
          const buf = Buffer.alloc(len)
          await fhx.read(buf, 0, len, i * VHD_BLOCK)
          return buf
        }
        const stream = vhdStream(
          {
            size,
            readBlock: (i) => readBlock(fh, i),
            include: async (i, data) => (baseFh ? !data.equals(await readBlock(baseFh, i)) : data.some((b) => b !== 0)),
          },
          base ? { name: `${text(base.uuid)}.vhd` } : undefined,
        )
        await send(core, res, stream, task, size)
      } finally {
        await fh.close()
        await baseFh?.close()
      }
      return undefined
    }, vdiRef)
  }

  async function importRawVdi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let vdiRef: string
    try {
      vdiRef = lookup('VDI', url.searchParams.get('vdi'))
    } catch {
      httpError(res, 404, 'VDI not found')
      return
    }
    const vdi = db.get('VDI', vdiRef)
    if (redirectIfElsewhere(req, res, url, vdi.SR as string)) return
    const format = url.searchParams.get('format') ?? 'raw'
    await transfer(res, url, `import_raw_vdi ${text(vdi.uuid)}`, async (task) => {
      if (vdis.attachedToRunning(vdiRef)) throw fault('VDI_IN_USE', vdiRef, 'import')
      const size = vdi.virtual_size as number
      const fh = await open(core.storage.path(vdi.uuid as string), 'r+')
      try {
        if (format === 'vhd') await writeVhdInto(req, fh, size)
        else {
          let at = 0
          for await (const chunk of req as AsyncIterable<Buffer>) {
            task.checkCancelled()
            if (at + chunk.length > size) throw fault('VDI_INCOMPATIBLE_TYPE', vdiRef, 'the data is larger than the VDI')
            await fh.write(chunk, 0, chunk.length, at)
            at += chunk.length
            task.progress(at / Math.max(1, size))
          }
        }
      } finally {
        await fh.close()
      }
      db.set('VDI', vdiRef, { physical_utilisation: size })
      vdis.updateSrUsage(vdi.SR as string)
      return undefined
    }, vdiRef)
  }

  async function exportXva(_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let vmRef: string
    try {
      vmRef = lookup('VM', url.searchParams.get('ref') ?? url.searchParams.get('uuid'))
    } catch {
      httpError(res, 404, 'VM not found')
      return
    }
    await transfer(res, url, `VM.export ${vmRef}`, async (task) => {
      const vm = db.get('VM', vmRef)
      if (vm.is_a_snapshot !== true && vm.power_state === 'Running') throw fault('VM_BAD_POWER_STATE', vmRef, 'halted', 'running')
      const ids = new Map<string, string>()
      const id = (ref: string) => {
        let v = ids.get(ref)
        if (v === undefined) {
          v = `Ref:${ids.size}`
          ids.set(ref, v)
        }
        return v
      }
      id(vmRef)
      const vbds = (vm.VBDs as string[]).map((r) => [r, db.get('VBD', r)] as const)
      const disks = vbds.filter(([, b]) => b.VDI !== NULL_REF).map(([, b]) => [b.VDI as string, db.get('VDI', b.VDI as string)] as const)
      for (const [r] of vbds) id(r)
      for (const [r] of disks) id(r)
      const vifs = (vm.VIFs as string[]).map((r) => [r, db.get('VIF', r)] as const)
      for (const [r] of vifs) id(r)
      const nets = [...new Set(vifs.map(([, v]) => v.network as string))]
      for (const n of nets) id(n)
      const remap = (rec: Record<string, XapiValue>): Record<string, XapiValue> => {
        const out: Record<string, XapiValue> = {}
        for (const [k, v] of Object.entries(rec)) {
          if (typeof v === 'string' && v.startsWith('OpaqueRef:')) out[k] = ids.get(v) ?? NULL_REF
          else if (Array.isArray(v) && v.every((x) => typeof x === 'string' && x.startsWith('OpaqueRef:'))) out[k] = v.map((x) => ids.get(x as string)).filter((x): x is string => x !== undefined)
          else out[k] = v
        }
        return out
      }
      const objects: XvaObject[] = [
        { cls: 'VM', id: id(vmRef), snapshot: remap(vm) },
        ...vbds.map(([r, b]) => ({ cls: 'VBD', id: id(r), snapshot: remap(b) })),
        ...disks.map(([r, d]) => ({ cls: 'VDI', id: id(r), snapshot: remap(d) })),
        ...vifs.map(([r, v]) => ({ cls: 'VIF', id: id(r), snapshot: remap(v) })),
        ...nets.map((n) => ({ cls: 'network', id: id(n), snapshot: remap(db.get('network', n)) })),
      ]
      const xml = ovaXml(objects, (cls, f) => db.model.fieldType(cls, f))
      const total = disks.reduce((s, [, d]) => s + Number(d.virtual_size), 0)
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      await send(
        core,
        res,
        xvaStream(
          xml,
          disks.map(([r, d]) => ({ id: id(r), size: Number(d.virtual_size), read: (o, l) => core.storage.read(d.uuid as string, o, l) })),
        ),
        task,
        total,
      )
      return undefined
    })
  }

  async function importXva(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const srParam = url.searchParams.get('sr_id')
    const chosen = (): string => (srParam !== null ? lookup('SR', srParam) : (db.get('pool', core.poolRef).default_SR as string))
    let target: string | undefined
    try {
      target = chosen()
    } catch {
      target = undefined // refused inside the transfer, as before
    }
    // import.ml: an SR this host cannot see (another host's local SR) → 302 to a host that can.
    if (target !== undefined && redirectIfElsewhere(req, res, url, target)) return
    await transfer(res, url, 'VM.import', async (task) => {
      const sr = chosen()
      const preserve = url.searchParams.get('restore') === 'true'
      const disks = new Map<string, string>()
      let vmRef = NULL_REF
      // As xapi's import.ml: an import that fails (a broken or cancelled upload, a bad checksum) removes the VM,
      // VBDs, VIFs and VDIs it created before the error is reported ("execute all the cleanup actions now").
      const rollBack = async () => {
        if (vmRef !== NULL_REF && db.has('VM', vmRef)) await vms.destroy(vmRef, true)
        for (const ref of disks.values()) if (db.has('VDI', ref)) await vdis.destroy(ref)
      }
      await readXva(
        req,
        async (objects) => {
          const vmObj = objects.find((o) => o.cls === 'VM')
          if (!vmObj) throw fault('INTERNAL_ERROR', 'the XVA has no VM')
          const { VBDs: _b, VIFs: _v, ...vmFields } = vmObj.snapshot
          // xapi's import.ml drops the mac_seed unless the import is a full restore (VM.create then makes a new one,
          // so the copy's VIFs get new addresses) and keeps is_a_template as the XVA says: a snapshot exported as
          // it is comes back as a template.
          const { mac_seed: _seed, ...otherConfig } = (vmFields.other_config as Record<string, string> | undefined) ?? {}
          vmRef = vms.create({ ...vmFields, other_config: preserve ? ((vmFields.other_config as Record<string, string> | undefined) ?? {}) : otherConfig, is_a_snapshot: false })
          for (const d of objects.filter((o) => o.cls === 'VDI')) {
            disks.set(d.id, await vdis.create({ SR: sr, virtual_size: Number(d.snapshot.virtual_size), name_label: text(d.snapshot.name_label, ''), name_description: text(d.snapshot.name_description, ''), other_config: d.snapshot.other_config ?? {} }))
          }
          for (const b of objects.filter((o) => o.cls === 'VBD')) {
            vms.createVbd({ ...b.snapshot, VM: vmRef, VDI: refOrNull(disks, b.snapshot.VDI), currently_attached: false })
          }
          for (const v of objects.filter((o) => o.cls === 'VIF')) {
            vms.createVif({ VM: vmRef, network: core.networkRef, device: text(v.snapshot.device, '0'), MAC: preserve ? text(v.snapshot.MAC, '') : '', MTU: Number(v.snapshot.MTU ?? 1500) })
          }
        },
        async (diskId, offset, data) => {
          task.checkCancelled()
          const ref = disks.get(diskId)
          if (ref === undefined) throw fault('INTERNAL_ERROR', `the XVA has data for an unknown disk ${diskId}`)
          await core.storage.write(vdis.uuidOf(ref), offset, data)
        },
      ).catch(async (err: unknown) => {
        await rollBack()
        throw err
      })
      for (const ref of disks.values()) db.set('VDI', ref, { physical_utilisation: db.get('VDI', ref).virtual_size as number })
      vdis.updateSrUsage(sr)
      return encodeValue([vmRef], 'VM ref set')
    })
  }

  const vncsnapshot = vncSnapshotRoute(core, vms, host)

  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (await vncsnapshot(req, res, url)) return true
    if (req.method === 'GET' && url.pathname === '/export_raw_vdi') await exportRawVdi(req, res, url)
    else if (req.method === 'PUT' && url.pathname === '/import_raw_vdi') await importRawVdi(req, res, url)
    else if (req.method === 'GET' && url.pathname === '/export') await exportXva(req, res, url)
    else if (req.method === 'PUT' && url.pathname === '/import') await importXva(req, res, url)
    else return false
    return true
  }
}
