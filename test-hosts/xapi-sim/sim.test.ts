import { execFileSync, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Agent, request } from 'undici'
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { connect as netConnect } from 'node:net'
import { Xapi } from 'xen-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordProblems } from './conformance'
import { compactDatamodel, type PublishedClass } from './datamodel-source'
import { Model } from './model'
import { XapiSim } from './sim'
import { SimClient } from './test-client'
import { decodeJpeg, differingPixels, renderScreen, screenLines } from './vnc-snapshot'

const MiB = 1024 * 1024

async function fetchLogin(url: string, password: string): Promise<string> {
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  try {
    const res = await request(`${url}/jsonrpc`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', password], id: 1 }) })
    return ((await res.body.json()) as { result: string }).result
  } finally {
    await agent.close()
  }
}
const reference = path.resolve(import.meta.dirname, '../../../shared/reference/xenapi.json')

describe('XAPI simulator', () => {
  let sim: XapiSim
  let c: SimClient
  const scratch = mkdtempSync(path.join(tmpdir(), 'xapi-sim-test-'))

  beforeAll(async () => {
    sim = await XapiSim.start({ vms: ['web', { name: 'halted', powerState: 'Halted', disks: 2, diskSize: 6 * MiB }], diskSize: 8 * MiB, pool: { slave: true } })
    c = new SimClient(sim)
    await c.login()
  })
  afterAll(async () => {
    await c.close()
    await sim.stop()
    rmSync(scratch, { recursive: true, force: true })
  })

  it.skipIf(!existsSync(reference))('serves the datamodel generated from the published xenapi.json (output up to date)', () => {
    const published = JSON.parse(readFileSync(reference, 'utf8')) as PublishedClass[]
    const committed = readFileSync(path.join(import.meta.dirname, 'datamodel.generated.json'), 'utf8')
    expect(committed).toBe(`${JSON.stringify(compactDatamodel(published))}\n`)
  })

  it('speaks JSON-RPC to xen-api, and refuses unknown methods, wrong parameter counts and bad handles with XAPI error codes', async () => {
    const xapi = new Xapi({ url: sim.url, auth: { user: 'root', password: sim.password }, allowUnauthorized: true, watchEvents: false, transport: 'json-rpc' })
    await xapi.connect()
    try {
      const vms = (await xapi.call('VM.get_all_records')) as Record<string, { name_label: string; is_control_domain: boolean }>
      expect(Object.values(vms).map((v) => v.name_label)).toEqual(expect.arrayContaining(['web', 'halted']))
      await expect(xapi.call('VM.no_such_thing')).rejects.toMatchObject({ code: 'MESSAGE_METHOD_UNKNOWN' })
      await expect(xapi.call('VM.get_record', 'OpaqueRef:00000000-0000-0000-0000-000000000000')).rejects.toMatchObject({ code: 'HANDLE_INVALID', params: ['VM', 'OpaqueRef:00000000-0000-0000-0000-000000000000'] })
      await expect(c.call('VM.get_record')).rejects.toMatchObject({ code: 'MESSAGE_PARAMETER_COUNT_MISMATCH' })
    } finally {
      await xapi.disconnect()
    }
    const wrong = await c.raw('session.login_with_password', ['root', 'nope'])
    expect(wrong.error?.message).toBe('SESSION_AUTHENTICATION_FAILED')
  })

  it('speaks XML-RPC (ints as strings, typed records) on the same port', async () => {
    const xapi = new Xapi({ url: sim.url, auth: { user: 'root', password: sim.password }, allowUnauthorized: true, watchEvents: false, transport: 'xml-rpc' })
    await xapi.connect()
    try {
      const vms = (await xapi.call('VM.get_all_records')) as Record<string, { name_label: string; memory_static_max: string; power_state: string }>
      const web = Object.values(vms).find((v) => v.name_label === 'web')
      expect(web).toMatchObject({ memory_static_max: String(1024 ** 3), power_state: 'Running' })
      await expect(xapi.call('VM.get_record', 'OpaqueRef:x')).rejects.toMatchObject({ code: 'HANDLE_INVALID' })
    } finally {
      await xapi.disconnect()
    }
  })

  it('answers logins on the pool slave with HOST_IS_SLAVE naming the master', async () => {
    const slave = new SimClient(sim, `https://127.0.0.2:${sim.port}`)
    const answer = await slave.raw('session.login_with_password', ['root', sim.password])
    expect(answer.error).toEqual({ message: 'HOST_IS_SLAVE', data: ['127.0.0.1'], code: 1 })
    await slave.close()
  })

  it('expires sessions (SESSION_INVALID) and loses events (EVENTS_LOST) on request', async () => {
    const other = new SimClient(sim)
    await other.login()
    const first = await other.call<{ token: string; events: unknown[] }>('event.from', ['vm'], '', 0.1)
    expect(first.events.length).toBeGreaterThan(3)
    const vm = sim.vmByName('web').ref
    await other.call('VM.add_to_other_config', vm, 'touched', 'yes')
    const next = await other.call<{ token: string; events: { class: string; operation: string; ref: string; snapshot: { other_config: Record<string, string> } }[] }>('event.from', ['vm'], first.token, 1)
    expect(next.events).toEqual([expect.objectContaining({ class: 'vm', operation: 'mod', ref: vm, snapshot: expect.objectContaining({ other_config: expect.objectContaining({ touched: 'yes' }) }) })])
    await expect(other.call('VM.add_to_other_config', vm, 'touched', 'again')).rejects.toMatchObject({ code: 'MAP_DUPLICATE_KEY' })
    sim.loseEvents()
    await expect(other.call('event.from', ['vm'], next.token, 0.1)).rejects.toMatchObject({ code: 'EVENTS_LOST' })
    sim.expireSessions()
    await expect(other.call('VM.get_all')).rejects.toMatchObject({ code: 'SESSION_INVALID' })
    await c.login()
    await other.close()
  })

  it('runs Async calls as tasks with progress, results and cancel', async () => {
    const vm = sim.vmByName('web').ref
    const task = await c.call<string>('Async.VM.snapshot', vm, 'task test', [])
    const done = await c.waitTask(task)
    expect(done).toMatchObject({ status: 'success', progress: 1, type: 'VM' })
    const snap = /<value>(OpaqueRef:[^<]+)<\/value>/.exec(String(done.result))?.[1]
    expect(await c.call('VM.get_is_a_snapshot', snap)).toBe(true)
    sim.faults.ignoreShutdown.add('web')
    const shutdown = await c.call<string>('Async.VM.clean_shutdown', vm)
    await new Promise((r) => setTimeout(r, 100))
    expect(await c.call('task.get_status', shutdown)).toBe('pending')
    await c.call('task.cancel', shutdown)
    expect(await c.waitTask(shutdown)).toMatchObject({ status: 'cancelled', error_info: ['TASK_CANCELLED', shutdown] })
    expect(await c.call('VM.get_power_state', vm)).toBe('Running')
    sim.faults.ignoreShutdown.clear()
    sim.faults.failTask.set('VM.snapshot', { code: 'SR_BACKEND_FAILURE_44', params: ['', 'There is insufficient space', ''] })
    const failing = await c.call<string>('Async.VM.snapshot', vm, 'nope', [])
    expect(await c.waitTask(failing)).toMatchObject({ status: 'failure', error_info: ['SR_BACKEND_FAILURE_44', '', 'There is insufficient space', ''] })
    await c.call('VM.destroy', snap)
  })

  it('keeps the power-state machine: VM_BAD_POWER_STATE, checkpoint, suspend and resume', async () => {
    const vm = sim.vmByName('halted').ref
    await expect(c.call('VM.clean_shutdown', vm)).rejects.toMatchObject({ code: 'VM_BAD_POWER_STATE', params: [vm, 'running', 'halted'] })
    await c.call('VM.start', vm, false, false)
    const cp = await c.call<string>('VM.checkpoint', vm, 'cp')
    expect(await c.call('VM.get_power_state', cp)).toBe('Suspended')
    expect(await c.call('VM.get_consoles', vm)).toHaveLength(2)
    await c.call('VM.suspend', vm)
    expect(await c.call('VM.get_power_state', vm)).toBe('Suspended')
    expect(await c.call('VM.get_consoles', vm)).toEqual([])
    await c.call('VM.resume', vm, false, false)
    await c.call('VM.hard_shutdown', vm)
    const suspendVdi = await c.call<string>('VM.get_suspend_VDI', cp)
    await c.call('VM.destroy', cp)
    await expect(c.call('VDI.get_record', suspendVdi)).rejects.toMatchObject({ code: 'HANDLE_INVALID' })
  })

  it('keeps console records while a domain exists and answers GET /vncsnapshot with a JPEG of the VNC console', async () => {
    const web = sim.vmByName('web').ref
    const consoles = await c.call<string[]>('VM.get_consoles', web)
    const records = await Promise.all(consoles.map((r) => c.call<{ uuid: string; protocol: string; location: string; VM: string }>('console.get_record', r)))
    expect(records.map((r) => r.protocol).sort()).toEqual(['rfb', 'vt100'])
    for (const r of records) {
      expect(r.VM).toBe(web)
      expect(r.location).toBe(`https://127.0.0.1/console?uuid=${r.uuid}`)
    }
    const rfb = consoles[records.findIndex((r) => r.protocol === 'rfb')] ?? ''
    const vt100 = records.find((r) => r.protocol === 'vt100')?.uuid ?? ''
    // A VM (by ref or uuid) means its rfb console; the console itself can be named too.
    const webUuid = await c.call<string>('VM.get_uuid', web)
    const expected = renderScreen(screenLines('booted', { name: 'web', os: 'Debian GNU/Linux 12 (bookworm)' }))
    for (const query of [{ ref: web }, { uuid: webUuid }, { ref: rfb }, { uuid: records.find((r) => r.protocol === 'rfb')?.uuid ?? '' }] as Record<string, string>[]) {
      const shot = await c.get('/vncsnapshot', query)
      expect(shot.status, JSON.stringify(query)).toBe(200)
      expect([...shot.body.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff])
      expect(differingPixels(await decodeJpeg(shot.body), expected)).toBeLessThan(20)
    }
    // Whatever xapi cannot serve fails the request: no parameter, an unknown ref, the text console, a halted VM.
    for (const query of [{}, { ref: 'OpaqueRef:nothing' }, { uuid: vt100 }] as Record<string, string>[]) expect((await c.get('/vncsnapshot', query)).status, JSON.stringify(query)).toBe(500)
    const halted = sim.vmByName('halted').ref
    expect(await c.call('VM.get_consoles', halted)).toEqual([])
    expect((await c.get('/vncsnapshot', { ref: halted })).status).toBe(500)
    // Started: consoles appear (on the master); the slave's xenopsd does not run it, so the slave answers 404.
    await c.call('VM.start', halted, false, false)
    const started = await c.call<string[]>('VM.get_consoles', halted)
    expect(started).toHaveLength(2)
    const slave = new SimClient(sim, `https://127.0.0.2:${sim.port}`)
    slave.session = c.session
    expect((await slave.get('/vncsnapshot', { ref: halted })).status).toBe(404)
    await slave.close()
    // A seeded VM stands for an installed guest: its login prompt, under its own name (not web's screen).
    const other = await c.get('/vncsnapshot', { ref: halted })
    expect(other.status).toBe(200)
    const picture = await decodeJpeg(other.body)
    expect(differingPixels(picture, renderScreen(screenLines('booted', { name: 'halted', os: 'Debian GNU/Linux 12 (bookworm)' })))).toBeLessThan(20)
    expect(differingPixels(picture, expected)).toBeGreaterThan(200)
    expect(differingPixels(picture, renderScreen(screenLines('no-bootable-device', { name: 'halted' })))).toBeGreaterThan(1000)
    // A dom0 without /usr/bin/vncsnapshot fails the request; a bad session is refused.
    sim.faults.vncsnapshotMissing = true
    const missing = await c.get('/vncsnapshot', { ref: halted })
    sim.faults.vncsnapshotMissing = false
    expect([missing.status, missing.headers.connection]).toEqual([500, 'close'])
    expect(missing.body.toString()).toMatch(/vncsnapshot: No such file or directory/)
    const stranger = new SimClient(sim)
    stranger.session = 'OpaqueRef:not-a-session'
    expect((await stranger.get('/vncsnapshot', { ref: halted })).status).toBe(401)
    await stranger.close()
    // Halted, suspended or destroyed: the console records go.
    await c.call('VM.hard_shutdown', halted)
    expect(await c.call('VM.get_consoles', halted)).toEqual([])
    for (const r of started) await expect(c.call('console.get_record', r)).rejects.toMatchObject({ code: 'HANDLE_INVALID' })
    expect((await c.get('/vncsnapshot', { ref: started[0] ?? '' })).status).toBe(500)
  })

  it('exports raw bytes and VHDs that qemu-img accepts, incremental with base=, and imports both', async () => {
    const [disk] = sim.disksOf('web')
    if (!disk) throw new Error('no disk')
    const vdi = disk.vdi
    const raw = await c.get('/export_raw_vdi', { vdi, format: 'raw' })
    expect(raw.status).toBe(200)
    expect(raw.body.equals(readFileSync(disk.path))).toBe(true)
    expect(raw.body.subarray(0, 4096).equals(XapiSim.knownBytes('web:0', 0, 4096))).toBe(true)

    const vhd = await c.get('/export_raw_vdi', { vdi, format: 'vhd' })
    writeFileSync(path.join(scratch, 'full.vhd'), vhd.body)
    expect(execFileSync('qemu-img', ['info', '--output=json', path.join(scratch, 'full.vhd')]).toString()).toContain('"format": "vpc"')
    execFileSync('qemu-img', ['compare', '-f', 'vpc', '-F', 'raw', path.join(scratch, 'full.vhd'), disk.path])

    const base = await c.call<string>('VDI.snapshot', vdi, {})
    await sim.writeGuest('web', 0, 5 * MiB + 100, Buffer.alloc(1000, 0x5a))
    const delta = await c.get('/export_raw_vdi', { vdi, format: 'vhd', base })
    writeFileSync(path.join(scratch, 'delta.vhd'), delta.body)
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path.join(scratch, 'delta.vhd')]).toString()) as { 'actual-size': number }
    expect(info['actual-size']).toBeLessThan(3 * MiB)
    expect(delta.body.length).toBe(512 + 1024 + 512 + (512 + 2 * MiB) + 512)

    const target = await c.call<string>('VDI.create', { name_label: 'import', SR: await c.call<string>('VDI.get_SR', vdi), virtual_size: disk.size, type: 'user', sharable: false, read_only: false, other_config: {} })
    expect(await c.put('/import_raw_vdi', { vdi: target, format: 'vhd' }, vhd.body)).toBe(200)
    const targetUuid = await c.call<string>('VDI.get_uuid', target)
    expect(readFileSync(sim.core.storage.path(targetUuid)).equals(raw.body)).toBe(true)
    expect(await c.put('/import_raw_vdi', { vdi: target, format: 'raw' }, readFileSync(disk.path))).toBe(200)
    expect(readFileSync(sim.core.storage.path(targetUuid)).equals(readFileSync(disk.path))).toBe(true)
    // The import's dom0 VBD is still plugged for a moment: destroy refuses until the pool has unplugged it.
    const dom0Vbds = (await c.call<string[]>('VDI.get_VBDs', target)).length
    expect(dom0Vbds).toBeGreaterThan(0)
    await expect(c.call('VDI.destroy', target)).rejects.toMatchObject({ code: 'VDI_IN_USE' })
    sim.vdis.releaseHeld()
    await c.call('VDI.destroy', target)
    await c.call('VDI.destroy', base)
  })

  it('tracks changed blocks: list_changed_blocks marks exactly the written 64 KiB blocks, data_destroy keeps the metadata', async () => {
    const [disk] = sim.disksOf('web')
    if (!disk) throw new Error('no disk')
    await c.call('VDI.enable_cbt', disk.vdi)
    const s1 = await c.call<string>('VDI.snapshot', disk.vdi, {})
    await sim.writeGuest('web', 0, 64 * 1024 * 3 + 10, Buffer.alloc(64 * 1024, 1))
    const s2 = await c.call<string>('VDI.snapshot', disk.vdi, {})
    await c.call('VDI.data_destroy', s1)
    expect(await c.call('VDI.get_type', s1)).toBe('cbt_metadata')
    expect(existsSync(sim.core.storage.path(await c.call<string>('VDI.get_uuid', s1)))).toBe(false)
    const bitmap = Buffer.from(await c.call<string>('VDI.list_changed_blocks', s1, s2), 'base64')
    const changed = [...Array(bitmap.length * 8).keys()].filter((i) => ((bitmap[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0)
    expect(changed).toEqual([3, 4])
    await expect(c.call('VDI.list_changed_blocks', s1, disk.vdi)).rejects.toMatchObject({ code: 'VDI_IN_USE' })
    const nbd = await c.call<{ address: string; port: number; exportname: string; cert: string }[]>('VDI.get_nbd_info', s2)
    expect(nbd).toHaveLength(1)
    await expect(c.call('VDI.get_nbd_info', s1)).rejects.toMatchObject({ code: 'VDI_INCOMPATIBLE_TYPE' })
    await c.call('VDI.destroy', s1)
    await c.call('VDI.destroy', s2)
  })

  it('speaks NBD as xapi-nbd: fixed newstyle only, TLS first, EXPORT_NAME only (GO unsupported), whole sectors only', async () => {
    const [disk] = sim.disksOf('web')
    if (!disk) throw new Error('no disk')
    const snap = await c.call<string>('VDI.snapshot', disk.vdi, {})
    const [info] = await c.call<{ address: string; port: number; exportname: string; cert: string }[]>('VDI.get_nbd_info', snap)
    if (!info) throw new Error('no NBD info')
    const raw = netConnect(info.port, info.address)
    const chunks: Buffer[] = []
    const read = async (n: number, from: NodeJS.ReadableStream = raw): Promise<Buffer> => {
      for (;;) {
        const all = Buffer.concat(chunks)
        if (all.length >= n) {
          chunks.length = 0
          if (all.length > n) chunks.push(all.subarray(n))
          return all.subarray(0, n)
        }
        const d = await new Promise<Buffer>((r) => from.once('data', r))
        chunks.push(d)
      }
    }
    const hello = await read(18)
    expect(hello.subarray(0, 8).toString()).toBe('NBDMAGIC')
    expect(hello.readUInt16BE(16)).toBe(1) // fixed newstyle, no NBD_FLAG_NO_ZEROES
    raw.write(Buffer.from([0, 0, 0, 1]))
    const opt = (n: number, data: Buffer) => {
      const h = Buffer.alloc(16)
      h.writeBigUInt64BE(0x49484156454f5054n, 0)
      h.writeUInt32BE(n, 8)
      h.writeUInt32BE(data.length, 12)
      return Buffer.concat([h, data])
    }
    const name = Buffer.from(info.exportname)
    const go = Buffer.concat([Buffer.from([0, 0, 0, name.length]), name, Buffer.from([0, 0])])
    raw.write(opt(7, go))
    const refused = await read(20)
    expect(refused.readUInt32BE(12)).toBe(0x80000005)
    await read(refused.readUInt32BE(16))
    raw.write(opt(5, Buffer.alloc(0)))
    expect((await read(20)).readUInt32BE(12)).toBe(1)
    const secure = tlsConnect({ socket: raw, ca: info.cert, servername: 'xcp-sim-1', checkServerIdentity: () => undefined })
    await new Promise((r) => secure.once('secureConnect', r))
    for (const o of [7, 6]) {
      secure.write(opt(o, go))
      const reply = await read(20, secure)
      expect(reply.readUInt32BE(12)).toBe(0x80000001)
      await read(reply.readUInt32BE(16), secure)
    }
    secure.write(opt(1, name))
    const answer = await read(134, secure)
    expect(Number(answer.readBigUInt64BE(0))).toBe(disk.size)
    expect(answer.subarray(10).equals(Buffer.alloc(124))).toBe(true)
    const readRequest = (handle: number, offset: number, length: number) => {
      const r = Buffer.alloc(28)
      r.writeUInt32BE(0x25609513, 0)
      r.writeBigUInt64BE(BigInt(handle), 8)
      r.writeBigUInt64BE(BigInt(offset), 16)
      r.writeUInt32BE(length, 24)
      return r
    }
    secure.write(readRequest(1, 100, 512))
    const unaligned = await read(16, secure)
    expect(unaligned.readUInt32BE(4)).toBe(22)
    secure.write(readRequest(2, 1024, 512))
    const ok = await read(16, secure)
    expect(ok.readUInt32BE(4)).toBe(0)
    expect((await read(512, secure)).equals(readFileSync(disk.path).subarray(1024, 1536))).toBe(true)
    secure.destroy()
    await c.call('VDI.destroy', snap)
  })

  it('exports a VM as an XVA and imports it as a new VM with the same disk bytes and new MACs', async () => {
    const vm = sim.vmByName('halted').ref
    const original = sim.disksOf('halted')
    const xva = await c.get('/export', { ref: vm })
    expect(xva.status).toBe(200)
    expect(xva.body.subarray(0, 7).toString()).toBe('ova.xml')
    expect(execFileSync('tar', ['-tf', '-'], { input: xva.body }).toString()).toContain('ova.xml')
    const sr = await c.call<string>('pool.get_default_SR', (await c.call<string[]>('pool.get_all'))[0])
    const task = await c.call<string>('task.create', 'import', '')
    expect(await c.put('/import', { sr_id: sr, task_id: task }, xva.body)).toBe(200)
    const done = await c.waitTask(task)
    const imported = /<value>(OpaqueRef:[^<]+)<\/value>/.exec(String(done.result))?.[1]
    if (imported === undefined) throw new Error(`no VM in ${String(done.result)}`)
    const vbds = await c.call<string[]>('VM.get_VBDs', imported)
    const vdis: string[] = []
    for (const b of vbds) {
      const r = await c.call<{ VDI: string; type: string; userdevice: string }>('VBD.get_record', b)
      if (r.type === 'Disk') vdis[Number(r.userdevice)] = await c.call<string>('VDI.get_uuid', r.VDI)
    }
    expect(vdis).toHaveLength(2)
    for (const [i, d] of original.entries()) expect(readFileSync(sim.core.storage.path(vdis[i] ?? '')).equals(readFileSync(d.path))).toBe(true)
    const macs = async (v: string) => Promise.all((await c.call<string[]>('VM.get_VIFs', v)).map((f) => c.call<string>('VIF.get_MAC', f)))
    expect(await macs(imported)).not.toEqual(await macs(vm))
  })

  it("redirects uploads for a member's local SR as xapi does: 302, Connection: close, same query; the body is not read", async () => {
    await sim.addVm({ name: 'remote-put', on: 'slave', diskSize: MiB, powerState: 'Halted' })
    const [disk] = sim.disksOf('remote-put')
    const before = await sim.core.storage.read(disk?.uuid ?? '', 0, MiB)
    const probe = await request(`${sim.url}/import_raw_vdi?${new URLSearchParams({ session_id: c.session, vdi: disk?.vdi ?? '', format: 'raw' }).toString()}`, { method: 'PUT', dispatcher: c.agent, body: '', headers: { 'content-length': '0' } })
    await probe.body.dump()
    expect(probe.statusCode).toBe(302)
    expect(probe.headers.connection).toBe('close')
    const location = new URL(String(probe.headers.location))
    expect(location.hostname).toBe(sim.core.hosts[1]?.address)
    expect(location.searchParams.get('vdi')).toBe(disk?.vdi)
    expect(location.searchParams.get('session_id')).toBe(c.session)
    const slaveSr = (sim.db.get('host', sim.core.hosts[1]?.ref ?? '').PBDs as string[]).map((p) => sim.db.get('PBD', p).SR as string)[0] ?? ''
    const xva = await request(`${sim.url}/import?${new URLSearchParams({ session_id: c.session, sr_id: slaveSr }).toString()}`, { method: 'PUT', dispatcher: c.agent, body: '', headers: { 'content-length': '0' } })
    await xva.body.dump()
    expect(xva.statusCode).toBe(302)
    expect(new URL(String(xva.headers.location)).hostname).toBe(sim.core.hosts[1]?.address)
    // A body sent to the master regardless is never written there.
    const sent = await request(`${sim.url}/import_raw_vdi?${new URLSearchParams({ session_id: c.session, vdi: disk?.vdi ?? '', format: 'raw' }).toString()}`, { method: 'PUT', dispatcher: c.agent, body: Buffer.alloc(MiB, 7), headers: { 'content-length': String(MiB) } }).then(
      async (r) => {
        await r.body.dump().catch(() => undefined)
        return r.statusCode
      },
      () => 'connection reset',
    )
    expect([302, 'connection reset']).toContain(sent)
    expect((await sim.core.storage.read(disk?.uuid ?? '', 0, MiB)).equals(before)).toBe(true)
  })

  it('slows every answer down when asked to', async () => {
    sim.faults.slowMs = 300
    try {
      const started = Date.now()
      await c.call('pool.get_all')
      expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    } finally {
      sim.faults.slowMs = 0
    }
  })

  it('runs standalone: prints URL, user, password, fingerprint and data folder; --vm disks hold known content', async () => {
    const data = path.join(scratch, 'cli-data')
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'cli.ts'), '--json', '--vm', 'alpha one', '--vm', 'beta', '--disk-size', '2M', '--data', data], { stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve)
        child.once('exit', (code) => reject(new Error(`exited ${code}`)))
      })
      const info = JSON.parse(line) as { url: string; user: string; password: string; fingerprint: string; data: string; vms: { name: string; disks: { vdi: string; file: string }[] }[] }
      expect(info).toMatchObject({ url: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/), user: 'root', fingerprint: expect.stringMatching(/^SHA256:([0-9A-F]{2}:){31}[0-9A-F]{2}$/), data })
      expect(info.vms.map((v) => v.name)).toEqual(['alpha one', 'beta'])
      const disk = info.vms[0]?.disks[0]
      expect(disk?.file).toBe(path.join(data, disk?.vdi ?? ''))
      expect(readFileSync(disk?.file ?? '').equals(XapiSim.knownBytes('alpha one:0', 0, 2 * 1024 * 1024))).toBe(true)
      const peer = await fetchLogin(info.url, info.password)
      expect(peer).toMatch(/^OpaqueRef:/)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
  })

  it('returns records with exactly the datamodel fields of their class, with valid types and enum values', async () => {
    const model = Model.load()
    const problems: string[] = []
    let checked = 0
    for (const cls of Object.keys(model.data.classes)) {
      if (model.message(cls, 'get_all_records') === undefined) continue
      const all = await c.call<Record<string, unknown>>(`${cls}.get_all_records`)
      for (const r of Object.values(all)) {
        problems.push(...recordProblems(model, cls, r))
        checked++
      }
    }
    const events = await c.call<{ events: { snapshot: unknown; class: string }[] }>('event.from', ['*'], '', 0.1)
    for (const e of events.events) {
      problems.push(...recordProblems(model, 'event', { ...e, snapshot: {} }))
      const cls = model.className(e.class)
      if (cls !== undefined) problems.push(...recordProblems(model, cls, e.snapshot))
    }
    const [disk] = sim.disksOf('web')
    for (const info of await c.call<unknown[]>('VDI.get_nbd_info', disk?.vdi)) problems.push(...recordProblems(model, 'vdi_nbd_server_info', info))
    expect(problems).toEqual([])
    expect(checked).toBeGreaterThan(30)
  })
})

