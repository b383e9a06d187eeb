/**
 * Libvirt domains for tests: persistent, named `lbtest-<owner pid>-<random>`, running the tiny guest (or any kernel
 * and initrd), with the given disks, a guest-agent channel and the serial console logged to a file. Test peer only.
 *
 * Every domain records its owner process (PID and start time) in its <description>, so cleanupStaleTestDomains() can
 * remove what killed runs left behind without touching domains of test processes that are still running.
 *
 * Writing into a running disk from outside: HMP `qemu-io -d <qdev path> "write -P 0xcd 8M 3M"` through
 * `virsh qemu-monitor-command --hmp`. The path is the QOM path of the virtio-blk device that owns the disk's
 * BlockBackend: libvirt names the virtio-blk-pci proxy after the disk's alias (virtio-disk0 for vda, virtio-disk1 for
 * vdb, read from the live XML's <alias>), and the block device is its child `virtio-backend` — so
 * /machine/peripheral/virtio-disk1/virtio-backend for vdb. The write goes where guest writes go: into the active
 * layer (an overlay after a disk-only snapshot) and into dirty bitmaps (so incremental backups see it).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { makeTestDir } from './data-disk'
import type { DiskFormat } from './data-disk'
import { domainXml, type DomainDisk } from './domain-xml'
import { agentCommand, guestExec, waitForAgentReady, type GuestExecResult } from './guest-agent'
import { sleep } from './run'
import { ensureTinyGuest, type TinyGuest } from './tiny-guest/tiny-guest'
import { virsh } from './virsh'

export const TEST_DOMAIN_PREFIX = 'lbtest-'

export interface TestDiskSpec {
  readonly path: string
  readonly format: DiskFormat
  /** Guest device name; defaults to vda, vdb, … in order. */
  readonly target?: string
  readonly readonly?: boolean
}

export interface TestDomainOptions {
  /** Kernel, initrd and command line to boot; default the tiny guest (`ensureTinyGuest()`). */
  readonly guest?: Pick<TinyGuest, 'kernel' | 'initrd' | 'cmdline'>
  readonly disks: readonly TestDiskSpec[]
  /** Which disk the tiny guest mounts at /data (`lb.data=`); default 'vda', 'none' for no mount. */
  readonly dataDevice?: string
  readonly memoryMiB?: number
  readonly vcpus?: number
  /** Adds the org.qemu.guest_agent.0 channel (default true). */
  readonly agent?: boolean
}

export interface TestDomain extends AsyncDisposable {
  readonly name: string
  /** Temp folder (0755) of this domain: console log, and a handy place for disks, overlays and backups. */
  readonly dir: string
  readonly consoleLogPath: string
  readonly disks: readonly DomainDisk[]
  readonly xml: string
  start(): Promise<void>
  state(): Promise<string>
  /** Waits for guest-ping; returns the milliseconds waited. */
  waitForAgent(timeoutMs?: number): Promise<number>
  agent<T = unknown>(execute: string, args?: Record<string, unknown>, timeoutSec?: number): Promise<T>
  exec(argv: readonly string[], timeoutMs?: number): Promise<GuestExecResult>
  /** `virsh shutdown --mode acpi|agent`, then waits for "shut off"; returns the milliseconds that took. */
  shutdown(options?: { readonly mode?: 'acpi' | 'agent'; readonly timeoutMs?: number }): Promise<number>
  waitForState(state: string, timeoutMs: number): Promise<number>
  /** Force off (virsh destroy); no error when it is not running. */
  destroy(): Promise<void>
  consoleLog(): Promise<string>
  /** QOM path of a disk's virtio-blk device, as `qemu-io -d` wants it: /machine/peripheral/<alias>/virtio-backend. */
  diskQdevPath(target: string): Promise<string>
  /** Writes `length` bytes of `pattern` at `offset` into the running domain's disk through the QEMU monitor, then flushes. */
  writeDiskPattern(target: string, write: { readonly offset: number; readonly length: number; readonly pattern: number }): Promise<void>
  /** Destroys, undefines (with snapshot and checkpoint metadata) and removes `dir`. Idempotent. */
  remove(): Promise<void>
}

