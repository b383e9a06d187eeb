import { describe, expect, it } from 'vitest'
import { checkJobOf, checkScratchDir, checkVmName, isolateCheckDomain } from './check-domain'
import { child, childElements, parseXml, serializeXml } from './xml'

const JOB = '0f8c2a51-2b7e-4c1d-9a3f-5e6d7c8b9a01'

const recorded = `<domain type='kvm'>
  <name>web01</name>
  <description>the shop's web server</description>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>restart</on_crash>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/libvirt/images/web01.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>
    <interface type='network'><source network='default'/></interface>
    <graphics type='vnc' port='-1' listen='0.0.0.0'/>
    <serial type='file'><source path='/var/log/libvirt/qemu/web01-serial0.log'/><log file='/var/log/x.log'/><target port='0'/></serial>
  </devices>
</domain>`

describe('isolateCheckDomain', () => {
  it('leaves the temporary VM without network or remote display, adds an agent channel and a VGA, stops it on a crash', () => {
    const root = parseXml(recorded)
    expect(isolateCheckDomain(root, JOB)).toEqual({ removedInterfaces: 2 })
    const devices = child(root, 'devices')
    if (devices === undefined) throw new Error('no devices')
    expect(childElements(devices, 'interface')).toEqual([])
    expect(childElements(devices, 'graphics')).toEqual([])
    const serial = child(devices, 'serial')
    expect(serial?.attrs.type).toBe('pty')
    expect(child(serial, 'source')).toBeUndefined()
    expect(child(serial, 'log')).toBeUndefined()
    expect(childElements(devices, 'channel').map((c) => child(c, 'target')?.attrs.name)).toEqual(['org.qemu.guest_agent.0'])
    expect(childElements(devices, 'video').map((v) => child(v, 'model')?.attrs.type)).toEqual(['vga'])
    expect(child(root, 'on_crash')?.children).toEqual(['destroy'])
    expect(child(root, 'on_reboot')?.children).toEqual(['restart'])
    expect(serializeXml(root)).toContain(`Lifeboat health check (job ${JOB})`)
    expect(serializeXml(root)).not.toContain('the shop')
  })

  it('keeps an agent channel and a video device the VM already had, and adds no VGA to a machine that is not a PC', () => {
    const root = parseXml(
      `<domain type='kvm'><name>arm</name><os><type arch='aarch64'>hvm</type></os><devices><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>`,
    )
    isolateCheckDomain(root, JOB)
    const devices = child(root, 'devices')
    expect(childElements(devices ?? root, 'channel')).toHaveLength(1)
    expect(childElements(devices ?? root, 'video')).toEqual([])
  })
})

describe('check names', () => {
  it('names the VM and its folder after the job, and reads the job back only from exactly that shape', () => {
    expect(checkVmName(JOB)).toBe(`lifeboat-${JOB}`)
    expect(checkScratchDir(JOB)).toBe(`/var/lib/libvirt/images/lifeboat-${JOB}`)
    expect(checkJobOf(`lifeboat-${JOB}`)).toBe(JOB)
    expect(checkJobOf(`web01.lifeboat-${JOB}`)).toBeUndefined()
    expect(checkJobOf(`lifeboat-${JOB}-old`)).toBeUndefined()
    expect(() => checkVmName('../etc')).toThrow(/not a job id/)
  })
})
