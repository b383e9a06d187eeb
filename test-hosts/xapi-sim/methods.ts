import { timingSafeEqual } from 'node:crypto'
import type { SimCore } from './core'
import { NULL_REF, text, type XapiValue } from './datamodel-values'
import type { Handler } from './dispatch'
import { fault } from './errors'
import { eventFrom, eventInject } from './events'
import type { VdiOps } from './vdi-ops'
import type { VmOps } from './vm-ops'

const str = (v: XapiValue | undefined): string => text(v)
const record = (v: XapiValue | undefined): Record<string, XapiValue> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, XapiValue>) : {})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The messages the simulator implements beyond the generic accessors. */
export function methodTable(core: SimCore, vms: VmOps, vdis: VdiOps, role: 'master' | 'slave'): Map<string, Handler> {
  const db = core.db
  const h = new Map<string, Handler>()
  const masterAddress = () => core.master.address

  h.set('session.login_with_password', async (c) => {
    if (role === 'slave') throw fault('HOST_IS_SLAVE', masterAddress())
    const [user, password] = c.args.map(str)
    await sleep(5)
    const other = core.users.get(user ?? '')
    if (other !== undefined && sameSecret(password ?? '', other.password)) return core.login(c.host, user)
    if (user !== core.user || !sameSecret(password ?? '', core.password)) throw fault('SESSION_AUTHENTICATION_FAILED', user ?? '', 'Authentication failure')
    return core.login(c.host)
  })
  h.set('session.logout', (c) => {
    db.delete('session', c.session)
    core.sessionRoles.delete(c.session)
    return ''
  })

  h.set('event.from', (c) => eventFrom(core, c.session, (c.args[0] as string[] | undefined) ?? [], str(c.args[1]), Number(c.args[2] ?? 0), c.signal))
  h.set('event.inject', (c) => eventInject(core, str(c.args[0]), str(c.args[1])))

  h.set('task.cancel', (c) => {
    core.cancelTask(str(c.args[0]))
    return ''
  })
  h.set('task.create', (c) => core.createClientTask(c.session, str(c.args[0])))
  h.set('task.destroy', (c) => {
    db.delete('task', str(c.args[0]))
    return ''
  })

  h.set('host.get_server_certificate', (c) => core.hosts.find((x) => x.ref === str(c.args[0]))?.certPem ?? '')

  h.set('VM.start', async (c) => {
    await vms.start(str(c.args[0]), c.task)
    return ''
  })
  h.set('VM.clean_shutdown', async (c) => {
    await vms.cleanShutdown(str(c.args[0]), c.task)
    return ''
  })
  h.set('VM.hard_shutdown', async (c) => {
    await vms.hardShutdown(str(c.args[0]))
    return ''
  })
  h.set('VM.shutdown', async (c) => {
    await vms.cleanShutdown(str(c.args[0]), c.task)
    return ''
  })
  h.set('VM.suspend', async (c) => {
    await vms.suspend(str(c.args[0]), c.task)
    return ''
  })
  h.set('VM.resume', async (c) => {
    await vms.resume(str(c.args[0]))
    return ''
  })
  h.set('VM.pause', (c) => {
    vms.pause(str(c.args[0]))
    return ''
  })
  h.set('VM.unpause', (c) => {
    vms.unpause(str(c.args[0]))
    return ''
  })
  h.set('VM.snapshot', (c) => vms.snapshot(str(c.args[0]), str(c.args[1]), { memory: false, ignore: (c.args[2] as string[] | undefined) ?? [], ...(c.task ? { task: c.task } : {}) }))
  h.set('VM.checkpoint', (c) => vms.snapshot(str(c.args[0]), str(c.args[1]), { memory: true, ...(c.task ? { task: c.task } : {}) }))
  h.set('VM.revert', async (c) => {
    await vms.revert(str(c.args[0]))
    return ''
  })
  h.set('VM.destroy', async (c) => {
    // destroy is one of vm_operations, so blocked_operations can refuse it (OPERATION_BLOCKED), as on a pool.
    core.assertAllowed('VM', str(c.args[0]), 'destroy')
    await vms.destroy(str(c.args[0]))
    return ''
  })
  h.set('VM.create', (c) => vms.create(record(c.args[0])))

  h.set('VBD.create', (c) => vms.createVbd(record(c.args[0])))
  h.set('VBD.destroy', (c) => {
    vms.destroyVbd(str(c.args[0]))
    return ''
  })
  h.set('VBD.plug', (c) => {
    vms.plugVbd(str(c.args[0]))
    return ''
  })
  h.set('VBD.unplug', (c) => {
    vms.unplugVbd(str(c.args[0]))
    return ''
  })
  h.set('VIF.create', (c) => vms.createVif(record(c.args[0])))
  h.set('VIF.destroy', (c) => {
    vms.destroyVif(str(c.args[0]))
    return ''
  })

  h.set('VDI.create', (c) => vdis.create(record(c.args[0])))
  h.set('VDI.destroy', async (c) => {
    await vdis.destroy(str(c.args[0]))
    return ''
  })
  h.set('VDI.snapshot', (c) => vdis.snapshot(str(c.args[0]), record(c.args[1]) as Record<string, string>))
  h.set('VDI.clone', (c) => vdis.clone(str(c.args[0])))
  h.set('VDI.copy', (c) => {
    const [vdi, , base, into] = c.args.map((a) => (a === NULL_REF ? undefined : str(a)))
    // A copy to a fresh VDI on another SR is not modelled (one local SR per host); on the same SR it is a clone.
    return into === undefined ? vdis.clone(vdi ?? '') : vdis.copyInto(vdi ?? '', into, base)
  })
  h.set('VDI.enable_cbt', (c) => {
    vdis.enableCbt(str(c.args[0]))
    return ''
  })
  h.set('VDI.disable_cbt', (c) => {
    vdis.disableCbt(str(c.args[0]))
    return ''
  })
  h.set('VDI.list_changed_blocks', (c) => vdis.listChangedBlocks(str(c.args[0]), str(c.args[1])))
  h.set('VDI.data_destroy', async (c) => {
    await vdis.dataDestroy(str(c.args[0]))
    return ''
  })
  h.set('VDI.get_nbd_info', (c) => vdis.nbdInfo(str(c.args[0]), c.session))
  h.set('SR.scan', () => '')
  h.set('pool.get_all_records', () => Object.fromEntries(db.all('pool').map(([ref, r]) => [ref, JSON.parse(JSON.stringify(db.model.recordAt('pool', r, core.xapiVersion))) as XapiValue])))
  return h
}
