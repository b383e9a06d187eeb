import { open, readFile, stat } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run } from '../run'
import { createFakeLvm, type FakeLvm } from './fake-lvm'

const MiB = 1024 * 1024
const asRoot = process.getuid?.() === 0

interface LvReportRow {
  lv_name: string
  vg_name: string
  lv_size: string
  origin: string
  data_percent: string
  lv_attr: string
}

async function report(fake: FakeLvm, ...targets: string[]): Promise<LvReportRow[]> {
  const r = await fake.run('lvs', ['-o', 'lv_name,vg_name,lv_size,origin,data_percent,lv_attr', '--reportformat', 'json', '--units', 'b', ...targets])
  expect(r.code, r.stderr).toBe(0)
  const parsed = JSON.parse(r.stdout) as { report: { lv: LvReportRow[] }[] }
  return parsed.report[0]?.lv ?? []
}

async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r')
  try {
    const buf = Buffer.alloc(length)
    await handle.read(buf, 0, length, offset)
    return buf
  } finally {
    await handle.close()
  }
}

describe.skipIf(!asRoot)('fake LVM', () => {
  let fake: FakeLvm

  beforeAll(async () => {
    fake = await createFakeLvm()
    // 1020 MiB: the usable size of a 1 GiB PV, as in the real LVM 2.03.16 runs the expected texts were taken from.
    await fake.createVg('lbvg', 1020 * MiB)
  })
  afterAll(async () => {
    await fake.stop()
  })

  it('uses reflink copies on its btrfs scratch filesystem', () => {
    expect(fake.copyMode).toBe('reflink')
  })

  it('reports LVs exactly as LVM 2.03 prints its JSON report', async () => {
    await fake.createLv('lbvg', 'origin', 100 * MiB)
    const created = await fake.run('lvcreate', ['-s', '-n', 'snap', '-L', '8M', 'lbvg/origin'])
    expect(created).toEqual({ stdout: '  Logical volume "snap" created.\n', stderr: '', code: 0 })
    const r = await fake.run('lvs', ['--reportformat', 'json', '--units', 'b', '-o', 'lv_name,vg_name,lv_size,origin,data_percent,lv_attr', 'lbvg'])
    expect(r.stdout).toBe(
      [
        '  {',
        '      "report": [',
        '          {',
        '              "lv": [',
        '                  {"lv_name":"origin", "vg_name":"lbvg", "lv_size":"104857600B", "origin":"", "data_percent":"", "lv_attr":"owi-a-s---"},',
        '                  {"lv_name":"snap", "vg_name":"lbvg", "lv_size":"8388608B", "origin":"origin", "data_percent":"0.10", "lv_attr":"swi-a-s---"}',
        '              ]',
        '          }',
        '      ]',
        '  }',
        '',
      ].join('\n'),
    )
    const table = await fake.run('lvs', ['lbvg'])
    expect(table.stdout.split('\n')[0]).toBe('  LV     VG   Attr       LSize   Pool Origin Data%  Meta%  Move Log Cpy%Sync Convert')
    expect(table.stdout.split('\n')[2]).toBe('  snap   lbvg swi-a-s---   8.00m      origin   0.10                                 ')
    expect((await fake.run('lvremove', ['-f', 'lbvg/snap'])).stdout).toBe('  Logical volume "snap" successfully removed.\n')
    expect((await fake.run('lvremove', ['-f', 'lbvg/origin'])).stdout).toBe('  Logical volume "origin" successfully removed.\n')
  })

  it('gives LVM’s messages and exit codes for the common failures', async () => {
    await fake.createLv('lbvg', 'taken', 100 * MiB)
    expect(await fake.run('lvcreate', ['-L', '100M', '-n', 'taken', 'lbvg'])).toEqual({
      stdout: '',
      stderr: '  Logical Volume "taken" already exists in volume group "lbvg"\n',
      code: 5,
    })
    expect(await fake.run('lvcreate', ['-L', '2G', '-n', 'big', 'lbvg'])).toEqual({
      stdout: '',
      stderr: '  Volume group "lbvg" has insufficient free space (230 extents): 512 required.\n',
      code: 5,
    })
    expect(await fake.run('lvs', ['nosuchvg'])).toEqual({ stdout: '', stderr: '  Volume group "nosuchvg" not found\n  Cannot process volume group nosuchvg\n', code: 5 })
    expect(await fake.run('lvremove', ['-f', 'lbvg/nosuch'])).toEqual({ stdout: '', stderr: '  Failed to find logical volume "lbvg/nosuch"\n', code: 5 })
    expect(await fake.run('lvcreate', ['-s', '-n', 's', '-L', '8M', 'lbvg/nosuch'])).toEqual({
      stdout: '',
      stderr: '  Snapshot origin LV nosuch not found in Volume group lbvg.\n',
      code: 5,
    })
    expect(await fake.run('lvcreate', ['-L', 'abc', '-n', 'x', 'lbvg'])).toEqual({
      stdout: '',
      stderr: '  Size requires number argument.\n  Invalid argument for --size: abc\n  Error during parsing of command line.\n',
      code: 3,
    })
    expect(await fake.run('lvs', ['--foo'])).toEqual({ stdout: '', stderr: "lvs: unrecognized option '--foo'\n  Error during parsing of command line.\n", code: 3 })
    expect((await fake.run('lvcreate', ['-L', '10M', '-n', 'small', 'lbvg'])).stdout).toBe(
      '  Rounding up size to full physical extent 12.00 MiB\n  Logical volume "small" created.\n',
    )
    expect((await fake.run('lvcreate', ['-s', '-n', 'whole', '-L', '2G', 'lbvg/taken'])).stdout).toBe(
      '  Reducing COW size 2.00 GiB down to maximum usable size 104.00 MiB.\n  Logical volume "whole" created.\n',
    )
    // Without -f LVM asks; anything but y keeps the LV.
    expect(await fake.run('lvremove', ['lbvg/small'], 'n\n')).toEqual({
      stdout: 'Do you really want to remove active logical volume lbvg/small? [y/n]: ',
      stderr: '  Logical volume lbvg/small not removed.\n',
      code: 5,
    })
    // Removing an origin with -f removes its snapshots first.
    expect((await fake.run('lvremove', ['-f', 'lbvg/taken', 'lbvg/small'])).stdout).toBe(
      '  Logical volume "whole" successfully removed.\n  Logical volume "taken" successfully removed.\n  Logical volume "small" successfully removed.\n',
    )
  })

  it('refuses non-root callers as LVM does', async () => {
    const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `${fake.binDir}/lvs`]).catch((err: unknown) => err as { stderr: string; exitCode: number })
    expect(r).toMatchObject({
      exitCode: 5,
      stderr: '  WARNING: Running as a non-root user. Functionality may be unavailable.\n  /run/lock/lvm/P_global:aux: open failed: Permission denied\n',
    })
  })

  it('keeps a snapshot at its point in time while the origin changes', async () => {
    const before = Buffer.alloc(16 * MiB, 0x11)
    const origin = await fake.createLv('lbvg', 'pit', 16 * MiB, before)
    expect((await fake.run('lvcreate', ['-s', '-n', 'pit-snap', '-L', '8M', 'lbvg/pit'])).code).toBe(0)
    const [snapRow] = await report(fake, 'lbvg/pit-snap')
    const snapPath = `${fake.devRoot}/lbvg/pit-snap`

    // Through the test hook: 1 MiB at 4 MiB.
    await fake.write({ vg: 'lbvg', lv: 'pit', offset: 4 * MiB, data: Buffer.alloc(MiB, 0x22) })
    // And as any other writer would (a VM, dd over SSH): straight into the origin device.
    const handle = await open(origin, 'r+')
    await handle.write(Buffer.alloc(64 * 1024, 0x33), 0, 64 * 1024, 10 * MiB)
    await handle.close()

    expect((await readRange(origin, 4 * MiB, MiB)).equals(Buffer.alloc(MiB, 0x22))).toBe(true)
    expect((await readRange(origin, 10 * MiB, 64 * 1024)).equals(Buffer.alloc(64 * 1024, 0x33))).toBe(true)
    expect((await readFile(snapPath)).equals(before)).toBe(true)
    // 256 + 16 chunks copied: (2 header/metadata + 272 + 1 more metadata) × 4 KiB of 8 MiB = 13.43 %.
    const [after] = await report(fake, 'lbvg/pit-snap')
    expect(snapRow?.data_percent).toBe('0.10')
    expect(after?.data_percent).toBe('13.43')
    expect(after?.lv_attr).toBe('swi-a-s---')
    expect((await fake.run('lvremove', ['-f', 'lbvg/pit'])).code).toBe(0)
  })

  it('invalidates a snapshot whose COW space overflows, as dm-snapshot does', async () => {
    await fake.createLv('lbvg', 'busy', 16 * MiB)
    expect((await fake.run('lvcreate', ['-s', '-n', 'busy-snap', '-L', '4M', 'lbvg/busy'])).code).toBe(0)
    await fake.write({ vg: 'lbvg', lv: 'busy', offset: 0, data: Buffer.alloc(3 * MiB, 0x44) })
    const [nearlyFull] = await report(fake, 'lbvg/busy-snap')
    expect(nearlyFull).toMatchObject({ data_percent: '75.49', lv_attr: 'swi-a-s---' })

    await fake.write({ vg: 'lbvg', lv: 'busy', offset: 3 * MiB, data: Buffer.alloc(2 * MiB, 0x44) })
    const [full] = await report(fake, 'lbvg/busy-snap')
    expect(full).toMatchObject({ origin: 'busy', data_percent: '100.00', lv_attr: 'swi-I-s---' })
    const invalid = await fake.run('lvs', ['-o', 'lv_name,lv_snapshot_invalid', '--noheadings', 'lbvg/busy-snap'])
    expect(invalid.stdout).toBe('  busy-snap snapshot invalid\n')
    await expect(readFile(`${fake.devRoot}/lbvg/busy-snap`)).rejects.toThrow(/EISDIR/)
    // The origin is unharmed and keeps its data.
    expect((await readRange(`${fake.devRoot}/lbvg/busy`, 3 * MiB, 16)).equals(Buffer.alloc(16, 0x44))).toBe(true)
  })

  it('lvremove takes the snapshot, its device links and its space away', async () => {
    const freeBefore = await fake.run('vgs', ['-o', 'vg_free', '--noheadings', '--units', 'b', 'lbvg'])
    expect((await fake.run('lvcreate', ['-s', '-n', 'gone', '-L', '8M', 'lbvg/busy'])).code).toBe(0)
    await stat(`${fake.devRoot}/lbvg/gone`)
    await stat(`${fake.devRoot}/mapper/lbvg-gone`)
    expect((await fake.run('lvremove', ['-f', 'lbvg/gone'])).stdout).toBe('  Logical volume "gone" successfully removed.\n')
    await expect(stat(`${fake.devRoot}/lbvg/gone`)).rejects.toThrow(/ENOENT/)
    await expect(stat(`${fake.devRoot}/mapper/lbvg-gone`)).rejects.toThrow(/ENOENT/)
    await expect(stat(`${fake.dataDir}/lbvg/gone`)).rejects.toThrow(/ENOENT/)
    expect(await fake.run('vgs', ['-o', 'vg_free', '--noheadings', '--units', 'b', 'lbvg'])).toEqual(freeBefore)
    expect((await report(fake, 'lbvg')).map((r) => r.lv_name)).toEqual(['busy', 'busy-snap'])
  })

  it('shows an LV a process holds open (o) and refuses to remove it, as LVM does with an open device', async () => {
    const device = await fake.createLv('lbvg', 'inuse', 4 * MiB)
    const holder = await open(device, 'r')
    try {
      expect((await report(fake, 'lbvg/inuse'))[0]?.lv_attr).toBe('-wi-ao----')
      expect(await fake.run('lvremove', ['-f', 'lbvg/inuse'])).toEqual({ stdout: '', stderr: '  Logical volume lbvg/inuse in use.\n', code: 5 })
    } finally {
      await holder.close()
    }
    expect((await fake.run('lvremove', ['-f', 'lbvg/inuse'])).code).toBe(0)
  })

  it('rejects reserved and invalid LV names with LVM’s texts', async () => {
    expect(await fake.run('lvcreate', ['-L', '4M', '-n', 'snapshot1', 'lbvg'])).toEqual({
      stdout: '',
      stderr: '  Names starting "snapshot" are reserved. Please choose a different LV name.\n  Run `lvcreate --help\' for more information.\n',
      code: 3,
    })
    expect((await fake.run('lvcreate', ['-L', '4M', '-n', 'other/name', 'lbvg'])).stderr).toBe(
      '  Inconsistent volume group names given: "other" and "lbvg"\n  Run `lvcreate --help\' for more information.\n',
    )
  })

  it('snapshots are reflink clones sharing the origin’s extents', async () => {
    await fake.createLv('lbvg', 'shared', 32 * MiB, Buffer.alloc(32 * MiB, 0x55))
    expect((await fake.run('lvcreate', ['-s', '-n', 'shared-snap', '-L', '8M', 'lbvg/shared'])).code).toBe(0)
    const { stdout } = await run('filefrag', ['-v', `${fake.dataDir}/lbvg/shared-snap`])
    expect(stdout).toMatch(/shared/)
  })
})

describe('fake LVM without a reflink filesystem', () => {
  it('falls back to plain copies that are still point-in-time', async () => {
    await using fake = await createFakeLvm({ reflink: 'off', requireRoot: false })
    expect(fake.copyMode).toBe('copy')
    await fake.createVg('plainvg', 64 * MiB)
    const origin = await fake.createLv('plainvg', 'data', 8 * MiB, Buffer.alloc(8 * MiB, 0x61))
    expect((await fake.run('lvcreate', ['-s', '-n', 'data-snap', '-L', '4M', 'plainvg/data'])).code).toBe(0)
    await fake.write({ vg: 'plainvg', lv: 'data', offset: 0, data: Buffer.alloc(4096, 0x62) })
    expect((await readRange(origin, 0, 1))[0]).toBe(0x62)
    expect((await readRange(`${fake.devRoot}/plainvg/data-snap`, 0, 1))[0]).toBe(0x61)
  })
})
