// Benchmark of the XenServer export path: the simulator's /export_raw_vdi stream of a snapshot VDI into a Lifeboat
// repository (adapter → engine ingest: hash, compress, [encrypt], store), against a plain HTTPS download of the same
// stream to /dev/null, in the same run, alternating. The simulator runs in its own process, like a pool would.
//   node --import tsx bench/bench-xapi.ts [--size-mib 1024] [--repeat 3] [--content mixed|random] [--encrypted] [--json]
// mixed (default): a used disk's mix of zeros, random bytes and text; random: incompressible, so the repository
// writes every byte and this machine's disk write speed, not the export path, sets the pace.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { XenServerAdapter } from '../adapters/xenserver/xenserver-adapter'
import { prepareDisk } from '../engine/jobs/disk-ingest'
import { FileSource } from '../engine/disks/file-source'
import { initRepository, localBackend, type IngestDisk } from '../engine/repository'

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '1024' }, repeat: { type: 'string', default: '3' }, encrypted: { type: 'boolean', default: false }, content: { type: 'string', default: 'mixed' }, json: { type: 'boolean', default: false } } })
const sizeMiB = Math.max(16, Number(values['size-mib']) || 1024)
const repeat = Math.max(1, Number(values.repeat) || 3)
const here = path.dirname(fileURLToPath(import.meta.url))
const MiB = 1024 * 1024

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

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-xapi-'))
  const { child, info } = await startSim(path.join(scratch, 'sim'))
  const adapter = new XenServerAdapter({ endpoint: { kind: 'xenserver', address: new URL(info.url).hostname, port: Number(new URL(info.url).port), user: 'root' }, secret: { type: 'password', password: info.password }, pinnedFingerprint: info.fingerprint })
  const rounds: { plain: number; lifeboat: number; local: number; plainCpu: number; lifeboatCpu: number; plainSimCpu: number; plainBusy: number }[] = []
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
        const runPlain = async () => {
          const r = await plainDownload(info, snapshot.ref)
          if (r.bytes !== sizeMiB * MiB) throw new Error(`the plain download got ${r.bytes} bytes`)
          return r.seconds
        }
        const intoRepository = async (name: string, source: () => Promise<{ ingest: IngestDisk; close: () => Promise<void> }>) => {
          const repoDir = path.join(scratch, `repo-${name}-${round}`)
          const repo = await initRepository({ backend: localBackend({ path: repoDir }), ...(values.encrypted ? { passphrase: 'bench-passphrase' } : {}) })
          try {
            const prepared = await source()
            const start = process.hrtime.bigint()
            try {
              await repo.ingest({ vm: { id: vm.uuid, name: 'bench', config: {} }, sourceHost: { name: 'xapi-sim' }, mode: 'hot', consistency: 'crash', disks: [prepared.ingest], signal })
            } finally {
              await prepared.close()
            }
            return Number(process.hrtime.bigint() - start) / 1e9
          } finally {
            await repo.close()
            await rm(repoDir, { recursive: true, force: true })
          }
        }
        const runLifeboat = () => intoRepository('export', () => prepareDisk(disk, signal))
        // The repository's own ceiling on this machine: the same bytes from the simulator's file, no network.
        const runLocal = () =>
          intoRepository('local', async () => {
            const file = await FileSource.open(path.join(scratch, 'sim', snapshot.uuid))
            return { ingest: { name: 'xvda', source: file }, close: () => file.close() }
          })
        const cpu = async (fn: () => Promise<number>) => {
          const before = process.cpuUsage()
          const sim0 = processCpuSeconds(child.pid)
          const machine0 = machineCpu()
          const seconds = await fn()
          const used = process.cpuUsage(before)
          const machine1 = machineCpu()
          return {
            seconds,
            cpu: (used.user + used.system) / 1e6,
            simCpu: processCpuSeconds(child.pid) - sim0,
            /** Share of all cores busy (anything on the machine) while it ran. */
            machineBusy: machine1.total > machine0.total ? (machine1.busy - machine0.busy) / (machine1.total - machine0.total) : 0,
          }
        }
        // Alternate which goes first, so neither always gets the warmer page cache.
        const order = round % 2 === 0 ? ['plain', 'lifeboat', 'local'] : ['lifeboat', 'plain', 'local']
        const times: Record<string, { seconds: number; cpu: number; simCpu: number; machineBusy: number }> = {}
        for (const which of order) times[which] = await cpu(which === 'plain' ? runPlain : which === 'lifeboat' ? runLifeboat : runLocal)
        const t = (k: string) => times[k] ?? { seconds: 1, cpu: 0, simCpu: 0, machineBusy: 0 }
        rounds.push({ plain: t('plain').seconds, lifeboat: t('lifeboat').seconds, local: t('local').seconds, plainCpu: t('plain').cpu, lifeboatCpu: t('lifeboat').cpu, plainSimCpu: t('plain').simCpu, plainBusy: t('plain').machineBusy })
        if (!values.json) {
          console.log(
            `round ${round + 1}: plain download ${(sizeMiB / t('plain').seconds) | 0} MiB/s (${t('plain').cpu.toFixed(1)} CPU-s here, ${t('plain').simCpu.toFixed(1)} in the simulator, all cores ${(t('plain').machineBusy * 100).toFixed(0)} % busy), export into the repository ${(sizeMiB / t('lifeboat').seconds) | 0} MiB/s (${t('lifeboat').cpu.toFixed(1)} CPU-s, ${t('lifeboat').simCpu.toFixed(1)} in the simulator, ${(t('lifeboat').machineBusy * 100).toFixed(0)} % busy), the same bytes from a local file into the repository ${(sizeMiB / t('local').seconds) | 0} MiB/s`,
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
  const plain = sizeMiB / median(rounds.map((r) => r.plain))
  const lifeboat = sizeMiB / median(rounds.map((r) => r.lifeboat))
  const local = sizeMiB / median(rounds.map((r) => r.local))
  const ratio = lifeboat / plain
  const result = {
    sizeMiB,
    repeat,
    content: values.content,
    encrypted: values.encrypted,
    plainMiBps: Math.round(plain),
    lifeboatMiBps: Math.round(lifeboat),
    localFileMiBps: Math.round(local),
    ratioPercent: Math.round(ratio * 1000) / 10,
    ofLocalFilePercent: Math.round((lifeboat / local) * 1000) / 10,
    plainCpuSeconds: median(rounds.map((r) => r.plainCpu)),
    lifeboatCpuSeconds: median(rounds.map((r) => r.lifeboatCpu)),
    /** The reference's own appetite: the simulator's CPU and how busy all cores were during the plain download. */
    plainSimulatorCpuSeconds: median(rounds.map((r) => r.plainSimCpu)),
    plainMachineBusyPercent: Math.round(median(rounds.map((r) => r.plainBusy)) * 100),
    target: 90,
    met: ratio >= 0.9,
  }
  if (values.json) console.log(JSON.stringify(result))
  else console.log(`\n${sizeMiB} MiB VDI (${values.content} content), median of ${repeat}: plain HTTPS download ${result.plainMiBps} MiB/s, /export_raw_vdi into the repository${values.encrypted ? ' (encrypted)' : ''} ${result.lifeboatMiBps} MiB/s = ${result.ratioPercent} % (target ≥ 90 %: ${result.met ? 'met' : 'NOT met'}); the repository alone, from a local file: ${result.localFileMiBps} MiB/s (the export reaches ${result.ofLocalFilePercent} % of that). During the plain download the simulator used ${result.plainSimulatorCpuSeconds.toFixed(1)} CPU-s and this process ${result.plainCpuSeconds.toFixed(1)}; all cores were ${result.plainMachineBusyPercent} % busy.`)
}

await main()
