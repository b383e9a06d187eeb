/**
 * `lvcreate -L|-l SIZE [-n NAME] VG` and `lvcreate -s [-n NAME] -L|-l SIZE [-c CHUNK] VG/ORIGIN`.
 * A snapshot is a point-in-time copy of the origin's data file: `cp --reflink=always` on a reflink-capable scratch
 * filesystem (instant, copy-on-write, atomic against concurrent writers), else a plain sparse copy (config.copyMode).
 */
import { execFile } from 'node:child_process'
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { EXIT_FAILED, EXIT_INVALID_CMD_LINE, LvmError, all, has, last, parseArgs, type OptionSpec } from './args'
import { checkNewLvName, checkRoot, parseLvArg, vgNotFound, type Command } from './common'
import { DEFAULT_CHUNK_SIZE, cowMaxExtents, refreshSnapshots } from './cow'
import { dataFile, findLv, findVg, freeExtents, linkDevice, lvmUuid, withState, type LvRecord } from './state'
import { SizeArgError, formatSize, parseSizeArg } from './units'

const execFileAsync = promisify(execFile)

const OPTIONS: readonly OptionSpec[] = [
  { long: 'size', short: 'L', value: true },
  { long: 'extents', short: 'l', value: true },
  { long: 'name', short: 'n', value: true },
  { long: 'snapshot', short: 's', value: false },
  { long: 'chunksize', short: 'c', value: true },
  { long: 'permission', short: 'p', value: true },
  { long: 'addtag', value: true },
  { long: 'activate', short: 'a', value: true },
  { long: 'zero', short: 'Z', value: true },
  { long: 'wipesignatures', short: 'W', value: true },
  { long: 'type', value: true },
  { long: 'setactivationskip', short: 'k', value: true },
  { long: 'ignoreactivationskip', short: 'K', value: false },
  { long: 'readahead', short: 'r', value: true },
  { long: 'contiguous', short: 'C', value: true },
  { long: 'alloc', value: true },
  { long: 'monitor', value: true },
  { long: 'ignoremonitoring', value: false },
  { long: 'noudevsync', value: false },
  { long: 'reportformat', value: true },
]

const NO_SYNTAX = ["  No command with matching syntax recognised.  Run 'lvcreate --help' for more information."]

