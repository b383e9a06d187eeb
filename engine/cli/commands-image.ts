import { stat } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import path from 'node:path'
import type { DiskSourceRef, FsEntryDto } from '../api/contract-files'
import { splitImageLocator } from '../filesystems/browse'
import { call } from './cli-call'
import { EXIT_OK, UsageError, formatBytes, table } from './cli-io'
import { flag, str, type Command, type CommandContext } from './command'
import { resolveCatTarget } from './stream-path'
import { waitForJob } from './wait-for-job'
import { outcomeFromJob, reportRestore } from './restore-report'
import { locationFromCommandLine } from '../repository-access/location'
import { isSnapshotSpec, parseSnapshotSpec } from './snapshot-spec'
import { toJobDetailDto } from '../jobs/job-record'

type Target = { source: DiskSourceRef; volume?: string }

async function imageTarget(ctx: CommandContext): Promise<Target> {
  const spec = ctx.positionals[0]
  if (spec === undefined) throw new UsageError('Name the image file (IMAGE, or IMAGE#p2 for a partition).')
  const { image, locator } = await splitImageLocator(spec)
  const also = ctx.values.also
  const extra = Array.isArray(also) ? also.filter((a): a is string => typeof a === 'string') : typeof also === 'string' ? [also] : []
  const paths = [image, ...extra].map((p) => path.resolve(p))
  for (const p of paths) await refuseNonImage(p)
  const source: DiskSourceRef = { kind: 'image', paths }
  return locator !== undefined ? { source, volume: locator } : { source }
}

/**
 * Opening a named pipe (or a socket, a terminal) as an image blocks a libuv thread in open(2) for good: not even
 * SIGTERM or process.exit() can end the command then (exit waits for that thread). Refuse them by stat, which
 * does not open the file; a missing file is left to the engine's own error.
 */
async function refuseNonImage(file: string): Promise<void> {
  const st = await stat(file).catch(() => undefined)
  if (st === undefined || st.isFile() || st.isBlockDevice()) return
  const kind = st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isDirectory() ? 'a folder' : 'not a regular file'
  throw new UsageError(`${file} is ${kind}, not a disk image file.`)
}

function typeChar(e: FsEntryDto): string {
  return e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'file' ? '-' : '?'
}

function modeText(mode: number | undefined): string {
  if (mode === undefined) return '—'
  return [6, 3, 0].map((s) => ((mode >> s) & 4 ? 'r' : '-') + ((mode >> s) & 2 ? 'w' : '-') + ((mode >> s) & 1 ? 'x' : '-')).join('')
}

const also = { also: { type: 'string', multiple: true } } as const
const repo = { repo: { type: 'string' } } as const

/**
 * A restore point as a disk source: `POINT`, `POINT#VOLUME` (p2, a label, lvm:vg/lv, d2:p1) or
 * `POINT#DISK#VOLUME` (a disk by name or number, then the volume on it). POINT may be an unambiguous id prefix.
 * Or a snapshot that still exists on a saved host: `snapshot:HOST/VM/SNAPSHOT[#DISK][#VOLUME]` (snapshot-spec.ts).
 */
async function pointTarget(ctx: CommandContext): Promise<Target> {
  const spec = ctx.positionals[0]
  if (spec === undefined) throw new UsageError('Name the restore point (POINT, POINT#p2 or POINT#disk0#p2) or a live snapshot (snapshot:HOST/VM/SNAPSHOT).')
  if (isSnapshotSpec(spec)) {
    if (str(ctx, 'repo') !== undefined) throw new UsageError('--repo is for restore points; a live snapshot is read from its host.')
    return parseSnapshotSpec(spec)
  }
  const [given = '', ...parts] = spec.split('#')
  if (parts.length > 2) throw new UsageError('Use POINT, POINT#VOLUME or POINT#DISK#VOLUME.')
  const repoPath = str(ctx, 'repo')
  const repoArg = repoPath !== undefined ? { repo: locationFromCommandLine(repoPath) } : {}
  const points = await call((await ctx.engine()).handlers, 'points.list', repoArg, ctx.signal)
  const matches = points.filter((p) => p.id === given || (given.length >= 6 && p.id.startsWith(given)))
  const point = matches.length === 1 ? matches[0] : points.find((p) => p.id === given)
  if (!point) throw new UsageError(matches.length > 1 ? `"${given}" matches ${matches.length} restore points; give more of the id.` : `No restore point "${given}" (see \`lifeboat points list\`).`)
  const diskOf = (name: string) => (/^\d+$/.test(name) ? point.disks[Number(name)]?.name : point.disks.find((d) => d.name === name)?.name)
  let disks: string[] | undefined
  let volume: string | undefined
  if (parts.length === 2) {
    const disk = diskOf(parts[0] ?? '')
    if (disk === undefined) throw new UsageError(`Restore point ${point.id} has no disk "${parts[0] ?? ''}" (it has ${point.disks.map((d, i) => `${i}:${d.name}`).join(', ')}).`)
    disks = [disk]
    volume = parts[1]
  } else if (parts.length === 1) {
    const asDisk = point.disks.find((d) => d.name === parts[0])?.name
    if (asDisk !== undefined) disks = [asDisk]
    else volume = parts[0]
  }
  const source: DiskSourceRef = { kind: 'point', pointId: point.id, ...repoArg, ...(disks ? { disks } : {}) }
  return volume !== undefined && volume !== '' ? { source, volume } : { source }
}

interface Flavour {
  readonly noun: 'image' | 'files'
  readonly what: string
  readonly spec: string
  readonly options: typeof also | typeof repo
  readonly target: (ctx: CommandContext) => Promise<Target>
}

