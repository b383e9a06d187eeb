// Benchmark of the XenServer export path, all in the same run, alternating, each timed run after the page cache was
// dropped (root only; said when it could not be):
// - the simulator's /export_raw_vdi stream of a snapshot VDI into a Lifeboat repository (adapter → engine ingest:
//   hash, compress, [encrypt], store), against a plain HTTPS download of the same stream to /dev/null;
// - the same snapshot VDI read over NBD (VDI.get_nbd_info, TLS, the adapter's NBD client) into a repository;
// - the same bytes from the simulator's file into a repository (the repository's own ceiling, no network);
// - `restic backup` of that file into a fresh (always encrypted) restic repository.
// What Lifeboat itself spends: CPU-seconds per GiB of this process (process.cpuUsage: every thread, the codec
// workers included) for each way in, against restic's user + system CPU per GiB (GNU time) for the same bytes;
// target ≤ restic's. The simulator runs in its own process, like a pool would, so its CPU is not counted (it is
// reported beside). Like for like with restic: --encrypted (restic always encrypts).
//   node --import tsx bench/bench-xapi.ts [--size-mib 1024] [--repeat 3] [--content mixed|random] [--encrypted] [--json]
// mixed (default): a used disk's mix of zeros, random bytes and text; random: incompressible, so the repository
// writes every byte and this machine's disk write speed, not the export path, sets the pace.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { Agent, request } from 'undici'
import { z } from 'zod'
import { connectAny, nbdBlockSource } from '../adapters/xenserver/nbd-client'
import { VdiNbdServerInfoRecord } from '../adapters/xenserver/xapi-records.generated'
import { XenServerAdapter } from '../adapters/xenserver/xenserver-adapter'
import { prepareDisk } from '../engine/jobs/disk-ingest'
import { FileSource } from '../engine/disks/file-source'
import { initRepository, localBackend, openRepository, type IngestDisk } from '../engine/repository'
import { dropCaches, measure } from './measure-command.js'

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '1024' }, repeat: { type: 'string', default: '3' }, encrypted: { type: 'boolean', default: false }, content: { type: 'string', default: 'mixed' }, json: { type: 'boolean', default: false } } })
const sizeMiB = Math.max(16, Number(values['size-mib']) || 1024)
const repeat = Math.max(1, Number(values.repeat) || 3)
const here = path.dirname(fileURLToPath(import.meta.url))
const MiB = 1024 * 1024
const run = promisify(execFile)

interface SimInfo {
  url: string
  password: string
  fingerprint: string
  data: string
  vms: { name: string; uuid: string; disks: { vdi: string }[] }[]
}

async function startSim(dataDir: string): Promise<{ child: ChildProcess; info: SimInfo }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '../test-hosts/xapi-sim/cli.ts'), '--json', '--vm', 'bench', '--disk-size', `${sizeMiB}M`, '--content', values.content === 'random' ? 'random' : 'mixed', '--data', dataDir], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    rl.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`the simulator exited (${code})`)))
  })
  return { child, info: JSON.parse(line) as SimInfo }
}

async function rpc(info: SimInfo, agent: Agent, method: string, params: unknown[]): Promise<unknown> {
  const res = await request(`${info.url}/jsonrpc`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }) })
  return ((await res.body.json()) as { result: unknown }).result
}

/** The snapshot VDI the backup of `job` reads (tagged with the job id): its reference and uuid. */
async function taggedVdi(info: SimInfo, job: string): Promise<{ ref: string; uuid: string }> {
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  try {
    const session = await rpc(info, agent, 'session.login_with_password', ['root', info.password])
    const vdis = (await rpc(info, agent, 'VDI.get_all_records', [session])) as Record<string, { uuid: string; other_config: Record<string, string> }>
    await rpc(info, agent, 'session.logout', [session])
    const found = Object.entries(vdis).find(([, v]) => v.other_config['lifeboat:job'] === job)
    if (!found) throw new Error(`no snapshot VDI of ${job}`)
    return { ref: found[0], uuid: found[1].uuid }
  } finally {
    await agent.close()
  }
}

