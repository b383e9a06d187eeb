import { describe, expect, it } from 'vitest'
import type { RestoreRequest } from '../host-adapter'
import { RootShell } from '../ssh/root-shell'
import type { ExecResult, SshConnection } from '../ssh/ssh-connection'
import type { ShellFragment } from '../ssh/shell-quote'
import { domainRef } from './domain-model'
import { checkDiskName, checkHostDir, checkSnapshotName } from './host-names'
import { restoreLibvirtVm } from './libvirt-restore'
import { libvirtSnapshots } from './libvirt-snapshots'
import { restoreManualVm } from './manual-restore'

/** A host that records every command and answers each with `answer` (default: success, no output). */
async function recordingHost(answer: (command: string) => Partial<ExecResult> = () => ({})) {
  const commands: string[] = []
  const conn = {
    label: 'root@recording',
    exec: (command: ShellFragment): Promise<ExecResult> => {
      commands.push(command.text)
      return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '', ...answer(command.text) })
    },
  } as unknown as SshConnection
  RootShell.remember(conn, '0')
  const shell = await RootShell.for(conn)
  return { commands, getShell: () => Promise.resolve(shell) }
}

const signal = new AbortController().signal
const UUID = '6d0d9c1e-5a4b-4c1f-9a43-0c6a5b1f2e3d'

function domainXml(disks: readonly { target: string; file: string }[]): string {
  const d = disks.map((x) => `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${x.file}'/><target dev='${x.target}' bus='virtio'/></disk>`).join('')
  return `<domain type='qemu'><name>web01</name><uuid>${UUID}</uuid><memory unit='MiB'>64</memory><os><type>hvm</type></os><devices>${d}</devices></domain>`
}

function request(xml: string, diskNames: readonly string[], storageDir?: string): RestoreRequest {
  return {
    vmConfig: { kind: 'libvirt', name: 'web01', uuid: UUID, xml },
    disks: diskNames.map((name) => ({ name, size: 4096, source: { size: 4096, label: name, read: (_o: number, l: number) => Promise.resolve(Buffer.alloc(l)), close: () => Promise.resolve() } })),
    name: 'web01-copy',
    inPlace: false,
    start: false,
    ...(storageDir !== undefined ? { storageDir } : {}),
    log: () => undefined,
    phase: () => undefined,
    progress: () => undefined,
  }
}

// The domain name is free (domuuid fails); every other command "succeeds".
const freeName = (c: string): Partial<ExecResult> => (c.includes('domuuid') ? { code: 1, stderr: 'error: failed to get domain' } : {})

describe('names from a restore point never become host paths or options unchecked', () => {
  for (const bad of ['../../etc/x', '-oProxyCommand', '.hidden', 'a/b', '', 'x'.repeat(65), 'vd\na']) {
    it(`a libvirt restore refuses a disk named ${JSON.stringify(bad.slice(0, 20))} before sending any path`, async () => {
      const host = await recordingHost(freeName)
      const xml = domainXml([{ target: bad, file: '/var/lib/libvirt/images/web01.img' }])
      await expect(restoreLibvirtVm(host.getShell, request(xml, [bad], '/srv/restore'), signal)).rejects.toMatchObject({ code: 'BAD_RESPONSE', message: expect.stringContaining('names a disk') as unknown })
      expect(host.commands.filter((c) => c.includes('/srv/restore'))).toEqual([])
    })
  }

  it('a libvirt restore refuses a disk folder with ".." taken from the restore point', async () => {
    const host = await recordingHost(freeName)
    const xml = domainXml([{ target: 'vda', file: '/var/lib/libvirt/images/../../../etc/cron.d/web01.img' }])
    await expect(restoreLibvirtVm(host.getShell, request(xml, ['vda']), signal)).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
    expect(host.commands.filter((c) => c.includes('..'))).toEqual([])
  })

  it('a registered-VM restore refuses such disk names and a relative folder', async () => {
    const host = await recordingHost()
    const manual = (names: readonly string[], dir: string): RestoreRequest => ({ ...request('', names, dir), vmConfig: { kind: 'manual', name: 'app', disks: [] } })
    await expect(restoreManualVm(host.getShell, manual(['-x'], '/srv'), signal)).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
    await expect(restoreManualVm(host.getShell, manual(['xvda'], 'srv/../x'), signal)).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
    expect(host.commands).toEqual([])
  })

  it('plain disk names and folders pass', () => {
    for (const ok of ['vda', 'sdb', 'xvda', 'hdc', 'disk-0', 'nvme0n1', 'a.b_c+d']) expect(checkDiskName(ok)).toBe(ok)
    expect(checkHostDir('/var/lib/libvirt//images/', 'x')).toBe('/var/lib/libvirt/images/')
  })
})

describe('snapshot names never reach virsh as options', () => {
  for (const bad of ['--running', '-x', '--snapshotname=other']) {
    it(`revert, remove and browse refuse ${bad} without running anything`, async () => {
      const host = await recordingHost()
      const snapshots = libvirtSnapshots(host.getShell)
      await expect(snapshots.revert(UUID, bad, {}, signal)).rejects.toMatchObject({ message: expect.stringContaining('not starting with "-"') as unknown })
      await expect(snapshots.remove(UUID, bad, signal)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await expect(snapshots.openDisks?.(UUID, bad, signal)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect(host.commands).toEqual([])
    })
  }

  it('names are otherwise taken as they are', () => {
    expect(checkSnapshotName('before patching 2.4')).toBe('before patching 2.4')
    expect(checkSnapshotName('a-b')).toBe('a-b')
  })

  it('a VM id made of dashes is not a domain reference', () => {
    expect(() => domainRef('-'.repeat(36))).toThrow(/not a libvirt domain UUID/)
    expect(domainRef(UUID.toUpperCase())).toBe(UUID)
  })
})