function browseCommands(f: Flavour): Command[] {
  const extra = f.noun === 'image' ? ' [--also DISK]…' : ' [--repo LOCATION]'
  return [
  {
    path: [f.noun, 'info'],
    usage: `lifeboat ${f.noun} info ${f.spec}${extra} [--json]`,
    summary: `Show the disks, partitions, LVM volumes and filesystems inside ${f.what}.`,
    options: f.options,
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const { source } = await f.target(ctx)
      const tree = await call((await ctx.engine()).handlers, 'files.probe', { source }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(tree, null, 2))
      else {
        for (const d of tree.disks) ctx.io.out(`${d.label}: ${d.format}, ${formatBytes(d.size)}${d.table ? `, ${d.table.toUpperCase()} partition table` : ''}`)
        ctx.io.out(
          table(
            tree.volumes.map((v) => [
              v.locator,
              formatBytes(v.size),
              v.filesystem?.type ?? v.content,
              v.filesystem?.label ?? v.partitionName ?? '',
              v.problem ?? (v.filesystem?.warnings.join('; ') ?? ''),
            ]),
            ['VOLUME', 'SIZE', 'CONTENT', 'LABEL', 'NOTE'],
          ),
        )
      }
      return EXIT_OK
    },
  },
  {
    path: [f.noun, 'ls'],
    usage: `lifeboat ${f.noun} ls ${f.spec}[#VOLUME] [PATH]${extra} [--json]`,
    summary: `List a folder inside ${f.what}, without mounting anything (VOLUME: p2, a label, lvm:vg/lv; see ${f.noun} info).`,
    options: f.options,
    positionals: { min: 1, max: 2 },
    async run(ctx) {
      const target = await f.target(ctx)
      const dir = ctx.positionals[1] ?? '/'
      const res = await call((await ctx.engine()).handlers, 'files.list', { ...target, path: dir, limit: 10_000 }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(res.entries, null, 2))
      else {
        ctx.io.out(
          table(
            res.entries.map((e) => [
              typeChar(e) + modeText(e.mode),
              e.type === 'directory' ? '' : formatBytes(e.size),
              e.mtime?.replace('T', ' ').slice(0, 19) ?? '',
              e.name + (e.symlinkTarget !== undefined ? ` -> ${e.symlinkTarget}` : ''),
            ]),
            ['MODE', 'SIZE', 'MODIFIED (UTC)', 'NAME'],
          ),
        )
        if (res.total > res.entries.length) ctx.io.err(`(${res.total - res.entries.length} more entries not shown; use --json with the API for paging)`)
      }
      return EXIT_OK
    },
  },
  {
    path: [f.noun, 'cat'],
    usage: `lifeboat ${f.noun} cat ${f.spec}[#VOLUME] PATH[:STREAM]${extra}`,
    summary: `Write one file from inside ${f.what} to standard output; PATH:STREAM an NTFS alternate data stream (ls --json lists them).`,
    options: f.options,
    positionals: { min: 2, max: 2 },
    async run(ctx) {
      const target = await f.target(ctx)
      const file = ctx.positionals[1] ?? '/'
      const engine = await ctx.engine()
      const { path: at, entry, stream } = await resolveCatTarget(file, (p) => call(engine.handlers, 'files.stat', { ...target, path: p }, ctx.signal))
      if (stream === undefined && entry.type !== 'file') throw new UsageError(`${file} is a ${entry.type}, not a file.`)
      await pipeline(Readable.from(engine.browse.readFile(target.source, target.volume, at, ctx.signal, stream)), process.stdout)
      return EXIT_OK
    },
  },
  {
    path: [f.noun, 'get'],
    usage: `lifeboat ${f.noun} get ${f.spec}[#VOLUME] PATH --to DIR [--streams]${extra} [--json]`,
    summary: `Copy a file or folder out of ${f.what} into DIR (names are made safe; nothing is overwritten; --streams: NTFS alternate data streams too, each as NAME:STREAM beside its file). Exit code 3: finished, but items were skipped or renamed.`,
    options: { ...f.options, to: { type: 'string' }, streams: { type: 'boolean' } },
    positionals: { min: 2, max: 2 },
    async run(ctx) {
      const to = str(ctx, 'to')
      if (to === undefined) throw new UsageError('--to DIR is required (the folder to restore into).')
      const target = await f.target(ctx)
      const engine = await ctx.engine()
      const toDirectory = path.resolve(to)
      const { jobId } = await call(engine.handlers, 'files.restore', { ...target, paths: [ctx.positionals[1] ?? '/'], toDirectory, ...(flag(ctx, 'streams') ? { streams: true } : {}) }, ctx.signal)
      await waitForJob(engine, jobId, ctx.io, ctx.signal)
      const detail = toJobDetailDto(await engine.jobs.get(jobId))
      return reportRestore(ctx.io, detail, engine.browse.takeRestoreOutcome(jobId) ?? outcomeFromJob(detail), toDirectory)
    },
  },
]
}

export const imageCommands: Command[] = browseCommands({ noun: 'image', what: 'a disk image (raw, VHD, VHDX, qcow2)', spec: 'IMAGE', options: also, target: imageTarget })
export const filesCommands: Command[] = browseCommands({
  noun: 'files',
  what: 'a restore point or a snapshot on its host (snapshot:HOST/VM/SNAPSHOT)',
  spec: '{POINT|snapshot:HOST/VM/SNAPSHOT}[#DISK]',
  options: repo,
  target: pointTarget,
})
