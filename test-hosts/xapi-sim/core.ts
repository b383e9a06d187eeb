import { randomBytes, randomUUID } from 'node:crypto'
import type { XapiValue } from './datamodel-values'
import { NULL_REF, text } from './datamodel-values'
import { Db, xapiTime } from './db'
import { fault, XapiFault } from './errors'
import { defaultFaults, type Faults } from './faults'
import type { XapiRecord } from './model'
import { encodeValue } from './rpc-xml'
import { type Storage } from './storage'

export interface SimHost {
  readonly ref: string
  readonly name: string
  readonly address: string
  readonly certPem: string
  readonly keyPem: string
  readonly fingerprint: string
  readonly subject: string
  nbdPort: number
}

export interface TaskControl {
  readonly ref: string
  progress(fraction: number): void
  /** Throws TASK_CANCELLED when task.cancel was called. */
  checkCancelled(): void
  readonly cancelled: Promise<void>
  isCancelled(): boolean
}

/** What tests can count: NBD blocks read per VDI, bytes streamed, methods called. */
export interface SimStats {
  nbdBytesRead: Map<string, number>
  nbdReads: Map<string, { offset: number; length: number }[]>
  /** Options the NBD server answered "unsupported" (NBD_OPT_GO is 7), in order. */
  nbdOptionsRefused: number[]
  /** NBD reads refused because they did not start and end on a 512-byte sector. */
  nbdUnalignedReads: number
  exportBytes: number
  calls: string[]
}

const RUNNING_OPS = ['snapshot', 'checkpoint', 'clean_shutdown', 'hard_shutdown', 'shutdown', 'clean_reboot', 'hard_reboot', 'suspend', 'pause', 'pool_migrate', 'changing_dynamic_range']
const HALTED_OPS = ['snapshot', 'start', 'start_on', 'clone', 'copy', 'export', 'destroy', 'revert', 'provision', 'make_into_template', 'changing_VCPUs', 'changing_static_range']
const SUSPENDED_OPS = ['resume', 'resume_on', 'hard_shutdown', 'shutdown', 'snapshot', 'export', 'revert']
const TEMPLATE_OPS = ['clone', 'copy', 'provision', 'destroy', 'export']
const SNAPSHOT_OPS = ['clone', 'copy', 'revert', 'destroy', 'export']
const PAUSED_OPS = ['unpause', 'hard_shutdown', 'shutdown', 'snapshot', 'hard_reboot']

/** The simulator's state and the operations shared by its method implementations. */
export class SimCore {
  readonly db = new Db()
  readonly faults: Faults = defaultFaults()
  readonly hosts: SimHost[] = []
  readonly stats: SimStats = { nbdBytesRead: new Map(), nbdReads: new Map(), nbdOptionsRefused: [], nbdUnalignedReads: 0, exportBytes: 0, calls: [] }
  private readonly taskCancel = new Map<string, () => void>()
  /** The XAPI version played (see versions.ts); undefined: the newest the datamodel describes. */
  xapiVersion: string | undefined
  /** Users other than root, with their role (sim.ts `users`), and the role of each of their sessions. */
  readonly users = new Map<string, { readonly password: string; readonly role: string }>()
  readonly sessionRoles = new Map<string, string>()
  poolRef = NULL_REF
  networkRef = NULL_REF
  readonly user = 'root'

  constructor(
    readonly storage: Storage,
    readonly password: string,
  ) {}

  get model() {
    return this.db.model
  }

  get master(): SimHost {
    const m = this.hosts[0]
    if (!m) throw new Error('the simulator has no host')
    return m
  }

  hostByRef(ref: string): SimHost | undefined {
    return this.hosts.find((h) => h.ref === ref)
  }

  // ---- sessions -------------------------------------------------------------------------------------------

  /** Whether `ref` is a live session (nothing else happens). */
  checkSessionQuietly(ref: string): boolean {
    return this.db.has('session', ref)
  }

  checkSession(ref: XapiValue | undefined): string {
    if (typeof ref !== 'string' || !this.db.has('session', ref)) throw fault('SESSION_INVALID', text(ref))
    this.db.get('session', ref).last_active = xapiTime()
    return ref
  }

  /** A session for root (the local superuser) or for one of `users`, whose calls are checked against its role. */
  login(host: SimHost, user = this.user): string {
    const role = this.users.get(user)?.role
    const ref = this.db.add('session', {
      this_host: host.ref,
      this_user: NULL_REF,
      last_active: xapiTime(),
      pool: false,
      is_local_superuser: role === undefined,
      validation_time: xapiTime(),
      auth_user_name: user,
      originator: '',
      parent: NULL_REF,
    })
    if (role !== undefined) this.sessionRoles.set(ref, role)
    return ref
  }

  expireSessions(): void {
    for (const [ref] of this.db.all('session')) this.db.delete('session', ref)
    this.sessionRoles.clear()
  }

  // ---- VM power state ------------------------------------------------------------------------------------

