/**
 * The SSH connection cut in the middle of a hot backup of a registered VM on the SSH test host (its disk a file on
 * btrfs, so the backup takes a tagged read-only subvolume snapshot and holds a job lock file on the host). The cut
 * is either every session process of the host's sshd SIGKILLed (by PID, found below the test host's own listener)
 * or the host's network link set down inside its namespace for a few seconds and brought back. Afterwards the next
 * backup (the next connect) must succeed, and nothing of ours may remain on the host.
 */
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { run } from '../../test-hosts/run'
import { killSshSessions } from '../../engine/repository/testing/sftp-host'
import { aftermath, listPoints } from './aftermath'
import { HOST_NAME, VM_NAME, type FaultRunOptions, type SshSide, type TortureEnvironment } from './environment'
import { describeRun, jsonOf, type RunResult } from './lifeboat-process'
import { record } from './report'

export interface SshOptions extends FaultRunOptions {
  readonly ssh: SshSide
}

type Cut = 'sessions killed' | 'link down'

export async function sshCampaign(o: SshOptions): Promise<void> {
  const { env, ssh, target, prng } = o
  const runner = env.runner
  const backup = (): Promise<RunResult> => runner.run(['backup', '--host', HOST_NAME, '--vm', VM_NAME, '--mode', 'hot', '--repo', target.location], { timeoutMs: 240_000 })
  const first = await backup()
  if (first.code !== 0) throw new Error(`first host backup (setup) failed: ${describeRun(first)}`)
  const index = /^lbt-(\d+)$/.exec(ssh.host.namespace)?.[1]
  if (index === undefined) throw new Error(`unexpected test host namespace ${ssh.host.namespace}`)
  const link = `lbn${index}`
  const setLink = (state: 'up' | 'down') => run('ip', ['netns', 'exec', ssh.host.namespace, 'ip', 'link', 'set', link, state])
  o.log(`  ssh: an unhurt hot backup of ${VM_NAME} took ${first.ms} ms`)

  // The two kinds of cut take turns (the seed picks which comes first), so even a short run sees both.
  const cuts: readonly Cut[] = prng.next() < 0.5 ? ['sessions killed', 'link down'] : ['link down', 'sessions killed']
  for (let n = 1; n <= o.runs; n++) {
    const before = await listPoints(runner, target.location)
    const cut = cuts[(n - 1) % 2] ?? 'sessions killed'
    // Connecting and preparing take most of a run here; the cut is timed from the moment the job's snapshot
    // appears on the host, so that it lands while the disk is being read (or just after).
    const delay = prng.int(0, 2500)
    const downMs = prng.int(1000, 6000)
    let running = true
    const job = backup().finally(() => (running = false))
    const snapshotAt = await waitForSnapshot(ssh.btrfsMount, () => running)
    await sleep(delay)
    const interrupted = running
    if (cut === 'sessions killed') await killSshSessions(ssh.host)
    else {
      await setLink('down')
      try {
        await sleep(downMs)
      } finally {
        await setLink('up')
      }
    }
    const result = await job
    const error = (jsonOf(result) as { error?: { code?: string } } | undefined)?.error
    const outcome = result.code === 0 ? `${cut}, backup carried on` : `${cut}, backup failed (${error?.code ?? describeRun(result)})`
    o.log(`  ssh run ${n}: ${cut}${cut === 'link down' ? ` for ${downMs} ms` : ''} ${delay} ms after the snapshot appeared (${snapshotAt} ms into the run) → ${result.code === 0 ? 'backup carried on' : `failed: ${describeRun(result)}`}`)
    const after = await aftermath({ runner, target, before, nextBackup: backup, hostLeftovers: () => hostLeftovers(env, ssh) })
    record(o.row, `${o.where(n)} (${cut} ${delay} ms after the snapshot${cut === 'link down' ? `, for ${downMs} ms` : ''})`, interrupted, outcome, after)
  }
}

/** Milliseconds until a tagged snapshot shows up in the btrfs (or the job ended first, or two minutes passed). */
async function waitForSnapshot(mount: string, running: () => boolean): Promise<number> {
  const started = Date.now()
  while (running() && Date.now() - started < 120_000) {
    const names = await readdir(mount, { recursive: true }).catch(() => [] as string[])
    if (names.some((n) => path.basename(n).startsWith('.lifeboat-'))) break
    await sleep(50)
  }
  return Date.now() - started
}

/**
 * What our jobs left on the host, looked at two ways: Lifeboat's own `leftovers list` (only entries of this
 * campaign's jobs or on its btrfs: other people's tests share /var/tmp) and the ground truth — tagged btrfs
 * snapshots on the campaign's filesystem and lock files of the campaign's jobs.
 */
async function hostLeftovers(env: TortureEnvironment, ssh: SshSide): Promise<string[]> {
  const jobs = jsonOf(await env.runner.run(['jobs', 'list', '--limit', '1000'], { timeoutMs: 60_000 }))
  const ours = new Set(Array.isArray(jobs) ? jobs.map((j: unknown) => String((j as { id?: unknown }).id)) : [])
  const out: string[] = []
  const listed = await env.runner.run(['leftovers', 'list', '--host', HOST_NAME], { timeoutMs: 120_000 })
  const found = jsonOf(listed)
  if (listed.code !== 0 || !Array.isArray(found)) out.push(`leftovers list failed: ${describeRun(listed)}`)
  else
    for (const l of found as { id: string; jobId?: string; description: string }[]) {
      if ((l.jobId !== undefined && ours.has(l.jobId)) || l.description.includes(ssh.btrfsMount)) out.push(`host leftover ${l.id}`)
    }
  const subvolumes = (await run('btrfs', ['subvolume', 'list', ssh.btrfsMount])).stdout.split('\n').filter((l) => l.includes('lifeboat'))
  for (const s of subvolumes) if (!out.some((o) => o.includes(s.split(' ').at(-1) ?? '\0'))) out.push(`btrfs snapshot ${s.trim()}`)
  for (const f of await readdir('/var/tmp').catch(() => [] as string[])) {
    const id = /^lifeboat-([0-9a-f-]{36})/.exec(f)?.[1]
    if (id !== undefined && ours.has(id) && !out.some((o) => o.includes(f))) out.push(`file /var/tmp/${f}`)
  }
  return out
}