export const lvcreate: Command = async (config, argv, io) => {
  const args = parseArgs('lvcreate', argv, OPTIONS)
  const snapshot = has(args, 'snapshot') || last(args, 'type') === 'snapshot'
  const sizeText = last(args, 'size')
  const extentsText = last(args, 'extents')
  const target = args.positional[0]
  if ((sizeText === undefined && extentsText === undefined) || target === undefined) throw new LvmError(NO_SYNTAX, EXIT_INVALID_CMD_LINE)
  if (has(args, 'zero') && snapshot) throw new LvmError(['  Option --zero is unsupported with snapshots.', "  Run `lvcreate --help' for more information."], EXIT_INVALID_CMD_LINE)

  let bytes: number | undefined
  if (sizeText !== undefined) {
    try {
      bytes = parseSizeArg(sizeText)
    } catch (err) {
      const first = err instanceof SizeArgError && err.message !== '' ? [`  ${err.message}`] : []
      throw new LvmError([...first, `  Invalid argument for --size: ${sizeText}`, '  Error during parsing of command line.'], EXIT_INVALID_CMD_LINE)
    }
  }
  const chunkText = last(args, 'chunksize')
  const chunkSize = chunkText === undefined ? DEFAULT_CHUNK_SIZE : parseSizeArg(chunkText, 'k')
  if (chunkSize < 4096 || chunkSize > 512 * 1024 || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new LvmError(['  Chunk size must be a power of 2 in the range 4K to 512K.', "  Run `lvcreate --help' for more information."], EXIT_INVALID_CMD_LINE)
  }

  const arg = parseLvArg(config, target)
  const nameArg = last(args, 'name')
  let name = nameArg
  if (nameArg?.includes('/') === true) {
    const [vgPart = '', lvPart = ''] = nameArg.split('/')
    if (vgPart !== arg.vg) throw new LvmError([`  Inconsistent volume group names given: "${vgPart}" and "${arg.vg}"`, "  Run `lvcreate --help' for more information."], EXIT_INVALID_CMD_LINE)
    name = lvPart
  }
  if (name !== undefined) checkNewLvName('lvcreate', name)
  if (snapshot && arg.lv === undefined) throw new LvmError(NO_SYNTAX, EXIT_INVALID_CMD_LINE)
  const permission = last(args, 'permission') ?? 'rw'
  if (permission !== 'r' && permission !== 'rw') throw new LvmError([`  Invalid argument for --permission: ${permission}`, '  Error during parsing of command line.'], EXIT_INVALID_CMD_LINE)
  checkRoot(config, [arg.vg])

  return withState(config, async (state) => {
    await refreshSnapshots(config, state)
    const vg = findVg(state, arg.vg)
    if (vg === undefined) throw new LvmError(vgNotFound(arg.vg), EXIT_FAILED)
    let origin: LvRecord | undefined
    if (snapshot) {
      origin = findLv(state, vg.name, arg.lv ?? '')
      if (origin === undefined) throw new LvmError([`  Snapshot origin LV ${arg.lv ?? ''} not found in Volume group ${vg.name}.`], EXIT_FAILED)
      if (origin.snapshot !== undefined) throw new LvmError(['  Snapshots of snapshots are not supported.'], EXIT_FAILED)
    }
    const lvName = name ?? nextFreeName(state.lvs.filter((l) => l.vg === vg.name).map((l) => l.name))
    if (findLv(state, vg.name, lvName) !== undefined) {
      throw new LvmError([`  Logical Volume "${lvName}" already exists in volume group "${vg.name}"`], EXIT_FAILED)
    }

    let extents: number
    if (bytes !== undefined) {
      extents = Math.ceil(bytes / vg.extentSize)
      if (extents * vg.extentSize !== bytes) io.out(`  Rounding up size to full physical extent ${formatSize(extents * vg.extentSize, 'r', true, 'short')}`)
    } else extents = extentsFrom(extentsText ?? '', vg.extentCount, freeExtents(state, vg), origin === undefined ? 0 : origin.extents)
    if (origin !== undefined) {
      const max = cowMaxExtents(origin.deviceBytes, chunkSize, vg.extentSize)
      if (extents > max) {
        io.out(`  Reducing COW size ${formatSize(extents * vg.extentSize, 'r', true, 'short')} down to maximum usable size ${formatSize(max * vg.extentSize, 'r', true, 'short')}.`)
        extents = max
      }
    }
    const free = freeExtents(state, vg)
    if (extents > free) throw new LvmError([`  Volume group "${vg.name}" has insufficient free space (${free} extents): ${extents} required.`], EXIT_FAILED)

    const file = dataFile(config, vg.name, lvName)
    await mkdir(path.dirname(file), { recursive: true })
    if (origin === undefined) {
      await writeFile(file, '')
      await truncate(file, extents * vg.extentSize)
    } else {
      const from = dataFile(config, vg.name, origin.name)
      const mode = config.copyMode === 'reflink' ? '--reflink=always' : '--sparse=always'
      await execFileAsync('cp', [mode, from, file]).catch(async (err: unknown) => {
        await rm(file, { force: true })
        throw new LvmError([`  Failed to copy ${from} for snapshot: ${String(err)}`], EXIT_FAILED)
      })
    }
    await linkDevice(config, vg.name, lvName, file)
    const lv: LvRecord = {
      vg: vg.name,
      name: lvName,
      uuid: lvmUuid(),
      extents,
      deviceBytes: origin === undefined ? extents * vg.extentSize : origin.deviceBytes,
      createdAt: Math.floor(Date.now() / 1000),
      host: hostname(),
      tags: [...all(args, 'addtag')],
      readOnly: permission === 'r',
      minor: state.nextMinor++,
      ...(origin === undefined ? {} : { snapshot: { origin: origin.name, chunkSize, exceptions: [], invalid: false } }),
    }
    state.lvs.push(lv)
    vg.seqno++
    io.out(`  Logical volume "${lvName}" created.`)
    return 0
  })
}

function nextFreeName(taken: readonly string[]): string {
  for (let i = 0; ; i++) if (!taken.includes(`lvol${i}`)) return `lvol${i}`
}

/** `-l N`, `-l N%VG`, `-l N%FREE`, `-l N%ORIGIN` → extents. */
function extentsFrom(text: string, vgExtents: number, free: number, originExtents: number): number {
  const m = /^(\d+)(?:%(VG|FREE|ORIGIN|PVS))?$/i.exec(text)
  if (m === null) throw new LvmError([`  Invalid argument for --extents: ${text}`, '  Error during parsing of command line.'], EXIT_INVALID_CMD_LINE)
  const n = Number(m[1])
  switch ((m[2] ?? '').toUpperCase()) {
    case 'FREE':
      return Math.floor((free * n) / 100)
    case 'ORIGIN':
      return Math.floor((originExtents * n) / 100)
    case 'VG':
    case 'PVS':
      return Math.floor((vgExtents * n) / 100)
    default:
      return n
  }
}