describe('XAPI simulator playing an older XAPI (--xapi-version)', () => {
  const start = async (xapiVersion: string) => {
    const s = await XapiSim.start({ vms: ['old'], diskSize: MiB, pool: { slave: true, slaveAddress: '127.0.0.8' }, xapiVersion })
    const client = new SimClient(s)
    await client.login()
    return { s, client }
  }

  it('1.249.0 (XCP-ng 8.2 LTS): records, events and methods as that release has them, per the datamodel release tags', async () => {
    const { s, client } = await start('1.249.0')
    try {
      const model = Model.load()
      const certs = Object.values(await client.call<Record<string, Record<string, unknown>>>('Certificate.get_all_records'))
      expect(certs).toHaveLength(2)
      for (const cert of certs) {
        // Certificate arrived in stockholm with `fingerprint`; type and name came in 1.294.0, fingerprint_sha256/sha1 in 24.20.0.
        expect(Object.keys(cert).sort()).toEqual(['fingerprint', 'host', 'not_after', 'not_before', 'uuid'])
        const host = s.core.hosts.find((h) => h.ref === cert.host)
        expect(`SHA256:${String(cert.fingerprint)}`).toBe(host?.fingerprint)
      }
      const problems: string[] = []
      for (const cls of Object.keys(model.data.classes)) {
        if (model.message(cls, 'get_all_records') === undefined) continue
        if (!model.hasClassAt(cls, '1.249.0')) {
          await expect(client.call(`${cls}.get_all_records`)).rejects.toMatchObject({ code: 'MESSAGE_METHOD_UNKNOWN' })
          continue
        }
        for (const r of Object.values(await client.call<Record<string, unknown>>(`${cls}.get_all_records`))) problems.push(...recordProblems(model, cls, r, '1.249.0'))
      }
      const events = await client.call<{ events: { snapshot: unknown; class: string }[] }>('event.from', ['*'], '', 0.1)
      expect(events.events.some((e) => e.class === 'observer')).toBe(false)
      for (const e of events.events) {
        const cls = model.className(e.class)
        if (cls !== undefined) problems.push(...recordProblems(model, cls, e.snapshot, '1.249.0'))
      }
      expect(problems).toEqual([])
      const [vm] = await client.call<string[]>('VM.get_by_name_label', 'old')
      // VM.pending_guidances (and its getter) arrived in 1.303.0; the Observer class in 23.14.0.
      await expect(client.call('VM.get_pending_guidances', vm)).rejects.toMatchObject({ code: 'MESSAGE_METHOD_UNKNOWN' })
      expect(await client.call('VM.get_name_label', vm)).toBe('old')
      const methods = await client.call<string[]>('system.listMethods')
      expect(methods).toContain('Certificate.get_fingerprint')
      expect(methods).not.toContain('Certificate.get_fingerprint_sha256')
      expect(methods).not.toContain('Observer.get_all')
      await expect(XapiSim.start({ xapiVersion: 'stockholm' })).rejects.toThrow(/numbered XAPI release/)
    } finally {
      await client.close()
      await s.stop()
    }
  })

  it('24.20.0: Certificate records carry fingerprint_sha256 beside the deprecated fingerprint, both the SHA-256 digest', async () => {
    const { s, client } = await start('24.20.0')
    try {
      for (const cert of Object.values(await client.call<Record<string, Record<string, unknown>>>('Certificate.get_all_records'))) {
        expect(Object.keys(cert).sort()).toEqual(['fingerprint', 'fingerprint_sha1', 'fingerprint_sha256', 'host', 'name', 'not_after', 'not_before', 'type', 'uuid'])
        expect(cert.fingerprint_sha256).toBe(cert.fingerprint)
      }
    } finally {
      await client.close()
      await s.stop()
    }
  })
})