export async function createTestDomain(options: TestDomainOptions): Promise<TestDomain> {
  const guest = options.guest ?? (await ensureTinyGuest())
  const name = `${TEST_DOMAIN_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`
  const dir = await makeTestDir(`${name}-`)
  const consoleLogPath = path.join(dir, 'console.log')
  const disks: DomainDisk[] = options.disks.map((d, i) => ({
    path: d.path,
    format: d.format,
    target: d.target ?? `vd${String.fromCharCode(97 + i)}`,
    ...(d.readonly === true ? { readonly: true } : {}),
  }))
  const dataDevice = options.dataDevice ?? 'vda'
  const xml = domainXml({
    name,
    description: `Lifeboat test domain (test-hosts/test-domain.ts); owner pid=${process.pid} start=${processStartTime(process.pid) ?? 0}`,
    memoryMiB: options.memoryMiB ?? 256,
    vcpus: options.vcpus ?? 1,
    kernel: guest.kernel,
    initrd: guest.initrd,
    cmdline: `${guest.cmdline} lb.data=${dataDevice}`,
    disks,
    consoleLogPath,
    agent: options.agent ?? true,
  })
  const xmlPath = path.join(dir, 'domain.xml')
  await writeFile(xmlPath, xml)
  try {
    await virsh(['define', xmlPath])
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }

  let removed = false
  const consoleLog = () => readFile(consoleLogPath, 'utf8').catch(() => '')
  const explain = async () => `Console of ${name} (${consoleLogPath}) ends:\n${(await consoleLog()).slice(-4000)}`
  const state = async () => (await virsh(['domstate', name])).trim()
  const waitForState = async (wanted: string, timeoutMs: number) => {
    const started = Date.now()
    while ((await state()) !== wanted) {
      if (Date.now() - started > timeoutMs) throw new Error(`${name} did not reach "${wanted}" within ${timeoutMs} ms.\n${await explain()}`)
      await sleep(100)
    }
    return Date.now() - started
  }
  const diskQdevPath = async (target: string) => {
    const live = await virsh(['dumpxml', name])
    const alias = findDiskAlias(live, target)
    if (alias === undefined) throw new Error(`${name} has no running disk ${target} (is the domain started?)`)
    return `/machine/peripheral/${alias}/virtio-backend`
  }
  const domain: TestDomain = {
    name,
    dir,
    consoleLogPath,
    disks,
    xml,
    async start() {
      await virsh(['start', name])
    },
    state,
    waitForAgent: (timeoutMs = 60_000) => waitForAgentReady(name, timeoutMs, explain),
    agent: (execute, args, timeoutSec) => agentCommand(name, execute, args, timeoutSec),
    exec: (argv, timeoutMs) => guestExec(name, argv, timeoutMs),
    async shutdown(opts = {}) {
      const started = Date.now()
      await virsh(['shutdown', name, '--mode', opts.mode ?? 'acpi'])
      await waitForState('shut off', opts.timeoutMs ?? 30_000)
      return Date.now() - started
    },
    waitForState,
    async destroy() {
      if ((await state().catch(() => 'shut off')) !== 'shut off') await virsh(['destroy', name]).catch(() => undefined)
    },
    consoleLog,
    diskQdevPath,
    async writeDiskPattern(target, write) {
      for (const n of [write.offset, write.length]) {
        if (!Number.isSafeInteger(n) || n < 0) throw new Error(`offset and length must be byte counts, got ${n}`)
      }
      if (!Number.isInteger(write.pattern) || write.pattern < 0 || write.pattern > 255) throw new Error(`pattern must be a byte, got ${write.pattern}`)
      const qdev = await diskQdevPath(target)
      const hex = `0x${write.pattern.toString(16).padStart(2, '0')}`
      await hmpQemuIo(name, qdev, `write -P ${hex} ${write.offset} ${write.length}`, `wrote ${write.length}/${write.length} bytes at offset ${write.offset}`)
      // Writeback caches in QEMU (qcow2 metadata) reach the image file only on flush; readers outside QEMU need that.
      await hmpQemuIo(name, qdev, 'flush')
    },
    async remove() {
      if (removed) return
      removed = true
      await removeDomain(name)
      await rm(dir, { recursive: true, force: true })
      await rm(qemuLogPath(name), { force: true })
    },
    [Symbol.asyncDispose]: () => domain.remove(),
  }
  return domain
}

