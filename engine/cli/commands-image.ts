import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import path from 'node:path'
import type { DiskSourceRef, FsEntryDto } from '../api/contract-files'
import { splitImageLocator } from '../filesystems/browse'
import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, UsageError, formatBytes, table } from './cli-io'
import { str, type Command, type CommandContext } from './command'
import { waitForJob } from './wait-for-job'

async function imageTarget(ctx: CommandContext): Promise<{ source: DiskSourceRef; volume?: string }> {
  const spec = ctx.positionals[0]
  if (spec === undefined) throw new UsageError('Name the image file (IMAGE, or IMAGE#p2 for a partition).')
  const { image, locator } = await splitImageLocator(spec)
  const also = ctx.values.also
  const extra = Array.isArray(also) ? also.filter((a): a is string => typeof a === 'string') : typeof also === 'string' ? [also] : []
  const source: DiskSourceRef = { kind: 'image', paths: [image, ...extra].map((p) => path.resolve(p)) }
  return locator !== undefined ? { source, volume: locator } : { source }
}

function typeChar(e: FsEntryDto): string {
  return e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'file' ? '-' : '?'
}

function modeText(mode: number | undefined): string {
  if (mode === undefined) return '—'
  return [6, 3, 0].map((s) => ((mode >> s) & 4 ? 'r' : '-') + ((mode >> s) & 2 ? 'w' : '-') + ((mode >> s) & 1 ? 'x' : '-')).join('')
}

const also = { also: { type: 'string', multiple: true } } as const

export const imageCommands: Command[] = [
  {
    path: ['image', 'info'],
    usage: 'lifeboat image info IMAGE [--also DISK]… [--json]',
    summary: 'Show the disks, partitions, LVM volumes and filesystems inside a disk image (raw, VHD, VHDX, qcow2).',
    options: also,
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const { source } = await imageTarget(ctx)
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
    path: ['image', 'ls'],
    usage: 'lifeboat image ls IMAGE[#VOLUME] [PATH] [--also DISK]… [--json]',
    summary: 'List a folder inside a disk image, without mounting it (VOLUME: p2, a label, lvm:vg/lv; see image info).',
    options: also,
    positionals: { min: 1, max: 2 },
    async run(ctx) {
      const target = await imageTarget(ctx)
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
    path: ['image', 'cat'],
    usage: 'lifeboat image cat IMAGE[#VOLUME] PATH [--also DISK]…',
    summary: 'Write one file from inside a disk image to standard output.',
    options: also,
    positionals: { min: 2, max: 2 },
    async run(ctx) {
      const target = await imageTarget(ctx)
      const file = ctx.positionals[1] ?? '/'
      const engine = await ctx.engine()
      const entry = await call(engine.handlers, 'files.stat', { ...target, path: file }, ctx.signal)
      if (entry.type !== 'file') throw new UsageError(`${file} is a ${entry.type}, not a file.`)
      await pipeline(Readable.from(engine.browse.readFile(target.source, target.volume, file, ctx.signal)), process.stdout)
      return EXIT_OK
    },
  },
  {
    path: ['image', 'get'],
    usage: 'lifeboat image get IMAGE[#VOLUME] PATH --to DIR [--also DISK]… [--json]',
    summary: 'Copy a file or folder out of a disk image into DIR (names are made safe; nothing is overwritten).',
    options: { ...also, to: { type: 'string' } },
    positionals: { min: 2, max: 2 },
    async run(ctx) {
      const to = str(ctx, 'to')
      if (to === undefined) throw new UsageError('--to DIR is required (the folder to restore into).')
      const target = await imageTarget(ctx)
      const engine = await ctx.engine()
      const { jobId } = await call(engine.handlers, 'files.restore', { ...target, paths: [ctx.positionals[1] ?? '/'], toDirectory: path.resolve(to) }, ctx.signal)
      const job = await waitForJob(engine, jobId, ctx.io, ctx.signal)
      const detail = await engine.jobs.get(jobId)
      if (ctx.io.json) ctx.io.out(JSON.stringify(detail, null, 2))
      else for (const line of detail.log.filter((l) => l.level !== 'info' || l.message.includes(' files, '))) ctx.io.err(`  ${line.message}`)
      if (job.state !== 'succeeded') {
        if (!ctx.io.json) {
          ctx.io.err(`lifeboat: ${job.error?.message ?? `the restore ${job.state}`}`)
          for (const l of job.leftBehind) ctx.io.err(`  left behind: ${l}`)
        }
        return EXIT_FAILED
      }
      return EXIT_OK
    },
  },
]