  allowedOps(power: string): string[] {
    if (power === 'Running') return RUNNING_OPS
    if (power === 'Suspended') return SUSPENDED_OPS
    if (power === 'Paused') return PAUSED_OPS
    return HALTED_OPS
  }

  setPower(vmRef: string, power: 'Halted' | 'Running' | 'Suspended' | 'Paused', host?: string): void {
    const vm = this.db.get('VM', vmRef)
    const checkpointBlocked = this.faults.checkpointFails
    const ops = this.allowedOps(power).filter((op) => !(checkpointBlocked && op === 'checkpoint'))
    const resident = power === 'Running' || power === 'Paused' ? (host ?? ((vm.resident_on as string) !== NULL_REF ? (vm.resident_on as string) : this.master.ref)) : NULL_REF
    const previous = vm.resident_on as string
    this.db.set('VM', vmRef, {
      power_state: power,
      allowed_operations: vm.is_a_snapshot === true ? ['clone', 'copy', 'revert', 'destroy', 'export'] : ops,
      resident_on: resident,
      domid: power === 'Running' || power === 'Paused' ? 1 + (this.db.all('VM').length % 1000) : -1,
    })
    if (previous !== resident) {
      if (previous !== NULL_REF) this.db.removeFrom('host', previous, 'resident_VMs', vmRef)
      if (resident !== NULL_REF) this.db.addTo('host', resident, 'resident_VMs', vmRef)
    }
    for (const vbd of vm.VBDs as string[]) {
      const attached = power === 'Running' || power === 'Paused'
      const r = this.db.find('VBD', vbd)
      if (r && r.currently_attached !== attached && r.empty !== true) this.db.set('VBD', vbd, { currently_attached: attached })
    }
    if ((power === 'Running' || power === 'Paused') && vm.is_a_snapshot !== true) this.addConsoles(vmRef, resident)
    else this.dropConsoles(vmRef)
  }

  /**
   * The console records of a VM whose domain exists: xapi creates one per console the domain offers when it starts
   * (xapi_xenops.ml, from xenopsd's VM.stat: the VNC console, protocol rfb, and the text console, vt100), each with
   * location https://<host address>/console?uuid=<console uuid>, and lists them in VM.consoles. Kept while it runs or
   * is paused.
   */
  private addConsoles(vmRef: string, hostRef: string): void {
    if ((this.db.get('VM', vmRef).consoles as string[]).length > 0) return
    const address = this.hostByRef(hostRef)?.address ?? this.master.address
    for (const protocol of ['rfb', 'vt100']) {
      const uuid = randomUUID()
      const console = this.db.add('console', { uuid, protocol, location: `https://${address}/console?uuid=${uuid}`, VM: vmRef, other_config: {} })
      this.db.addTo('VM', vmRef, 'consoles', console)
    }
  }

  /** A VM that halted, suspended or is destroyed has no domain, so xapi removes its console records. */
  dropConsoles(vmRef: string): void {
    const vm = this.db.find('VM', vmRef)
    if (vm === undefined) return
    const consoles = vm.consoles as string[]
    if (consoles.length === 0) return
    for (const c of consoles) this.db.delete('console', c)
    this.db.set('VM', vmRef, { consoles: [] })
  }

  assertPower(vmRef: string, expected: string): XapiRecord {
    const vm = this.db.get('VM', vmRef)
    if (vm.power_state !== expected) throw fault('VM_BAD_POWER_STATE', vmRef, expected.toLowerCase(), text(vm.power_state).toLowerCase())
    return vm
  }

  assertAllowed(cls: 'VM', ref: string, op: string): void {
    const r = this.db.get(cls, ref)
    const blocked = (r.blocked_operations as Record<string, string> | undefined)?.[op]
    if (blocked !== undefined) throw fault('OPERATION_BLOCKED', ref, blocked)
    // Templates (snapshots too: they are templates) allow only copying, exporting and destroying (and a snapshot its
    // revert), as xapi_vm_lifecycle.ml's template check does; starting one is VM_IS_TEMPLATE.
    if (r.is_a_template === true && !(r.is_a_snapshot === true ? SNAPSHOT_OPS : TEMPLATE_OPS).includes(op)) throw fault('VM_IS_TEMPLATE', ref, op)
  }

  // ---- tasks ----------------------------------------------------------------------------------------------

