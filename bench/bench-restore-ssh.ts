import { execFile, spawn } from 'node:child_process'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { ensureLibvirt, virsh } from '../test-hosts/libvirt'
import { startSshHost } from '../test-hosts/ssh-host'
import { createTestDomain } from '../test-hosts/test-domain'
import { best, measure, type Measured } from './measure-command.js'
import type { RestorePartOptions } from './restore-part.js'
import { negotiatedCipher } from './ssh-cipher.js'

const run = promisify(execFile)
/** One word for the host's shell (the paths here are mkdtemp's, but a quote in one must not break the command). */
const q = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`

/**
 * Part 5 of bench:restore, over SSH to the namespace test host (test-hosts/ssh-host.ts), whose files are this
 * machine's files:
 *   a. `points export --format raw` from an encrypted SFTP repository on that host (saved host, unprivileged user)
 *      against `ssh root@host cat IMAGE > FILE`, the same bytes over the same path;
 *   b. `lifeboat restore POINT --to-host H --as NAME` of a cold restore point of a libvirt domain whose raw disk is the
 *      image, as a new VM into a storage folder, against `ssh root@host 'cat > FILE' < IMAGE` into that folder
 *      (and, for information, the same followed by `sync`: the restore syncs before it reports done).
 * The plain transfers use OpenSSH with the cipher ssh2 negotiates (like for like; OpenSSH's own default is slower
 * here). Each round alternates which runs first; the page cache is dropped before every timed command.
 */
export async function sshRestore(o: RestorePartOptions): Promise<{ lines: string[]; checks: [string, boolean][] }> {
  const env = { ...process.env, ...o.env }
  const cli = async (argv: readonly string[], stdin?: string): Promise<string> => {
    const child = spawn(process.execPath, [o.bin, ...argv, '--home', o.home], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.stdin.end(stdin ?? '')
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    if (code !== 0) throw new Error(`lifeboat ${argv.join(' ')} exited ${code}: ${err.trim()}`)
    return out
  }
  const lines: string[] = []
  const checks: [string, boolean][] = []
  const libvirt = await ensureLibvirt()
  const host = await startSshHost({ hostname: 'lb-bench-restore' })
  try {
    const cipher = await negotiatedCipher(host)
    // prettier-ignore
    const ssh = ['ssh', '-F', '/dev/null', '-T', '-i', host.clientKeyPath, '-c', cipher, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'Compression=no', `root@${host.address}`]
    /** `ssh … REMOTE` with its stdin or stdout redirected to a local file, run through sh so time measures ssh itself. */
    const sshWith = (redirect: '<' | '>', file: string, remote: string): Promise<Measured> =>
      measure('sh', ['-c', `f=$1; shift; exec "$@" ${redirect} "$f"`, 'sh', file, ...ssh, remote])
    const addHost = (name: string, user: string) =>
      cli(['host', 'add', '--kind', 'linux', '--name', name, '--address', host.address, '--user', user, '--key', host.clientKeyPath, '--accept-fingerprint', host.fingerprint])
    await addHost('backup01', host.user)
    await addHost('kvm', 'root')

    // 5a: from the SFTP repository.
    {
      const folder = path.join(host.dir, 'home', host.user, 'repo')
      const repo = `sftp://backup01${folder.split('/').map(encodeURIComponent).join('/')}`
      await cli(['repo', 'init', '--repo', repo, '--passphrase-stdin'], `${String(o.env.LIFEBOAT_REPO_PASSPHRASE)}\n`)
      const started = Date.now()
      const point = JSON.parse(await cli(['backup-file', o.image, '--repo', repo, '--json'])) as { id: string }
      console.log(`  backed up into the SFTP repository in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      const exported = path.join(o.dir, 'export-sftp.raw')
      const copied = path.join(o.dir, 'ssh-cat.raw')
      const lb: Measured[] = []
      const plain: Measured[] = []
      const exportOnce = async (r: number) => {
        await o.dropCaches()
        lb.push(await measure(process.execPath, [o.bin, 'points', 'export', point.id, '--format', 'raw', '--out', exported, '--repo', repo, '--home', o.home], o.env))
        if (r === 1) await run('cmp', [o.image, exported])
        await rm(exported, { force: true })
      }
      const catOnce = async (r: number) => {
        await o.dropCaches()
        plain.push(await sshWith('>', copied, `cat -- ${q(o.image)}`))
        if (r === 1) await run('cmp', [o.image, copied])
        await rm(copied, { force: true })
      }
      for (let r = 1; r <= o.repeat; r++) {
        if (r % 2 === 1) {
          await exportOnce(r)
          await catOnce(r)
        } else {
          await catOnce(r)
          await exportOnce(r)
        }
        console.log(`  SFTP round ${r}: export ${lb.at(-1)?.seconds.toFixed(2)} s, ssh cat ${plain.at(-1)?.seconds.toFixed(2)} s${r === 1 ? ' (both identical to the image, cmp)' : ''}`)
      }
      const l = best(lb)
      const p = best(plain)
      const ratio = p.seconds / l.seconds
      lines.push(
        `From the SFTP repository on the SSH test host (encrypted, user ${host.user}, ${cipher}), best of ${o.repeat}:`,
        `  lifeboat points export --format raw: ${(o.sizeMiB / l.seconds).toFixed(0)} MiB/s (${l.seconds.toFixed(2)} s), peak RSS ${l.maxRssMiB?.toFixed(0) ?? '?'} MiB, CPU ${cpuOf(lb)} s; runs ${lb.map((m) => m.seconds.toFixed(2)).join(' ')}`,
        `  ssh root@host cat IMAGE > FILE:      ${(o.sizeMiB / p.seconds).toFixed(0)} MiB/s (${p.seconds.toFixed(2)} s), CPU ${cpuOf(plain)} s (the ssh client's); runs ${plain.map((m) => m.seconds.toFixed(2)).join(' ')}`,
      )
      checks.push([`export from SFTP ${(ratio * 100).toFixed(0)} % of ssh cat of the same bytes (target ≥ 80 %)`, ratio >= 0.8])
    }

    // 5b: a whole VM restored to the libvirt host.
    {
      const domain = await createTestDomain({ disks: [{ path: o.image, format: 'raw' }], dataDevice: 'none', agent: false })
      const restored: string[] = []
      try {
        const started = Date.now()
        const point = JSON.parse(await cli(['backup', '--host', 'kvm', '--vm', domain.name, '--mode', 'cold', '--json'])) as { id: string }
        console.log(`  cold backup of ${domain.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
        const storage = domain.dir
        const reference = path.join(storage, 'reference.raw')
        const lb: Measured[] = []
        const plain: Measured[] = []
        const synced: Measured[] = []
        const restoreOnce = async (r: number) => {
          const name = `${domain.name}-restored-${r}`
          await o.dropCaches()
          restored.push(name)
          lb.push(await measure(process.execPath, [o.bin, 'restore', point.id, '--to-host', 'kvm', '--as', name, '--storage', storage, '--home', o.home], o.env))
          const disks = (await virsh(['domblklist', name, '--details'])).split('\n').filter((l) => /\sdisk\s/.test(l))
          const file = disks[0]?.trim().split(/\s+/).at(-1)
          if (disks.length !== 1 || file === undefined || path.dirname(file) !== storage) throw new Error(`the restored VM ${name} does not have one disk in ${storage}: ${disks.join('; ')}`)
          if (r === 1) await run('cmp', [o.image, file])
          await virsh(['undefine', name])
          await rm(file, { force: true })
        }
        const catOnce = async (r: number, sync: boolean) => {
          await o.dropCaches()
          ;(sync ? synced : plain).push(await sshWith('<', o.image, `cat > ${q(reference)}${sync ? ' && sync' : ''}`))
          if (r === 1 && !sync) await run('cmp', [o.image, reference])
          await rm(reference, { force: true })
        }
        for (let r = 1; r <= o.repeat; r++) {
          if (r % 2 === 1) {
            await restoreOnce(r)
            await catOnce(r, false)
            await catOnce(r, true)
          } else {
            await catOnce(r, true)
            await catOnce(r, false)
            await restoreOnce(r)
          }
          console.log(`  restore round ${r}: restore ${lb.at(-1)?.seconds.toFixed(2)} s, ssh 'cat > file' ${plain.at(-1)?.seconds.toFixed(2)} s, with sync ${synced.at(-1)?.seconds.toFixed(2)} s${r === 1 ? ' (restored disk and copy identical to the image, cmp)' : ''}`)
        }
        const l = best(lb)
        const p = best(plain)
        const s = best(synced)
        const ratio = p.seconds / l.seconds
        lines.push(
          `Whole VM restored as a new VM to the libvirt test host over SSH (cold point of a domain with one ${o.sizeMiB} MiB raw disk, local encrypted repository; ${cipher}), best of ${o.repeat}:`,
          `  lifeboat restore --to-host --as --storage: ${(o.sizeMiB / l.seconds).toFixed(0)} MiB/s (${l.seconds.toFixed(2)} s), peak RSS ${l.maxRssMiB?.toFixed(0) ?? '?'} MiB, CPU ${cpuOf(lb)} s; runs ${lb.map((m) => m.seconds.toFixed(2)).join(' ')}`,
          `  ssh root@host 'cat > FILE' < IMAGE:       ${(o.sizeMiB / p.seconds).toFixed(0)} MiB/s (${p.seconds.toFixed(2)} s), CPU ${cpuOf(plain)} s; runs ${plain.map((m) => m.seconds.toFixed(2)).join(' ')}`,
          `  the same, then sync:                      ${(o.sizeMiB / s.seconds).toFixed(0)} MiB/s (${s.seconds.toFixed(2)} s); runs ${synced.map((m) => m.seconds.toFixed(2)).join(' ')}`,
        )
        checks.push([`VM restore ${(ratio * 100).toFixed(0)} % of ssh 'cat > file' of the same bytes (target ≥ 80 %)`, ratio >= 0.8])
        checks.push([`VM restore ${((s.seconds / l.seconds) * 100).toFixed(0)} % of ssh 'cat > file && sync' (reported: the restore syncs too)`, true])
      } finally {
        for (const name of restored) await virsh(['undefine', name]).catch(() => undefined)
        await domain.remove()
      }
      const left = (await virsh(['list', '--all', '--name'])).split('\n').filter((n) => n.startsWith(domain.name))
      checks.push([`nothing left behind on the libvirt host (${left.length === 0 ? 'no domain' : left.join(', ')})`, left.length === 0])
    }
  } finally {
    await host.stop()
    await libvirt.stop()
  }
  return { lines, checks }
}

const cpuOf = (runs: readonly Measured[]): string => {
  const least = Math.min(...runs.map((m) => m.cpuSeconds ?? Infinity))
  return Number.isFinite(least) ? least.toFixed(2) : '?'
}