/** The plain download: one HTTPS GET of /export_raw_vdi, every byte discarded. */
async function plainDownload(info: SimInfo, vdi: string): Promise<{ seconds: number; bytes: number }> {
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  try {
    const login = await request(`${info.url}/jsonrpc`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', info.password], id: 1 }) })
    const session = ((await login.body.json()) as { result: string }).result
    const start = process.hrtime.bigint()
    const res = await request(`${info.url}/export_raw_vdi?${new URLSearchParams({ session_id: session, vdi, format: 'raw' }).toString()}`, { dispatcher: agent, highWaterMark: 4 * MiB })
    let bytes = 0
    for await (const chunk of res.body as AsyncIterable<Buffer>) bytes += chunk.length
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    await request(`${info.url}/jsonrpc`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ jsonrpc: '2.0', method: 'session.logout', params: [session], id: 2 }) }).then((r) => r.body.dump())
    return { seconds, bytes }
  } finally {
    await agent.close()
  }
}

/**
 * The NBD servers XAPI lists for a VDI (VDI.get_nbd_info: address, port, export name with the session, certificate),
 * as the adapter's NBD client takes them; the session stays open until `logout` (the export name carries it).
 */
async function nbdTargets(info: SimInfo, vdi: string): Promise<{ targets: { address: string; port: number; exportName: string; cert: string; label: string }[]; logout: () => Promise<void> }> {
  const agent = new Agent({ connect: { rejectUnauthorized: false } })
  const session = await rpc(info, agent, 'session.login_with_password', ['root', info.password])
  const listed = z.array(VdiNbdServerInfoRecord).parse(await rpc(info, agent, 'VDI.get_nbd_info', [session, vdi]))
  return {
    targets: listed.map((t) => ({ address: t.address, port: t.port, exportName: t.exportname, cert: t.cert, label: 'xvda (bench)' })),
    logout: async () => {
      await rpc(info, agent, 'session.logout', [session])
      await agent.close()
    },
  }
}

/** CPU seconds a process has used so far (Linux /proc; 0 elsewhere). */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid ?? 0}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** Busy and total CPU time of the whole machine, all cores (Linux /proc/stat; zeros elsewhere). */
function machineCpu(): { busy: number; total: number } {
  try {
    const ticks = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1, 9).map(Number)
    const total = ticks.reduce((a, b) => a + b, 0)
    return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total }
  } catch {
    return { busy: 0, total: 0 }
  }
}

type Way = 'plain' | 'lifeboat' | 'nbd' | 'local' | 'restic'
const WAYS: readonly Way[] = ['plain', 'lifeboat', 'nbd', 'local', 'restic']

