import { hostname } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run } from '../run'
import { canRunSshHosts, startSshHost, type SshTestHost } from '../ssh-host'
import { createFakeLvm, type FakeLvm } from './fake-lvm'

const MiB = 1024 * 1024

// What the Linux adapter will meet: an SSH host whose lvs/lvcreate/lvremove are the fake ones.
describe.skipIf(!canRunSshHosts().ok)('fake LVM behind a real sshd', () => {
  let fake: FakeLvm
  let host: SshTestHost
  const ssh = (command: string) =>
    run('ssh', ['-i', host.clientKeyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${host.address}`, command])

  beforeAll(async () => {
    // The fake first: sshd's private mount namespace only sees mounts (the scratch btrfs) that exist when it starts.
    fake = await createFakeLvm()
    await fake.createVg('vmvg', 2 * 1024 * MiB)
    await fake.createLv('vmvg', 'web01-disk0', 64 * MiB, Buffer.alloc(64 * MiB, 0x5a))
    host = await startSshHost({ hostname: 'lvm-host', extraConfig: fake.sshdConfig() })
  })
  afterAll(async () => {
    await host.stop()
    await fake.stop()
  })

  it('serves the fake commands on the SSH session PATH', async () => {
    const { stdout } = await ssh('command -v lvs lvcreate lvremove')
    expect(stdout.trim().split('\n')).toEqual(['lvs', 'lvcreate', 'lvremove'].map((c) => `${fake.binDir}/${c}`))
  })

  it('snapshots, reports and removes over SSH like a real LVM host', async () => {
    const created = await ssh('lvcreate -s -n web01-disk0-lbsnap -L 32M vmvg/web01-disk0')
    expect(created.stdout).toBe('  Logical volume "web01-disk0-lbsnap" created.\n')
    const { stdout } = await ssh('lvs -o lv_name,vg_name,lv_size,origin,data_percent,lv_attr,lv_host --reportformat json --units b')
    const rows = (JSON.parse(stdout) as { report: { lv: Record<string, string>[] }[] }).report[0]?.lv
    expect(rows).toEqual([
      { lv_name: 'web01-disk0', vg_name: 'vmvg', lv_size: '67108864B', origin: '', data_percent: '', lv_attr: 'owi-a-s---', lv_host: hostname() },
      { lv_name: 'web01-disk0-lbsnap', vg_name: 'vmvg', lv_size: '33554432B', origin: 'web01-disk0', data_percent: '0.02', lv_attr: 'swi-a-s---', lv_host: 'lvm-host' },
    ])
    // The write hook works over SSH too: 1 MiB into the origin costs 256 chunks (+1 metadata chunk) of the 32 MiB snapshot.
    await ssh('fake-lvm-write vmvg/web01-disk0 0 1048576 0')
    expect((await ssh('lvs --noheadings -o data_percent vmvg/web01-disk0-lbsnap')).stdout).toBe('    3.16\n')
    // Reading the snapshot device over SSH gives the origin's bytes at snapshot time.
    const sum = await ssh(`sha256sum < ${fake.devRoot}/vmvg/web01-disk0-lbsnap`)
    const local = await run('sh', ['-c', `head -c ${64 * MiB} /dev/zero | tr '\\0' 'Z' | sha256sum`])
    expect(sum.stdout).toBe(local.stdout)
    expect((await ssh('lvremove -f vmvg/web01-disk0-lbsnap')).stdout).toBe('  Logical volume "web01-disk0-lbsnap" successfully removed.\n')
    const missing = await ssh('lvremove -f vmvg/web01-disk0-lbsnap; echo "exit=$?"')
    expect(missing.stdout).toBe('exit=5\n')
    expect(missing.stderr).toBe('  Failed to find logical volume "vmvg/web01-disk0-lbsnap"\n')
  })
})