describe('XAPI simulator: users with a role (rbac.ml)', () => {
  it("refuses what the session's role may not with RBAC_PERMISSION_DENIED [permission, roles that may], lets root do all", async () => {
    const s = await XapiSim.start({ vms: ['web'], diskSize: MiB, users: [{ name: 'op', password: 'op-pw', role: 'vm-operator' }] })
    const op = new SimClient(s)
    const root = new SimClient(s)
    try {
      const answer = await op.raw('session.login_with_password', ['op', 'op-pw', '2.21', 'test'])
      op.session = answer.result as string
      await root.login()
      const session = await op.call<Record<string, unknown>>('session.get_record', op.session)
      expect(session.is_local_superuser).toBe(false)
      const [vm] = await op.call<string[]>('VM.get_by_name_label', 'web')
      expect(Object.keys(await op.call<Record<string, unknown>>('VM.get_all_records')).length).toBeGreaterThan(0)
      await expect(op.call('VM.snapshot', vm, 'x')).rejects.toMatchObject({
        code: 'RBAC_PERMISSION_DENIED',
        params: ['vm.snapshot', 'No permission in user session. (Roles with this permission: pool-admin, pool-operator, vm-power-admin)'],
      })
      await expect(op.call('Async.VM.snapshot', vm, 'x')).rejects.toMatchObject({ code: 'RBAC_PERMISSION_DENIED' })
      const snap = await root.call<string>('VM.snapshot', vm, 'x')
      expect(snap).toMatch(/^OpaqueRef:/)
      expect((await op.raw('session.login_with_password', ['op', 'wrong', '2.21', 'test'])).error?.message).toBe('SESSION_AUTHENTICATION_FAILED')
    } finally {
      await op.close()
      await root.close()
      await s.stop()
    }
  })
})