interface Timed {
  seconds: number
  /** CPU-s of whoever did the work: this process (all its threads) for Lifeboat and the download, restic's child for restic. */
  cpu: number
  simCpu: number
  /** Share of all cores busy (anything on the machine) while it ran. */
  machineBusy: number
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-xapi-'))
  const { child, info } = await startSim(path.join(scratch, 'sim'))
  const adapter = new XenServerAdapter({ endpoint: { kind: 'xenserver', address: new URL(info.url).hostname, port: Number(new URL(info.url).port), user: 'root' }, secret: { type: 'password', password: info.password }, pinnedFingerprint: info.fingerprint })
  const resticVersion = (await run('restic', ['version'])).stdout.split(' ')[1] ?? '?'
  const rounds: Record<Way, Timed>[] = []
  /** Whether the page cache was dropped before every timed run (needs root). */
  const cache = { dropped: true }
  try {
    const vm = info.vms[0]
    if (!vm) throw new Error('the simulator has no VM')
    for (let round = 0; round < repeat; round++) {
      const signal = AbortSignal.timeout(30 * 60_000)
      const session = await adapter.backup.begin(vm.uuid, { mode: 'hot', quiesce: false, shutdownTimeoutMs: 60_000, forceOffAfterTimeout: false, jobId: `bench-${round}`, incremental: false, log: () => undefined, phase: () => undefined }, signal)
      try {
        const disk = session.disks[0]
        if (disk?.readout.kind !== 'guest' || disk.readout.changedRanges !== undefined) throw new Error('expected a full export')
        const snapshot = await taggedVdi(info, `bench-${round}`)
        const snapshotFile = path.join(scratch, 'sim', snapshot.uuid)
        const runPlain = async (): Promise<{ seconds: number }> => {
          const r = await plainDownload(info, snapshot.ref)
          if (r.bytes !== sizeMiB * MiB) throw new Error(`the plain download got ${r.bytes} bytes`)
          return { seconds: r.seconds }
        }
        // A backup run into an existing repository, as restic's is: creating it (its key derivation, as `restic
        // init`) is not counted; opening it (the passphrase's key derivation, as restic's backup does), reading,
        // hashing, compressing, [encrypting], writing and closing are. The time runs from opening the source to the
        // point written, as before.
        const intoRepository = async (name: string, source: () => Promise<{ ingest: IngestDisk; close: () => Promise<void> }>): Promise<{ seconds: number; cpu: number }> => {
          const repoDir = path.join(scratch, `repo-${name}-${round}`)
          const passphrase = values.encrypted ? { passphrase: 'bench-passphrase' } : {}
          try {
            await (await initRepository({ backend: localBackend({ path: repoDir }), ...passphrase })).close()
            const before = process.cpuUsage()
            const repo = await openRepository({ backend: localBackend({ path: repoDir }), ...passphrase })
            let seconds: number
            try {
              const start = process.hrtime.bigint()
              const prepared = await source()
              try {
                const point = await repo.ingest({ vm: { id: vm.uuid, name: 'bench', config: {} }, sourceHost: { name: 'xapi-sim' }, mode: 'hot', consistency: 'crash', disks: [prepared.ingest], signal })
                const size = point.disks[0]?.size
                if (size !== sizeMiB * MiB) throw new Error(`${name}: the restore point's disk is ${size} bytes`)
              } finally {
                await prepared.close()
              }
              seconds = Number(process.hrtime.bigint() - start) / 1e9
            } finally {
              await repo.close()
            }
            const used = process.cpuUsage(before)
            return { seconds, cpu: (used.user + used.system) / 1e6 }
          } finally {
            await rm(repoDir, { recursive: true, force: true })
          }
        }
        const runLifeboat = () => intoRepository('export', () => prepareDisk(disk, signal))
        // The same snapshot VDI over NBD, as the adapter reads changed blocks (backup-disks.ts) and snapshot disks
        // (snapshot-disks.ts): get_nbd_info, the server's certificate checked, reads pipelined; here every block.
        const runNbd = () =>
          intoRepository('nbd', async () => {
            const { targets, logout } = await nbdTargets(info, snapshot.ref)
            try {
              const client = await connectAny(targets, signal)
              if (client.size !== sizeMiB * MiB) throw new Error(`the NBD export is ${client.size} bytes`)
              const source = nbdBlockSource(client, 'xvda (NBD)', logout)
              return await prepareDisk({ id: snapshot.uuid, name: 'xvda', sizeBytes: client.size, readout: { kind: 'guest', disk: source } }, signal)
            } catch (err) {
              await logout()
              throw err
            }
          })
        // The repository's own ceiling on this machine: the same bytes from the simulator's file, no network.
        const runLocal = () =>
          intoRepository('local', async () => {
            const file = await FileSource.open(snapshotFile)
            return { ingest: { name: 'xvda', source: file }, close: () => file.close() }
          })
        // restic, the same bytes from the same file, into a fresh repository (restic always encrypts and, from
        // repository version 2, compresses); its CPU is its own user + system time (GNU time), not this process's.
        const runRestic = async (): Promise<{ seconds: number; cpu: number }> => {
          const repoDir = path.join(scratch, `restic-${round}`)
          const env = { RESTIC_PASSWORD: 'bench-passphrase', RESTIC_CACHE_DIR: path.join(scratch, `restic-cache-${round}`) }
          try {
            await run('restic', ['init', '--repo', repoDir], { env: { ...process.env, ...env } })
            cache.dropped = (await dropCaches()) && cache.dropped
            const m = await measure('restic', ['backup', '--repo', repoDir, snapshotFile], env)
            if (m.cpuSeconds === undefined) throw new Error('restic: no CPU time (is /usr/bin/time there?)')
            return { seconds: m.seconds, cpu: m.cpuSeconds }
          } finally {
            await rm(repoDir, { recursive: true, force: true })
            await rm(env.RESTIC_CACHE_DIR, { recursive: true, force: true })
          }
        }
        const runners: Record<Way, () => Promise<{ seconds: number; cpu?: number }>> = { plain: runPlain, lifeboat: runLifeboat, nbd: runNbd, local: runLocal, restic: runRestic }
        const timed = async (way: Way): Promise<Timed> => {
          if (way !== 'restic') cache.dropped = (await dropCaches()) && cache.dropped
          const before = process.cpuUsage()
          const sim0 = processCpuSeconds(child.pid)
          const machine0 = machineCpu()
          const r = await runners[way]()
          const used = process.cpuUsage(before)
          const machine1 = machineCpu()
          return {
            seconds: r.seconds,
            cpu: r.cpu ?? (used.user + used.system) / 1e6,
            simCpu: processCpuSeconds(child.pid) - sim0,
            machineBusy: machine1.total > machine0.total ? (machine1.busy - machine0.busy) / (machine1.total - machine0.total) : 0,
          }
        }
        // A different way goes first each round, so none always gets the quieter start.
        const order = WAYS.map((_, i) => WAYS[(i + round) % WAYS.length] as Way)
        const times: Partial<Record<Way, Timed>> = {}
        for (const way of order) times[way] = await timed(way)
        const t = (k: Way): Timed => times[k] ?? { seconds: 1, cpu: 0, simCpu: 0, machineBusy: 0 }
        rounds.push({ plain: t('plain'), lifeboat: t('lifeboat'), nbd: t('nbd'), local: t('local'), restic: t('restic') })
        if (!values.json) {
          const rate = (k: Way) => `${(sizeMiB / t(k).seconds) | 0} MiB/s, ${t(k).cpu.toFixed(1)} CPU-s`
          console.log(
            `round ${round + 1}: plain download ${rate('plain')} here (${t('plain').simCpu.toFixed(1)} in the simulator, all cores ${(t('plain').machineBusy * 100).toFixed(0)} % busy); /export_raw_vdi into the repository ${rate('lifeboat')} (${t('lifeboat').simCpu.toFixed(1)} in the simulator, ${(t('lifeboat').machineBusy * 100).toFixed(0)} % busy); NBD into the repository ${rate('nbd')} (${t('nbd').simCpu.toFixed(1)} in the simulator, ${(t('nbd').machineBusy * 100).toFixed(0)} % busy); the same bytes from a local file into the repository ${rate('local')}; restic backup of that file ${rate('restic')}`,
          )
        }
      } finally {
        await session.finish(AbortSignal.timeout(10 * 60_000), { committed: false })
      }
    }
  } finally {
    await adapter.close()
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    await rm(scratch, { recursive: true, force: true })
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const seconds = (k: Way) => median(rounds.map((r) => r[k].seconds))
  const cpu = (k: Way) => median(rounds.map((r) => r[k].cpu))
  const GiB = sizeMiB / 1024
  const perGiB = (k: Way) => Math.round((cpu(k) / GiB) * 100) / 100
  const plain = sizeMiB / seconds('plain')
  const lifeboat = sizeMiB / seconds('lifeboat')
  const local = sizeMiB / seconds('local')
  const ratio = lifeboat / plain
  const restic = cpu('restic') / GiB
  const ofRestic = (k: Way) => (restic > 0 ? Math.round((cpu(k) / GiB / restic) * 100) / 100 : 0)
  const result = {
    sizeMiB,
    repeat,
    content: values.content,
    encrypted: values.encrypted,
    cacheDropped: cache.dropped,
    plainMiBps: Math.round(plain),
    lifeboatMiBps: Math.round(lifeboat),
    nbdMiBps: Math.round(sizeMiB / seconds('nbd')),
    localFileMiBps: Math.round(local),
    resticMiBps: Math.round(sizeMiB / seconds('restic')),
    ratioPercent: Math.round(ratio * 1000) / 10,
    ofLocalFilePercent: Math.round((lifeboat / local) * 1000) / 10,
    plainCpuSeconds: cpu('plain'),
    lifeboatCpuSeconds: cpu('lifeboat'),
    nbdCpuSeconds: cpu('nbd'),
    localFileCpuSeconds: cpu('local'),
    resticCpuSeconds: cpu('restic'),
    resticVersion,
    /** The reference's own appetite: the simulator's CPU and how busy all cores were during the plain download. */
    plainSimulatorCpuSeconds: median(rounds.map((r) => r.plain.simCpu)),
    plainMachineBusyPercent: Math.round(median(rounds.map((r) => r.plain.machineBusy)) * 100),
    target: 90,
    met: ratio >= 0.9,
    /** CPU-seconds per GiB ingested: Lifeboat's process (all threads) per way in, restic's child from the file. */
    cpuSecondsPerGiB: { exportRawVdi: perGiB('lifeboat'), nbd: perGiB('nbd'), localFile: perGiB('local'), restic: perGiB('restic') },
    /** Lifeboat's CPU per GiB ÷ restic's (target ≤ 1). */
    cpuOfRestic: { exportRawVdi: ofRestic('lifeboat'), nbd: ofRestic('nbd'), localFile: ofRestic('local') },
    cpuTargetMet: { exportRawVdi: cpu('lifeboat') / GiB <= restic, nbd: cpu('nbd') / GiB <= restic },
    simulatorCpuSecondsPerGiB: { exportRawVdi: Math.round((median(rounds.map((r) => r.lifeboat.simCpu)) / GiB) * 100) / 100, nbd: Math.round((median(rounds.map((r) => r.nbd.simCpu)) / GiB) * 100) / 100 },
  }
  if (values.json) {
    console.log(JSON.stringify(result))
    return
  }
  const c = result.cpuSecondsPerGiB
  const o = result.cpuOfRestic
  console.log(
    `\n${sizeMiB} MiB VDI (${values.content} content), median of ${repeat}${cache.dropped ? ', page cache dropped before each timed run' : ', page cache NOT dropped (not root)'}: plain HTTPS download ${result.plainMiBps} MiB/s, /export_raw_vdi into the repository${values.encrypted ? ' (encrypted)' : ''} ${result.lifeboatMiBps} MiB/s = ${result.ratioPercent} % (target ≥ 90 %: ${result.met ? 'met' : 'NOT met'}); NBD into the repository ${result.nbdMiBps} MiB/s; the repository alone, from a local file: ${result.localFileMiBps} MiB/s (the export reaches ${result.ofLocalFilePercent} % of that); restic ${resticVersion} from the file ${result.resticMiBps} MiB/s. During the plain download the simulator used ${result.plainSimulatorCpuSeconds.toFixed(1)} CPU-s and this process ${result.plainCpuSeconds.toFixed(1)}; all cores were ${result.plainMachineBusyPercent} % busy.`,
  )
  console.log(
    `\nCPU-seconds per GiB ingested (Lifeboat: this process, all threads; the simulator's own CPU not counted: ${result.simulatorCpuSecondsPerGiB.exportRawVdi} / ${result.simulatorCpuSecondsPerGiB.nbd} per GiB serving the export / NBD), against restic backup of the same bytes from a file: ${c.restic} (target ≤ restic's${values.encrypted ? '' : '; this repository is not encrypted and restic always is: --encrypted is the like-for-like comparison'}):\n` +
      `  Lifeboat, /export_raw_vdi  ${c.exportRawVdi.toFixed(2)}  = ${o.exportRawVdi.toFixed(2)}× restic's  ${result.cpuTargetMet.exportRawVdi ? 'met' : 'NOT met'}\n` +
      `  Lifeboat, NBD              ${c.nbd.toFixed(2)}  = ${o.nbd.toFixed(2)}× restic's  ${result.cpuTargetMet.nbd ? 'met' : 'NOT met'}\n` +
      `  Lifeboat, from the file    ${c.localFile.toFixed(2)}  = ${o.localFile.toFixed(2)}× restic's  (reported: the repository's work alone)\n` +
      `  restic, from the file      ${c.restic.toFixed(2)}`,
  )
}

await main()
