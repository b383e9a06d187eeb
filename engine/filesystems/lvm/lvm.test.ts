import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasTool, makeTempDir, run } from '../../disks/testing/tools'
import { openImage } from '../browse'
import { expectSameTree, walkVolume } from '../testing/compare'
import { MiB, makeExt, makeFat } from '../testing/fixtures'
import { buildTree, describeTree } from '../testing/tree'
import { DiskFormatError } from '../../disks/errors'
import { FileSource } from '../../disks/file-source'
import { rng } from '../../disks/testing/tools'
import { fuzzImage } from '../testing/fuzz/fuzz-core'
import { parseLvmText } from './lvm-text'

/**
 * LVM fixtures: real pvcreate/vgcreate write the labels and metadata areas on loop devices; the logical volumes
 * are added by editing the metadata and restoring it with vgcfgrestore (lvcreate needs device-mapper, which this
 * kernel lacks). The LV layout the data is written to is what `lvs --segments` reports, not our own parser.
 */
const haveLvm = await hasTool('vgcfgrestore')
let dir: string

beforeAll(async () => {
  dir = await makeTempDir('lvm')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const LVS = `
	logical_volumes {
		lin {
			id = "aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 2
			segment1 {
				start_extent = 0
				extent_count = 2
				type = "striped"
				stripe_count = 1
				stripes = ["pv0", 3]
			}
			segment2 {
				start_extent = 2
				extent_count = 1
				type = "striped"
				stripe_count = 1
				stripes = ["pv1", 0]
			}
		}
		str {
			id = "bbbbbb-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 4
				type = "striped"
				stripe_count = 2
				stripe_size = 128
				stripes = ["pv0", 6, "pv1", 4]
			}
		}
		pool {
			id = "cccccc-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 1
				type = "error"
			}
		}
	}
`

interface Segment {
  lv_name: string
  seg_start_pe: string
  seg_pe_ranges: string
  stripes: string
  stripe_size: string
}

describe.skipIf(!haveLvm)('LVM2 logical volumes, parsed in userspace', () => {
  it('maps linear and striped volumes across two disks and reads their filesystems', async () => {
    const d1 = join(dir, 'd1.img')
    const d2 = join(dir, 'd2.img')
    await run('truncate', ['-s', '64M', d1])
    await run('truncate', ['-s', '64M', d2])
    const loops: string[] = []
    const layout = { segments: [] as Segment[], peStart: 0 }
    try {
      loops.push((await run('losetup', ['-f', '--show', d1])).trim())
      loops.push((await run('losetup', ['-f', '--show', d2])).trim())
      const cfg = `devices { filter=[${loops.map((l) => `"a|^${l}$|"`).join(',')},"r|.*|"] use_devicesfile=0 obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 } backup { backup=0 archive=0 }`
      const lvm = (cmd: string, ...args: string[]): Promise<string> => run(cmd, ['--config', cfg, ...args])
      await lvm('pvcreate', '-q', ...loops)
      await lvm('vgcreate', '-q', 'guestvg', ...loops)
      const backup = join(dir, 'vg.txt')
      await lvm('vgcfgbackup', '-q', '-f', backup, 'guestvg')
      const text = await readFile(backup, 'utf8')
      const end = text.trimEnd().lastIndexOf('}')
      await writeFile(backup, text.slice(0, end) + LVS + text.slice(end))
      await lvm('vgcfgrestore', '-q', '-f', backup, 'guestvg')
      const report = JSON.parse(await lvm('lvs', '--reportformat', 'json', '--segments', '--units', 'b', '--nosuffix', '-o', 'lv_name,seg_start_pe,seg_pe_ranges,stripes,stripe_size', 'guestvg')) as { report: { seg: Segment[] }[] }
      layout.segments = report.report[0]?.seg ?? []
      layout.peStart = Number((await lvm('pvs', '--noheadings', '--units', 'b', '--nosuffix', '-o', 'pe_start', loops[0] ?? '')).trim())
    } finally {
      for (const l of loops) await run('losetup', ['-d', l])
    }
    const { segments, peStart } = layout
    expect(segments.filter((s) => s.lv_name === 'str')).toHaveLength(1)
    const src = join(dir, 'src')
    await buildTree(src, { bigDirFiles: 80, depth: 4, largeBytes: MiB, fragments: 0, symlinks: false, fatSafe: true })
    const small = join(dir, 'small')
    await buildTree(small, { bigDirFiles: 30, depth: 3, largeBytes: 200_000, fragments: 0, symlinks: false, fatSafe: true })
    await rm(join(src, 'sparse.img'))
    await rm(join(small, 'sparse.img'))
    await makeExt(join(dir, 'lin.img'), src, { sizeMiB: 12, kind: 'ext4', label: 'linear' })
    await makeFat(join(dir, 'str.img'), small, { sizeMiB: 16, fatBits: 16, label: 'STRIPED' })
    // Scatter each filesystem image over the PVs exactly as lvs describes the LV.
    const disks = { '0': await readFile(d1), '1': await readFile(d2) }
    const extent = 4 * MiB
    for (const lv of ['lin', 'str']) {
      const data = await readFile(join(dir, `${lv}.img`))
      for (const seg of segments.filter((s) => s.lv_name === lv)) {
        const ranges = seg.seg_pe_ranges.split(' ').map((r) => {
          const m = /^(.*):([0-9]+)-([0-9]+)$/.exec(r)
          return { pv: m?.[1] === loops[0] ? '0' : '1', pe: Number(m?.[2]), count: Number(m?.[3]) - Number(m?.[2]) + 1 }
        })
        const segStart = Number(seg.seg_start_pe) * extent
        const stripeSize = Number(seg.stripe_size) || extent
        const segBytes = ranges.reduce((n, r) => n + r.count * extent, 0)
        for (let off = 0; off < Math.min(segBytes, data.length - segStart); off += stripeSize) {
          const chunk = Math.floor(off / stripeSize)
          const stripe = ranges.length > 1 ? chunk % ranges.length : 0
          const row = ranges.length > 1 ? Math.floor(chunk / ranges.length) * stripeSize : off
          const r = ranges[stripe]
          if (!r) continue
          const target = disks[r.pv as '0' | '1']
          data.copy(target, peStart + r.pe * extent + row, segStart + off, segStart + off + stripeSize)
        }
      }
    }
    await writeFile(d1, disks['0'])
    await writeFile(d2, disks['1'])
    const opened = await openImage([d1, d2])
    try {
      const lvs = Object.fromEntries(opened.tree.volumes.filter((v) => v.kind === 'logical-volume').map((v) => [v.locator, v.filesystem?.type ?? v.problem]))
      expect(lvs['lvm:guestvg/lin']).toBe('ext4')
      expect(lvs['lvm:guestvg/str']).toBe('fat16')
      expect(lvs['lvm:guestvg/pool']).toMatch(/"error".*not supported/)
      expectSameTree(await walkVolume(await opened.openVolume('guestvg/lin')), await describeTree(src), { modes: true, symlinks: false, mtimeSlack: 0, ignore: ['/lost+found'] })
      expectSameTree(await walkVolume(await opened.openVolume('STRIPED')), await describeTree(small), { modes: false, symlinks: false, mtimeSlack: 2 })
    } finally {
      await opened.close()
    }
    // Corrupt the first PV (label, metadata area, data) while the second stays intact.
    const f1 = await FileSource.open(d1)
    const f2 = await FileSource.open(d2)
    try {
      const result = await fuzzImage('lvm-d1', f1, { iterations: 150, seed: 5, timeBoundMs: 10_000, companions: [f2] })
      expect(result.findings.map((f) => `${f.mutation}: ${f.error}`)).toEqual([])
    } finally {
      await f1.close()
      await f2.close()
    }
    const alone = await openImage(d1)
    try {
      const lin = alone.tree.volumes.find((v) => v.locator === 'lvm:guestvg/lin')
      expect(lin?.problem).toMatch(/missing/)
    } finally {
      await alone.close()
    }
  })
})

describe('LVM metadata text parser', () => {
  it('parses nested sections, lists and comments, and refuses damage with a typed error', () => {
    const parsed = parseLvmText('vg { id = "x" # comment\n seqno = 3 pvs { pv0 { stripes = ["pv0", 0, "pv1", 5] } } }', 'test')
    expect(parsed).toEqual({ vg: { id: 'x', seqno: 3, pvs: { pv0: { stripes: ['pv0', 0, 'pv1', 5] } } } })
    expect(() => parseLvmText('vg { id = ', 'test')).toThrow(/LVM metadata is damaged/)
    expect(() => parseLvmText('a {'.repeat(100), 'test')).toThrow(/LVM metadata is damaged/)
  })

  it('survives corrupted metadata text (seeded fuzz of the parser alone)', () => {
    const text = `guestvg {\nid = "x"\nseqno = 4\nextent_size = 8192\nphysical_volumes {\npv0 {\nid = "a"\npe_start = 2048\npe_count = 15\n}\n}\n${LVS}\n}\n`
    const random = rng(42)
    for (let i = 0; i < 2000; i++) {
      const chars = text.split('')
      const n = 1 + Math.floor(random() * 6)
      for (let k = 0; k < n; k++) chars[Math.floor(random() * chars.length)] = String.fromCharCode(Math.floor(random() * 128))
      const mutated = random() < 0.2 ? chars.join('').slice(0, Math.floor(random() * text.length)) : chars.join('')
      try {
        parseLvmText(mutated, 'fuzz')
      } catch (e) {
        expect(e).toBeInstanceOf(DiskFormatError)
      }
    }
  })
})
