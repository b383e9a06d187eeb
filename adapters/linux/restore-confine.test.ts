import { describe, expect, it } from 'vitest'
import type { RestoreRequest } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import type { ShellFragment } from '../ssh/shell-quote'
import { restoreLibvirtVm } from './libvirt-restore'

/**
 * A tampered restore point's domain XML restored as a new VM. The host is a scripted shell: it answers the few
 * commands a restore without disks sends (no such VM yet, `test -f` per the files given) and records the XML handed
 * to `virsh define`, which is what libvirt would act on as root.
 */
function scriptedHost(files: readonly string[] = []) {
  const commands: string[] = []
  let defined: string | undefined
  const exec = (fragment: ShellFragment, options: { stdin?: string | Buffer } = {}) => {
    const text = fragment.text
    commands.push(text)
    const ok = { code: 0, signal: null, stdout: '', stderr: '' }
    if (text.includes(' domuuid ')) return Promise.resolve(defined === undefined ? { ...ok, code: 1, stderr: 'error: failed to get domain' } : { ...ok, stdout: '6f1c1d8e-0000-4000-8000-000000000001\n' })
    if (text.includes(' define ')) {
      defined = String(options.stdin)
      return Promise.resolve(ok)
    }
    if (text.startsWith('test -f ')) return Promise.resolve({ ...ok, code: files.some((f) => text === `test -f ${f}` || text === `test -f '${f}'`) ? 0 : 1 })
    return Promise.resolve(ok)
  }
  const shell = { conn: { label: 'root@kvm1:22' }, exec, run: async (f: ShellFragment, o: { stdin?: string }) => (await exec(f, o)).stdout } as unknown as RootShell
  return { shell, commands, defined: () => defined }
}

const request = (xml: string, log: string[] = []): RestoreRequest => ({
  vmConfig: { kind: 'libvirt', name: 'web01', uuid: 'u', xml },
  disks: [],
  name: 'web01-restored',
  inPlace: false,
  start: false,
  log: (_level, message) => log.push(message),
  phase: () => undefined,
  progress: () => undefined,
})

const domain = (inner: string, attrs = '') => `<domain type='kvm'${attrs}><name>web01</name><uuid>u</uuid><memory>65536</memory><os><type>hvm</type></os><devices>${inner}</devices></domain>`

describe('a new-VM restore of a tampered domain XML', () => {
  it('never hands libvirt a program, a writable host file, a host folder or a host device', async () => {
    const host = scriptedHost()
    const log: string[] = []
    const xml = domain(
      [
        '<emulator>/tmp/evil-qemu</emulator>',
        "<filesystem type='mount'><source dir='/'/><target dir='host'/></filesystem>",
        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/></source></hostdev>",
        "<interface type='ethernet'><script path='/tmp/evil.sh'/><backend tap='/etc/shadow'/></interface>",
        "<disk type='file' device='cdrom'><source file='/etc/shadow'/><target dev='hdc'/></disk>",
        "<serial type='dev'><source path='/dev/sda'/></serial>",
        "<memory model='nvdimm'><source><path>/etc/passwd</path></source><target><size unit='KiB'>1024</size></target></memory>",
        "<audio id='1' type='file' path='/etc/cron.d/evil'/>",
        "<rng model='virtio'><backend model='random'>/root/.ssh/id_rsa</backend></rng>",
        "<graphics type='vnc' socket='/etc/passwd'/>",
        "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>",
        "<unknown-future-device path='/etc/x'/>",
      ].join(''),
      " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'",
    ).replace('</devices>', "</devices><qemu:commandline><qemu:arg value='-chardev'/></qemu:commandline><seclabel type='none'/>")
    const result = await restoreLibvirtVm(() => Promise.resolve(host.shell), request(xml, log), AbortSignal.timeout(5000))
    expect(result.name).toBe('web01-restored')
    const defined = host.defined() ?? ''
    expect(defined).toContain('<name>web01-restored</name>')
    for (const bad of ['/tmp/evil', '/etc/', '/dev/sda', '/dev/tpm0', '/root/', 'qemu:', '<filesystem', '<hostdev', 'seclabel', 'unknown-future-device', '<emulator']) expect(defined, bad).not.toContain(bad)
    expect(defined).toContain('/dev/urandom')
    expect(defined).toMatch(/<disk type='file' device='cdrom'>/)
    expect(log.length).toBeGreaterThanOrEqual(10)
    expect(log.join('\n')).toMatch(/host folder shared with the guest/)
  })

  it('refuses a kernel, firmware or ACPI table read from where secrets live, and a writable firmware flash, before writing anything', async () => {
    const cases = [
      "<os><type>hvm</type><kernel>/etc/shadow</kernel></os>",
      "<os><type>hvm</type><initrd>/root/.ssh/id_ed25519</initrd></os>",
      "<os><type>hvm</type><kernel>/boot/../etc/shadow</kernel></os>",
      "<os><type>hvm</type><loader readonly='no' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader></os>",
      "<os><type>hvm</type><acpi><table type='slic'>/var/lib/libvirt/qemu/web01.xml</table></acpi></os>",
    ]
    for (const os of cases) {
      const host = scriptedHost(['/etc/shadow'])
      const xml = `<domain type='kvm'><name>web01</name><memory>65536</memory>${os}<devices/></domain>`
      await expect(restoreLibvirtVm(() => Promise.resolve(host.shell), request(xml), AbortSignal.timeout(5000)), os).rejects.toThrow(/nothing was written/i)
      expect(host.defined(), os).toBeUndefined()
    }
  })

  it('keeps a direct-kernel boot from an ordinary file that exists on the host, gives the new VM its own NVRAM, and refuses one whose kernel is missing', async () => {
    const os = "<os><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS.fd'>/var/lib/libvirt/qemu/nvram/web01_VARS.fd</nvram><kernel>/var/cache/guests/vmlinuz</kernel><initrd>/var/cache/guests/initrd.gz</initrd></os>"
    const xml = `<domain type='kvm'><name>web01</name><memory>65536</memory>${os}<devices/></domain>`
    const host = scriptedHost(['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd', '/var/cache/guests/vmlinuz', '/var/cache/guests/initrd.gz'])
    await restoreLibvirtVm(() => Promise.resolve(host.shell), request(xml), AbortSignal.timeout(5000))
    const defined = host.defined() ?? ''
    expect(defined).toContain('<kernel>/var/cache/guests/vmlinuz</kernel>')
    expect(defined).toContain("<nvram template='/usr/share/OVMF/OVMF_VARS.fd'/>")
    expect(defined).not.toContain('web01_VARS.fd')

    const missing = scriptedHost(['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'])
    await expect(restoreLibvirtVm(() => Promise.resolve(missing.shell), request(xml), AbortSignal.timeout(5000))).rejects.toThrow(/vmlinuz, which is not a file on root@kvm1:22/)
    expect(missing.defined()).toBeUndefined()
  })
})
