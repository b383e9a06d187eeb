import { describe, expect, it } from 'vitest'
import { parseSnapshotSpec } from './snapshot-spec'

describe('snapshot:HOST/VM/SNAPSHOT specs of the files commands', () => {
  it('name the host, VM and snapshot, then optionally a disk and a volume', () => {
    expect(parseSnapshotSpec('snapshot:kvm1/web/lifeboat-patch-20261122')).toEqual({ source: { kind: 'snapshot', host: 'kvm1', vm: 'web', snapshot: 'lifeboat-patch-20261122' } })
    expect(parseSnapshotSpec('snapshot:kvm1/web/s1#p2')).toEqual({ source: { kind: 'snapshot', host: 'kvm1', vm: 'web', snapshot: 's1' }, volume: 'p2' })
    expect(parseSnapshotSpec('snapshot:kvm1/web/s1#vdb#lvm:vg/lv')).toEqual({ source: { kind: 'snapshot', host: 'kvm1', vm: 'web', snapshot: 's1', disks: ['vdb'] }, volume: 'lvm:vg/lv' })
    expect(parseSnapshotSpec('snapshot:kvm1/web/s1#vdb#')).toEqual({ source: { kind: 'snapshot', host: 'kvm1', vm: 'web', snapshot: 's1', disks: ['vdb'] } })
  })

  it('take any name through %-escapes, and refuse what is ambiguous', () => {
    expect(parseSnapshotSpec("snapshot:pool%2F1/db%20%22prod%22/before%23patch%25%2C'x'")).toEqual({ source: { kind: 'snapshot', host: 'pool/1', vm: 'db "prod"', snapshot: "before#patch%,'x'" } })
    expect(() => parseSnapshotSpec('snapshot:kvm1/web')).toThrow(/HOST\/VM\/SNAPSHOT/)
    expect(() => parseSnapshotSpec('snapshot:kvm1/a/b/c')).toThrow(/%2F/)
    expect(() => parseSnapshotSpec('snapshot:kvm1//s')).toThrow(/VM is missing/)
    expect(() => parseSnapshotSpec('snapshot:kvm1/web/s%zz')).toThrow(/%-escape/)
    expect(() => parseSnapshotSpec('snapshot:kvm1/web/s#a#b#c')).toThrow(/#DISK#VOLUME/)
  })
})
