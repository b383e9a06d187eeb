/**
 * The libvirt domain XML of a test domain. type='qemu' (TCG) because /dev/kvm here cannot run guests; the machine is
 * the plainest one that boots a direct kernel fast: i440fx, ACPI on (for `virsh shutdown`), serial console to a file,
 * a guest-agent channel, virtio disks, no network, no balloon, no USB, no graphics.
 */
import type { DiskFormat } from './data-disk'

export interface DomainDisk {
  readonly path: string
  readonly format: DiskFormat
  /** Guest device name (vda, vdb, …); it is also the name virsh uses for the disk. */
  readonly target: string
  readonly readonly?: boolean
}

export interface DomainXmlOptions {
  readonly name: string
  readonly description: string
  readonly memoryMiB: number
  readonly vcpus: number
  readonly kernel: string
  readonly initrd: string
  readonly cmdline: string
  readonly disks: readonly DomainDisk[]
  readonly consoleLogPath: string
  readonly agent: boolean
}

export function xmlEscape(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function domainXml(o: DomainXmlOptions): string {
  const disks = o.disks.map(
    (d) => `    <disk type='file' device='disk'>
      <driver name='qemu' type='${d.format}'/>
      <source file='${xmlEscape(d.path)}'/>
      <target dev='${xmlEscape(d.target)}' bus='virtio'/>${d.readonly === true ? '\n      <readonly/>' : ''}
    </disk>`,
  )
  const agent = o.agent
    ? `    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>`
    : ''
  return `<domain type='qemu'>
  <name>${xmlEscape(o.name)}</name>
  <description>${xmlEscape(o.description)}</description>
  <memory unit='MiB'>${o.memoryMiB}</memory>
  <vcpu>${o.vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${xmlEscape(o.kernel)}</kernel>
    <initrd>${xmlEscape(o.initrd)}</initrd>
    <cmdline>${xmlEscape(o.cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
${disks.join('\n')}
    <serial type='file'>
      <source path='${xmlEscape(o.consoleLogPath)}'/>
      <target port='0'/>
    </serial>
${agent}
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`
}
