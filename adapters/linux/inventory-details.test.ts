import { describe, expect, it } from 'vitest'
import { domainDetails, parseDomblkinfo } from './inventory-details'

const table = [' Target   Capacity      Allocation   Physical', '-----------------------------------------------', ' vda      67108864      5439488      5439488', ' vdb      402653184     403374080    403374080', ' hda      -             -            -', ''].join('\n')

describe('inventory details of a libvirt domain', () => {
  it('reads disk capacities from domblkinfo --all, skipping the header and empty drives', () => {
    expect([...parseDomblkinfo(table)]).toEqual([
      ['vda', 67108864],
      ['vdb', 402653184],
    ])
    expect(parseDomblkinfo('error: failed to get domain')).toEqual(new Map())
    expect(parseDomblkinfo(' vda 99999999999999999999 1 1')).toEqual(new Map())
  })

  it('gives each disk of the domain XML its size', () => {
    const xml = `<domain type="kvm"><name>web</name><devices>
      <disk type="file" device="disk"><driver name="qemu" type="qcow2"/><source file="/var/lib/libvirt/images/web.qcow2"/><target dev="vda" bus="virtio"/></disk>
      <disk type="file" device="cdrom"><target dev="hda" bus="ide"/></disk>
      <disk type="file" device="disk"><source file="/x.raw"/><target dev="vdc" bus="virtio"/></disk>
    </devices></domain>`
    const details = domainDetails(xml, '', table)
    expect(details.disks).toEqual([
      { id: 'vda', name: 'vda', location: '/var/lib/libvirt/images/web.qcow2', format: 'qcow2', sizeBytes: 67108864 },
      { id: 'vdc', name: 'vdc', location: '/x.raw' },
    ])
  })
})
