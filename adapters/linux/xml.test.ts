import { describe, expect, it } from 'vitest'
import { parseDomainXml, backupDisks } from './domain-model'
import { child, findAll, parseXml, serializeXml, textOf, XmlError } from './xml'

const DOMAIN = `<?xml version="1.0"?>
<!-- a comment -->
<domain type='kvm' id='3'>
  <name>web &amp; db &#39;01&#x27;</name>
  <uuid>4DC1D3D6-0000-4000-8000-000000000001</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>2</vcpu>
  <description><![CDATA[<not a tag>]]></description>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/a b.qcow2' index='2'/>
      <backingStore type='file' index='1'><format type='raw'/><source file="/var/lib/libvirt/images/base.raw"/><backingStore/></backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'><driver type='raw'/><source dev='/dev/vg0/lv1'/><target dev='vdb'/></disk>
    <disk type='file' device='cdrom'><target dev='sda'/><readonly/></disk>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  </devices>
</domain>`

describe('XML reader for what libvirt prints', () => {
  it('reads a domain: names with entities, disks with backing chains, agent channel', () => {
    const { info } = parseDomainXml(DOMAIN)
    expect(info.name).toBe("web & db '01'")
    expect(info.uuid).toBe('4dc1d3d6-0000-4000-8000-000000000001')
    expect(info.memoryBytes).toBe(1024 ** 3)
    expect(info.agentChannel).toBe(true)
    expect(info.disks.map((d) => [d.target, d.type, d.source, d.format])).toEqual([
      ['vda', 'file', '/var/lib/libvirt/images/a b.qcow2', 'qcow2'],
      ['vdb', 'block', '/dev/vg0/lv1', 'raw'],
      ['sda', 'file', undefined, undefined],
    ])
    expect(info.disks[0]?.backing).toEqual([{ path: '/var/lib/libvirt/images/base.raw', format: 'raw', type: 'file' }])
    expect(backupDisks(info).map((d) => d.target)).toEqual(['vda', 'vdb'])
  })

  it('keeps CDATA as text and round-trips through the writer', () => {
    const root = parseXml(DOMAIN)
    expect(textOf(child(root, 'description'))).toBe('<not a tag>')
    const again = parseXml(serializeXml(root))
    expect(textOf(child(again, 'name'))).toBe("web & db '01'")
    expect(findAll(again, 'devices/disk').length).toBe(3)
  })

  it('refuses what it must not trust: DTDs, unknown entities, bad nesting, bombs', () => {
    const bad = [
      '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
      '<x>&nbsp;</x>',
      '<x>a & b</x>',
      '<a><b></a></b>',
      '<a>',
      '<a x=1/>',
      '<a x="1" x="2"/>',
      '<a/><b/>',
      '<x>&#0;</x>',
      `${'<a>'.repeat(1000)}${'</a>'.repeat(1000)}`,
      'just text',
    ]
    for (const text of bad) expect(() => parseXml(text), text.slice(0, 40)).toThrow(XmlError)
    expect(() => parseXml(`<a>${'x'.repeat(17 * 1024 * 1024)}</a>`)).toThrow(/too large/)
  })

  it('turns unreadable domain XML into a clear BAD_RESPONSE', () => {
    expect(() => parseDomainXml('<domain><name>x</domain>')).toThrow(/Lifeboat cannot read/)
    expect(() => backupDisks(parseDomainXml("<domain><name>n</name><devices><disk type='network' device='disk'><target dev='vda'/></disk></devices></domain>").info)).toThrow(/network disk/)
  })
})