  /** Runs `work` as an XAPI task; returns the task ref at once. */
  runTask(label: string, sessionRef: string, resultType: string, work: (task: TaskControl) => Promise<XapiValue>): string {
    const session = this.db.find('session', sessionRef)
    const hostRef = (session?.this_host as string | undefined) ?? this.master.ref
    const ref = this.db.add('task', {
      name_label: label,
      created: xapiTime(),
      finished: '19700101T00:00:00Z',
      status: 'pending',
      resident_on: hostRef,
      progress: 0,
      type: '<none/>',
      result: '',
      error_info: [],
      allowed_operations: ['cancel'],
      other_config: {},
      subtask_of: NULL_REF,
      subtasks: [],
    })
    const control = this.taskControl(ref)
    void (async () => {
      try {
        const failure = this.faults.failTask.get(label.replace(/^Async\./, ''))
        if (failure) {
          this.faults.failTask.delete(label.replace(/^Async\./, ''))
          await new Promise((r) => setTimeout(r, 20))
          throw new XapiFault(failure.code, failure.params)
        }
        const value = await work(control)
        if (!this.db.has('task', ref)) return
        this.db.set('task', ref, {
          status: 'success',
          progress: 1,
          finished: xapiTime(),
          allowed_operations: [],
          type: typeof value === 'string' && value.startsWith('OpaqueRef:') ? resultType.replace(/ ref$/, '') : '<none/>',
          result: resultType === 'void' ? '' : encodeValue(value, resultType),
        })
      } catch (err) {
        if (!this.db.has('task', ref)) return
        const f = err instanceof XapiFault ? err : new XapiFault('INTERNAL_ERROR', [err instanceof Error ? err.message : String(err)])
        this.db.set('task', ref, {
          status: f.code === 'TASK_CANCELLED' ? 'cancelled' : 'failure',
          finished: xapiTime(),
          allowed_operations: [],
          error_info: [f.code, ...f.params],
        })
      } finally {
        this.taskCancel.delete(ref)
      }
    })()
    return ref
  }

  taskControl(ref: string): TaskControl {
    let cancelled = false
    let resolveCancelled: () => void = () => undefined
    const promise = new Promise<void>((r) => (resolveCancelled = r))
    this.taskCancel.set(ref, () => {
      cancelled = true
      resolveCancelled()
    })
    return {
      ref,
      progress: (fraction) => {
        if (this.db.has('task', ref)) this.db.set('task', ref, { progress: Math.max(0, Math.min(1, fraction)) })
      },
      checkCancelled: () => {
        if (cancelled) throw fault('TASK_CANCELLED', ref)
      },
      cancelled: promise,
      isCancelled: () => cancelled,
    }
  }

  cancelTask(ref: string): void {
    const task = this.db.get('task', ref)
    const cancel = this.taskCancel.get(ref)
    if (task.status !== 'pending' || cancel === undefined) throw fault('OPERATION_NOT_ALLOWED', 'The task is not running or cannot be cancelled.')
    this.db.set('task', ref, { status: 'cancelling' })
    cancel()
  }

  /**
   * task.create: a task no handler has taken up yet. As XAPI's TaskHelper.make, it is created with no allowed
   * operations, so task.cancel refuses it (OPERATION_NOT_ALLOWED) until a transfer takes it up (set_cancellable).
   */
  createClientTask(sessionRef: string, label: string): string {
    const { ref } = this.transferTask(sessionRef, null, label)
    this.taskCancel.delete(ref)
    this.db.set('task', ref, { allowed_operations: [] })
    return ref
  }

  /** A task for an HTTP transfer: the caller's (task_id=) or a new one. */
  transferTask(sessionRef: string, taskId: string | null, label: string): { ref: string; control: TaskControl; own: boolean } {
    if (taskId !== null && this.db.has('task', taskId)) {
      this.db.set('task', taskId, { allowed_operations: ['cancel'] })
      return { ref: taskId, control: this.taskControl(taskId), own: false }
    }
    const ref = this.db.add('task', {
      name_label: label,
      created: xapiTime(),
      status: 'pending',
      resident_on: (this.db.find('session', sessionRef)?.this_host as string | undefined) ?? this.master.ref,
      allowed_operations: ['cancel'],
      type: '<none/>',
      subtask_of: NULL_REF,
    })
    return { ref, control: this.taskControl(ref), own: true }
  }

  finishTransfer(ref: string, error?: XapiFault): void {
    this.taskCancel.delete(ref)
    if (!this.db.has('task', ref)) return
    const task = this.db.get('task', ref)
    if (task.status !== 'pending' && task.status !== 'cancelling') return
    if (error) this.db.set('task', ref, { status: error.code === 'TASK_CANCELLED' ? 'cancelled' : 'failure', error_info: [error.code, ...error.params], finished: xapiTime(), allowed_operations: [] })
    else this.db.set('task', ref, { status: 'success', progress: 1, finished: xapiTime(), allowed_operations: [] })
  }

  // ---- builders -------------------------------------------------------------------------------------------

  newMac(): string {
    const b = randomBytes(6)
    b[0] = ((b[0] ?? 0) & 0xfe) | 0x02
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
  }

  /** The host whose local SR holds the VDI (where /export_raw_vdi and NBD must be served). */
  hostOfSr(srRef: string): SimHost {
    const sr = this.db.get('SR', srRef)
    const pbd = (sr.PBDs as string[])[0]
    const hostRef = pbd !== undefined ? (this.db.find('PBD', pbd)?.host as string | undefined) : undefined
    return (hostRef !== undefined ? this.hostByRef(hostRef) : undefined) ?? this.master
  }

  newVdiUuid(): string {
    return randomUUID()
  }
}
