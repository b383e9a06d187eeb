/**
 * Shared setup for the Linux backup tests: an engine on a temp home with a saved SSH test host (root, key), helpers to
 * run channels, follow jobs and look at libvirt from the outside. Test support only.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ChannelName, Channels, InputOf, OutputOf } from '../../api/contract'
import type { JobDetailDto } from '../../api/contract-jobs'
import { call } from '../../cli/cli-call'
import { createEngine, type Engine } from '../../engine'
import type { SshTestHost } from '../../../test-hosts/ssh-host'
import { run, sleep } from '../../../test-hosts/run'
export { blockList, hasJobs, taggedFiles } from '../../../test-hosts/libvirt-inspect'

export interface EngineFixture {
  readonly engine: Engine
  readonly home: string
  call<K extends ChannelName>(channel: K, input: InputOf<Channels[K]>): Promise<OutputOf<Channels[K]>>
  /** Waits for a job to end and returns its record (with log and result). */
  job(jobId: string, timeoutMs?: number): Promise<JobDetailDto>
  dispose(): Promise<void>
}

export async function engineFixture(): Promise<EngineFixture> {
  const home = await mkdtemp(path.join(tmpdir(), 'lb-backup-home-'))
  const engine = await createEngine({ home, door: 'cli' })
  const fx: EngineFixture = {
    engine,
    home,
    call: (channel, input) => call(engine.handlers, channel, input, AbortSignal.timeout(600_000)),
    async job(jobId, timeoutMs = 600_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const job = await engine.jobs.get(jobId)
        if (job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled') return job
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.state} after ${timeoutMs} ms`)
        await sleep(100)
      }
    },
    async dispose() {
      await engine.dispose()
      await rm(home, { recursive: true, force: true })
    },
  }
  return fx
}

export async function addRootHost(fx: EngineFixture, host: SshTestHost, name: string): Promise<string> {
  const dto = await fx.call('hosts.add', {
    kind: 'linux',
    name,
    address: `${host.address}:22`,
    user: 'root',
    auth: { type: 'key', privateKey: await readFile(host.clientKeyPath, 'utf8') },
    acceptFingerprint: host.fingerprint,
  })
  return dto.id
}

/** The guest-visible bytes of an image (qemu-img convert -U to raw). */
export async function rawBytes(image: string, scratch: string): Promise<Buffer> {
  await run('qemu-img', ['convert', '-U', '-O', 'raw', image, scratch])
  const data = await readFile(scratch)
  await rm(scratch, { force: true })
  return data
}
