import { describe, expect, it } from 'vitest'
import { parseSnapshotXml, planSnapshotDisks } from './snapshot-disks'
import { imageSpec, snapshotParam } from './snapshot-nbd'

const domain = (disks: string) => `<domain type='qemu'><name>web</name><uuid>0069f94d-a356-4f65-a447-ab7840c9ff90</uuid><devices>${disks}</devices></domain>`
const disk = (target: string, file: string, format = 'qcow2', extra = '') =>
  `<disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${file}'/>${extra}<target dev='${target}' bus='virtio'/></disk>`

describe('libvirt snapshot XML, for browsing a snapshot', () => {
  it('says which disks the snapshot holds and where, from the domain it embeds (not the inactive one)', () => {
    const xml = `<domainsnapshot><name>a &amp; b</name><state>running</state><memory snapshot='internal'/>
      <disks><disk name='vda' snapshot='internal'/><disk name='vdb' snapshot='no'/><disk name='vdc' snapshot='external' type='file'><source file='/i/vdc.snap'/></disk></disks>
      ${domain(disk('vda', '/i/vda.qcow2') + disk('vdb', '/i/vdb.raw', 'raw') + disk('vdc', '/i/vdc.qcow2', 'qcow2', "<backingStore type='file'><format type='qcow2'/><source file='/i/base.qcow2'/></backingStore>") + "<disk type='file' device='cdrom'><target dev='sda'/></disk>")}
      <inactiveDomain type='qemu'><name>web</name><devices>${disk('vda', '/elsewhere.qcow2')}</devices></inactiveDomain></domainsnapshot>`
    const snap = parseSnapshotXml(xml)
    expect(snap.name).toBe('a & b')
    const plans = planSnapshotDisks(snap, 'web')
    expect(plans.map((p) => [p.disk.target, p.kind, p.disk.source, p.disk.backing.map((b) => b.path)])).toEqual([
      ['vda', 'internal', '/i/vda.qcow2', []],
      ['vdc', 'external', '/i/vdc.qcow2', ['/i/base.qcow2']],
    ])
  })

  it('refuses what it cannot read, with the reason', () => {
    const memoryOnly = parseSnapshotXml(`<domainsnapshot><name>m</name><disks><disk name='vda' snapshot='no'/></disks>${domain(disk('vda', '/i/vda.qcow2'))}</domainsnapshot>`)
    expect(() => planSnapshotDisks(memoryOnly, 'web')).toThrow(/holds no disk/)
    const rawInternal = parseSnapshotXml(`<domainsnapshot><name>r</name><disks><disk name='vda' snapshot='internal'/></disks>${domain(disk('vda', '/i/vda.raw', 'raw'))}</domainsnapshot>`)
    expect(() => planSnapshotDisks(rawInternal, 'web')).toThrow(/not qcow2/)
    const network = parseSnapshotXml(`<domainsnapshot><name>n</name><disks><disk name='vda' snapshot='internal'/></disks>${domain("<disk type='network' device='disk'><driver type='qcow2'/><source protocol='rbd' name='p/x'/><target dev='vda'/></disk>")}</domainsnapshot>`)
    expect(() => planSnapshotDisks(network, 'web')).toThrow(/network disk/)
    expect(() => parseSnapshotXml('<domain/>')).toThrow(/not a domain snapshot/)
    expect(() => parseSnapshotXml('<domainsnapshot><name>x</name></domainsnapshot>')).toThrow(/does not record the domain/)
  })

  it('hands names to qemu-nbd as option values and paths as JSON data', () => {
    expect(snapshotParam('1,snapshot.id=2')).toBe('snapshot.name=1,,snapshot.id=2')
    const spec = imageSpec({ path: `/v/a,b"c'd\n.qcow2`, device: 'file' })
    expect(spec.startsWith('json:')).toBe(true)
    expect(JSON.parse(spec.slice(5))).toEqual({ driver: 'qcow2', 'force-share': true, 'read-only': true, file: { driver: 'file', filename: `/v/a,b"c'd\n.qcow2` } })
    expect(JSON.parse(imageSpec({ path: '/dev/vg/lv', device: 'block' }).slice(5))).toMatchObject({ file: { driver: 'host_device' } })
  })
})
