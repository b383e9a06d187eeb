import { describe, expect, it } from 'vitest'
import { parseCheckpointSizes } from './checkpoint-health'

// As `virsh checkpoint-dumpxml DOM CP --size` prints it (libvirt 9, Debian 12), with the domain cut short.
const healthy = `<domaincheckpoint>
  <name>lifeboat-cp1</name>
  <creationTime>1796561554</creationTime>
  <disks>
    <disk name='vda' checkpoint='bitmap' bitmap='lifeboat-cp1' size='1048576'/>
    <disk name='vdb' checkpoint='no'/>
  </disks>
  <domain type='qemu'><name>web01</name><devices><disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk></devices></domain>
</domaincheckpoint>`
const afterCrash = healthy.replace(" size='1048576'", '')

describe('parseCheckpointSizes', () => {
  it('reads each disk’s bitmap size and the creation time; a bitmap QEMU lost has no size', () => {
    const ok = parseCheckpointSizes(healthy)
    expect(ok.createdAt?.toISOString()).toBe('2026-12-06T12:52:34.000Z')
    expect(ok.disks.get('vda')).toEqual({ checkpoint: 'bitmap', size: 1048576 })
    expect(ok.disks.get('vdb')).toEqual({ checkpoint: 'no' })
    expect(ok.disks.size).toBe(2)
    expect(parseCheckpointSizes(afterCrash).disks.get('vda')).toEqual({ checkpoint: 'bitmap' })
  })

  it('ignores sizes that are not plain numbers', () => {
    expect(parseCheckpointSizes(healthy.replace("size='1048576'", "size='-1'")).disks.get('vda')).toEqual({ checkpoint: 'bitmap' })
    expect(parseCheckpointSizes(healthy.replace('1796561554', 'soon')).createdAt).toBeUndefined()
  })
})
