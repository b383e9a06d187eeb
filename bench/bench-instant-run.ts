/**
 * The "run" half of `npm run bench:instant`: seconds from `lifeboat points run` to the VM running (the CLI prints its
 * name) on the libvirt test host, and on to its guest agent answering, for a restore point of the tiny guest whose
 * disk was grown (sparse, `qemu-img resize`) to each size. The VM is stopped (SIGTERM: discarded) after each run.
 * Needs root and the libvirt/SSH test peers; skipped otherwise.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import { makeExt4DataDisk, makeTestDir } from '../test-hosts/data-disk.js'
import { waitForAgentReady } from '../test-hosts/guest-agent.js'
import { canRunLibvirt, ensureLibvirt } from '../test-hosts/libvirt.js'
import { canRunSshHosts, startSshHost } from '../test-hosts/ssh-host.js'
import { createTestDomain } from '../test-hosts/test-domain.js'

const run = promisify(execFile)
const MiB = 1024 * 1024

export interface RunRow {
  readonly sizeGiB: number
  readonly runningS: number
  readonly agentS: number
}

export async function benchInstantRun(bin: string, sizesGiB: readonly number[]): Promise<RunRow[] | string> {
  const can = [canRunLibvirt(), canRunSshHosts()].find((c) => !c.ok)
  if (can !== undefined) return can.reason ?? 'the libvirt/SSH test peers cannot run here'
  // A folder QEMU's user may enter: the overlays go beside the original disk.
  const dir = await makeTestDir('lb-bench-run-')
  const libvirt = await ensureLibvirt()
  const host = await startSshHost({ hostname: 'lb-bench-run' })
  const home = path.join(dir, 'run-home')
  const cli = async (argv: readonly string[]) => (await run(process.execPath, [bin, ...argv, '--home', home], { maxBuffer: 64 * MiB })).stdout
  const rows: RunRow[] = []
  try {
    await cli(['host', 'add', '--kind', 'linux', '--name', 'kvm1', '--address', `${host.address}:22`, '--user', 'root', '--key', host.clientKeyPath, '--accept-fingerprint', host.fingerprint])
    for (const gib of sizesGiB) {
      const files = path.join(dir, `files-${gib}`)
      await mkdir(files, { recursive: true })
      await writeFile(path.join(files, 'hello.txt'), 'bench\n')
      const disk = await makeExt4DataDisk({ fromDir: files, path: path.join(dir, `disk-${gib}.raw`), sizeBytes: 32 * MiB, format: 'raw' })
      await run('qemu-img', ['resize', '-q', '-f', 'raw', disk, `${gib}G`])
      const domain = await createTestDomain({ disks: [{ path: disk, format: 'raw' }] })
      try {
        const point = JSON.parse(await cli(['backup', '--host', 'kvm1', '--vm', domain.name, '--mode', 'cold', '--json'])) as { id: string }
        const vm = `lbbench-${process.pid}-${gib}g`
        const t0 = performance.now()
        const child = spawn(process.execPath, [bin, 'points', 'run', point.id, '--host', 'kvm1', '--as', vm, '--home', home], { stdio: ['ignore', 'pipe', 'inherit'] })
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
        let out = ''
        child.stdout.on('data', (d: Buffer) => (out += d.toString()))
        try {
          while (!out.includes(vm)) {
            if (child.exitCode !== null) throw new Error(`points run exited ${child.exitCode} before the VM ran`)
            await new Promise((r) => setTimeout(r, 20))
          }
          const runningS = (performance.now() - t0) / 1000
          await waitForAgentReady(vm, 300_000, () => Promise.resolve(''))
          rows.push({ sizeGiB: gib, runningS, agentS: (performance.now() - t0) / 1000 })
          console.log(`run ${gib} GiB: running after ${runningS.toFixed(1)} s, guest agent after ${((performance.now() - t0) / 1000).toFixed(1)} s`)
        } finally {
          child.kill('SIGTERM')
          const code = await exited
          if (code !== 0) console.log(`points run exited ${code} after SIGTERM (it should discard the VM and exit 0)`)
        }
      } finally {
        await domain.remove()
        await rm(disk, { force: true })
      }
    }
  } finally {
    await host.stop()
    await libvirt.stop()
    await rm(dir, { recursive: true, force: true })
  }
  return rows
}