/** Where libvirt (through virtlogd) puts a domain's QEMU stderr — and so qemu-io's reports. */
const qemuLogPath = (domain: string) => path.join('/var/log/libvirt/qemu', `${domain}.log`)

/**
 * HMP `qemu-io -d <qdev>` runs a qemu-io command on the device's BlockBackend, so the write goes where guest writes go
 * (the active layer, dirty bitmaps included). Only a device lookup failure comes back through the monitor; qemu-io's
 * own report ("wrote N/N bytes at offset O", "write failed: …") goes to QEMU's stderr, i.e. the domain log, so that is
 * where success is confirmed.
 */
async function hmpQemuIo(domain: string, qdev: string, command: string, expect?: string): Promise<void> {
  const log = qemuLogPath(domain)
  const from = (await stat(log).catch(() => undefined))?.size ?? 0
  const out = await virsh(['qemu-monitor-command', domain, '--hmp', `qemu-io -d ${qdev} "${command}"`])
  if (out.trim() !== '') throw new Error(`qemu-io "${command}" on ${domain} ${qdev} said: ${out.trim()}`)
  if (expect === undefined) return
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const added = (await readFile(log)).subarray(from).toString()
    const failure = /^.*failed: .*$/m.exec(added)
    if (failure !== null) throw new Error(`qemu-io "${command}" on ${domain} ${qdev}: ${failure[0]}`)
    if (added.includes(expect)) return
    await sleep(50)
  }
  throw new Error(`qemu-io "${command}" on ${domain} ${qdev}: no "${expect}" in ${log} within 10 s`)
}

/** The libvirt alias (virtio-disk0, …) of the disk with target `target` in a live domain XML. */
export function findDiskAlias(liveXml: string, target: string): string | undefined {
  for (const block of liveXml.match(/<disk\b[\s\S]*?<\/disk>/g) ?? []) {
    if (!block.includes(`<target dev='${target}'`)) continue
    return /<alias name='([^']+)'/.exec(block)?.[1]
  }
  return undefined
}

async function removeDomain(name: string): Promise<void> {
  await virsh(['destroy', name]).catch(() => undefined)
  await virsh(['undefine', name, '--snapshots-metadata', '--checkpoints-metadata']).catch(async (err: unknown) => {
    // Gone already is fine; anything else is worth seeing.
    const names = await listTestDomains().catch((): string[] => [])
    if (names.includes(name)) throw err
  })
}

async function listTestDomains(): Promise<string[]> {
  const out = await virsh(['list', '--all', '--name'])
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(TEST_DOMAIN_PREFIX))
}

/**
 * Removes `lbtest-` domains whose owner process is gone (killed test runs); with `all`, every `lbtest-` domain.
 * Returns the names removed. Disk files are not touched (they were in the owner's temp folders).
 */
export async function cleanupStaleTestDomains(options: { readonly all?: boolean } = {}): Promise<string[]> {
  const removed: string[] = []
  for (const name of await listTestDomains()) {
    if (options.all !== true) {
      const desc = await virsh(['desc', name]).catch(() => '')
      const owner = /owner pid=(\d+) start=(\d+)/.exec(desc)
      if (owner !== null && processStartTime(Number(owner[1])) === Number(owner[2])) continue
    }
    await removeDomain(name)
    await rm(qemuLogPath(name), { force: true })
    removed.push(name)
  }
  return removed
}

/** Field 22 of /proc/PID/stat: tells a live owner from a later process that reused its PID. */
function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const value = Number(fields[19])
    return Number.isFinite(value) ? value : undefined
  } catch {
    return undefined
  }
}
