import path from 'node:path'
import type { PointSummaryDto } from '../api/contract-repository'
import { locationFromCommandLine } from '../repository-access/location'
import { call } from './cli-call'
import { pointStatsLine } from './point-stats-line'
import { EXIT_FAILED, EXIT_OK, UsageError, formatBytes, table, type CliIo } from './cli-io'
import { flag, str, type Command, type CommandContext } from './command'
import { waitForJob } from './wait-for-job'
import { toJobDetailDto } from '../jobs/job-record'

const repoOption = { repo: { type: 'string' } } as const

/** `--repo LOCATION`: a folder (relative ones resolved here, as before), file:///…, sftp://HOST/… or s3://…. */
export function repoArg(ctx: CommandContext): { repo?: string } {
  const repo = str(ctx, 'repo')
  return repo !== undefined ? { repo: locationFromCommandLine(repo) } : {}
}

/**
 * What `repo init` reads from stdin: the passphrase and/or the S3 secret key, one line each in that order when
 * both are asked for, so neither ever appears in the command line (and so in `ps` or shell history).
 */
async function initSecrets(ctx: CommandContext): Promise<{ passphrase?: string; s3Credentials?: { accessKeyId: string; secretAccessKey: string } }> {
  const wantPassphrase = flag(ctx, 'passphrase-stdin')
  const wantSecret = flag(ctx, 's3-secret-stdin')
  const accessKeyId = str(ctx, 's3-access-key')
  if (wantSecret !== (accessKeyId !== undefined)) throw new UsageError('--s3-access-key ID and --s3-secret-stdin go together.')
  const lines = wantPassphrase || wantSecret ? (await ctx.io.readStdin()).split(/\r?\n/) : []
  if (wantPassphrase && wantSecret && lines.length < 2) throw new UsageError('Give the passphrase and the S3 secret key on stdin, one line each (passphrase first).')
  const passphrase = wantPassphrase ? lines[0] : process.env.LIFEBOAT_REPO_PASSPHRASE
  const secretAccessKey = wantSecret ? lines[wantPassphrase ? 1 : 0] : undefined
  if (wantPassphrase && !passphrase) throw new UsageError('--passphrase-stdin: stdin gave no passphrase.')
  if (wantSecret && !secretAccessKey) throw new UsageError('--s3-secret-stdin: stdin gave no secret key.')
  return {
    ...(passphrase ? { passphrase } : {}),
    ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { s3Credentials: { accessKeyId, secretAccessKey } } : {}),
  }
}

function count(ctx: CommandContext, name: string): number | undefined {
  const v = str(ctx, name)
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number.`)
  return Number(v)
}

/** Runs a job-starting channel, follows it, prints its result; exit 1 unless it succeeded. */
export async function runJob(ctx: CommandContext, start: () => Promise<{ jobId: string }>, print: (result: unknown, io: CliIo) => void): Promise<number> {
  const engine = await ctx.engine()
  const { jobId } = await start()
  const job = await waitForJob(engine, jobId, ctx.io, ctx.signal)
  const detail = toJobDetailDto(await engine.jobs.get(jobId))
  if (job.state !== 'succeeded') {
    if (ctx.io.json) ctx.io.out(JSON.stringify({ error: job.error ?? { code: 'CANCELLED', message: 'The job was cancelled.', params: {} }, leftBehind: job.leftBehind }, null, 2))
    ctx.io.err(`lifeboat: ${job.error?.message ?? `the job was ${job.state}`}`)
    for (const l of job.leftBehind) ctx.io.err(`  left behind: ${l}`)
    return EXIT_FAILED
  }
  print(detail.result, ctx.io)
  return EXIT_OK
}

/** Accepts a full restore point id or an unambiguous prefix of at least 6 characters, like git. */
export async function resolvePoint(ctx: CommandContext, given: string): Promise<PointSummaryDto> {
  const points = await call((await ctx.engine()).handlers, 'points.list', repoArg(ctx), ctx.signal)
  const exact = points.find((p) => p.id === given)
  if (exact) return exact
  const matches = given.length >= 6 ? points.filter((p) => p.id.startsWith(given)) : []
  if (matches.length === 1 && matches[0]) return matches[0]
  throw new UsageError(matches.length > 1 ? `"${given}" matches ${matches.length} restore points; give more of the id.` : `No restore point "${given}" (see \`lifeboat points list\`).`)
}

export const repositoryCommands: Command[] = [
  {
    path: ['repo', 'init'],
    usage: 'lifeboat repo init [--repo LOCATION] [--passphrase-stdin] [--s3-access-key ID --s3-secret-stdin] [--json]',
    summary:
      'Create a repository (encrypted when a passphrase is given on stdin or in LIFEBOAT_REPO_PASSPHRASE). LOCATION: a folder, sftp://HOST/FOLDER (a saved host) or s3://BUCKET/PREFIX?endpoint=URL&region=R; S3 credentials given here are saved.',
    options: { ...repoOption, 'passphrase-stdin': { type: 'boolean' }, 's3-access-key': { type: 'string' }, 's3-secret-stdin': { type: 'boolean' } },
    async run(ctx) {
      const secrets = await initSecrets(ctx)
      const info = await call((await ctx.engine()).handlers, 'repo.init', { ...repoArg(ctx), ...secrets }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(info, null, 2))
      else ctx.io.out(`Created ${info.encrypted ? 'an encrypted' : 'a'} repository at ${info.location}.${info.encrypted ? ' Keep the passphrase safe: without it nothing can be restored.' : ''}`)
      return EXIT_OK
    },
  },
  {
    path: ['repo', 'info'],
    usage: 'lifeboat repo info [--repo LOCATION] [--json]',
    summary: 'What a repository is and holds.',
    options: repoOption,
    async run(ctx) {
      const info = await call((await ctx.engine()).handlers, 'repo.info', repoArg(ctx), ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(info, null, 2))
      else
        ctx.io.out(
          `${info.location}\n  id: ${info.id}\n  format: v${info.formatVersion}, ${formatBytes(info.chunkSize)} chunks, ${info.compression}${info.encrypted ? ', encrypted (AES-256-GCM)' : ', not encrypted'}\n  restore points: ${info.points} (${formatBytes(info.logicalBytes)} of disks)\n  created: ${info.createdAt}`,
        )
      return EXIT_OK
    },
  },
  {
    path: ['repo', 'check'],
    usage: 'lifeboat repo check [--repo LOCATION] [--json]',
    summary: 'Quick consistency check of the repository layout.',
    options: repoOption,
    async run(ctx) {
      const r = await call((await ctx.engine()).handlers, 'repo.check', repoArg(ctx), ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(r, null, 2))
      else {
        ctx.io.out(`${r.ok ? 'OK' : 'PROBLEMS FOUND'}: ${r.points} restore points, ${r.chunks} chunks, ${r.unreferencedChunks} unused chunks (${formatBytes(r.unreferencedBytes)}, reclaim with \`lifeboat repo gc\`).`)
        for (const p of r.problems) ctx.io.out(`  - ${p.message}`)
      }
      return r.ok ? EXIT_OK : EXIT_FAILED
    },
  },
  {
    path: ['repo', 'verify'],
    usage: 'lifeboat repo verify [--point POINT] [--repo LOCATION] [--repair-from LOCATION] [--json]',
    summary:
      'Re-read every chunk and name the damaged restore points (exit 1 when any is damaged). --point: only the chunks of that restore point. --repair-from: re-fetch damaged chunks from a copy (points copy) and name the points it cannot repair.',
    options: { ...repoOption, 'repair-from': { type: 'string' }, point: { type: 'string' } },
    async run(ctx) {
      const engine = await ctx.engine()
      let damaged = 0
      const repairFrom = str(ctx, 'repair-from')
      const point = str(ctx, 'point')
      if (repairFrom !== undefined && point !== undefined) throw new UsageError('--point and --repair-from cannot be combined: a repair checks the whole repository.')
      if (repairFrom !== undefined) {
        const code = await runJob(
          ctx,
          () => call(engine.handlers, 'repo.verify', { ...repoArg(ctx), repairFrom: locationFromCommandLine(repairFrom) }, ctx.signal),
          (result, io) => {
            const r = result as { ok: boolean; found: { ok: boolean; chunksChecked: number }; repairedChunks: string[]; repairedManifests: string[]; unrepaired: { pointId: string; manifestProblem?: string; disks: { disk: string; chunks: { offset: number }[] }[] }[] }
            damaged = r.unrepaired.length
            if (io.json) io.out(JSON.stringify(r, null, 2))
            else if (r.found.ok) io.out(`All intact: ${r.found.chunksChecked} chunks re-read; nothing to repair.`)
            else {
              io.out(`Repaired from the copy: ${r.repairedChunks.length} chunk(s), ${r.repairedManifests.length} manifest(s).`)
              if (r.ok) io.out('Every damaged restore point is whole again.')
              for (const p of r.unrepaired) {
                io.out(`  cannot repair ${p.pointId}: ${p.manifestProblem ?? p.disks.map((d) => `${d.disk} at ${d.chunks.map((c) => c.offset).join(', ')}`).join('; ')} (the copy lacks it or is damaged there too)`)
              }
            }
          },
        )
        return code === EXIT_OK && damaged > 0 ? EXIT_FAILED : code
      }
      const code = await runJob(
        ctx,
        () => call(engine.handlers, 'repo.verify', { ...repoArg(ctx), ...(point !== undefined ? { pointId: point } : {}) }, ctx.signal),
        (result, io) => {
          const r = result as { ok: boolean; chunksChecked: number; pointsChecked: number; damagedPoints: { pointId: string; manifestProblem?: string; disks: { disk: string; chunks: { offset: number }[] }[] }[] }
          damaged = r.damagedPoints.length
          if (io.json) io.out(JSON.stringify(r, null, 2))
          else {
            io.out(`${r.ok ? 'All intact' : `${damaged} damaged restore point(s)`}: ${r.chunksChecked} chunks of ${r.pointsChecked} restore points re-read.`)
            for (const p of r.damagedPoints) {
              io.out(`  ${p.pointId}: ${p.manifestProblem ?? p.disks.map((d) => `${d.disk} at ${d.chunks.map((c) => c.offset).join(', ')}`).join('; ')}`)
            }
          }
        },
      )
      return code === EXIT_OK && damaged > 0 ? EXIT_FAILED : code
    },
  },
  {
    path: ['repo', 'prune'],
    usage: 'lifeboat repo prune [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--dry-run] [--repo LOCATION] [--json]',
    summary: 'Remove restore points the retention rules no longer keep (per VM); --dry-run shows what would go and why.',
    options: {
      ...repoOption,
      'keep-last': { type: 'string' },
      'keep-hourly': { type: 'string' },
      'keep-daily': { type: 'string' },
      'keep-weekly': { type: 'string' },
      'keep-monthly': { type: 'string' },
      'keep-yearly': { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    async run(ctx) {
      const policy = {
        keepLast: count(ctx, 'keep-last'),
        keepHourly: count(ctx, 'keep-hourly'),
        keepDaily: count(ctx, 'keep-daily'),
        keepWeekly: count(ctx, 'keep-weekly'),
        keepMonthly: count(ctx, 'keep-monthly'),
        keepYearly: count(ctx, 'keep-yearly'),
      }
      const clean = Object.fromEntries(Object.entries(policy).filter(([, v]) => v !== undefined))
      const r = await call((await ctx.engine()).handlers, 'repo.prune', { ...repoArg(ctx), policy: clean, dryRun: flag(ctx, 'dry-run') }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(r, null, 2))
      else {
        const verb = r.dryRun ? 'would be removed' : 'removed'
        for (const d of r.kept) ctx.io.out(`keep    ${d.id}  ${d.group}  (${d.reasons.join(', ')})`)
        for (const d of r.removed) ctx.io.out(`${r.dryRun ? 'remove?' : 'removed'} ${d.id}  ${d.group}`)
        for (const s of r.skipped) ctx.io.out(`skipped ${s.pointId}: ${s.reason}`)
        for (const l of r.locked) ctx.io.out(`locked  ${l.pointId}: kept, S3 Object Lock protects it until ${l.until}`)
        ctx.io.out(`${r.removed.length} restore point(s) ${verb}, ${r.kept.length} kept.${r.dryRun ? '' : ' Run `lifeboat repo gc` to reclaim their space.'}`)
      }
      return EXIT_OK
    },
  },
  {
    path: ['repo', 'gc'],
    usage: 'lifeboat repo gc [--dry-run] [--repo LOCATION] [--json]',
    summary: 'Reclaim space: delete chunks no restore point uses (safe while backups run).',
    options: { ...repoOption, 'dry-run': { type: 'boolean' } },
    async run(ctx) {
      const engine = await ctx.engine()
      return await runJob(
        ctx,
        () => call(engine.handlers, 'repo.gc', { ...repoArg(ctx), dryRun: flag(ctx, 'dry-run') }, ctx.signal),
        (result, io) => {
          const r = result as { dryRun: boolean; chunksDeleted: number; bytesFreed: number; chunksInUse: number; chunksLocked?: number; lockedUntil?: string }
          if (io.json) io.out(JSON.stringify(r, null, 2))
          else {
            io.out(`${r.chunksDeleted} unused chunks ${r.dryRun ? 'could be deleted' : 'deleted'}, ${formatBytes(r.bytesFreed)} ${r.dryRun ? 'to free' : 'freed'}; ${r.chunksInUse} chunks in use.`)
            if ((r.chunksLocked ?? 0) > 0) io.out(`${r.chunksLocked} unused chunks are still protected by S3 Object Lock (until ${r.lockedUntil ?? '?'} at the latest) and were kept; a later GC removes them.`)
          }
        },
      )
    },
  },
  {
    path: ['points', 'list'],
    usage: 'lifeboat points list [--vm NAME] [--repo LOCATION] [--json]',
    summary: 'Restore points, newest first.',
    options: { ...repoOption, vm: { type: 'string' } },
    async run(ctx) {
      const vm = str(ctx, 'vm')
      const points = await call((await ctx.engine()).handlers, 'points.list', { ...repoArg(ctx), ...(vm !== undefined ? { vm } : {}) }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(points, null, 2))
      else if (points.length === 0) ctx.io.out('No restore points yet.')
      else
        ctx.io.out(
          table(
            points.map((p) => [
              p.id,
              p.finishedAt.replace('T', ' ').slice(0, 19),
              p.vm.name,
              p.sourceHost.name,
              `${p.mode}/${p.consistency}`,
              p.disks.map((d, i) => `${i}:${d.name} ${formatBytes(d.size)}`).join(', '),
              formatBytes(p.stats.bytesStored),
              p.lastCheck === undefined ? '-' : `${p.lastCheck.verdict} ${p.lastCheck.checkedAt.slice(0, 10)}`,
            ]),
            ['ID', 'FINISHED (UTC)', 'VM', 'HOST', 'MODE', 'DISKS', 'NEW DATA', 'CHECK'],
          ),
        )
      return EXIT_OK
    },
  },
  {
    path: ['points', 'export'],
    usage: 'lifeboat points export POINT --disk N --format raw|qcow2|vhd|vhdx --out FILE [--repo LOCATION] [--json]',
    summary: 'Write one disk of a restore point as an image file (N: the disk number from `points list`, or its name).',
    options: { ...repoOption, disk: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const format = str(ctx, 'format')
      if (format !== 'raw' && format !== 'qcow2' && format !== 'vhd' && format !== 'vhdx') throw new UsageError('--format must be raw, qcow2, vhd or vhdx.')
      const out = str(ctx, 'out')
      if (out === undefined) throw new UsageError('--out FILE is required.')
      const point = await resolvePoint(ctx, ctx.positionals[0] ?? '')
      const diskArg = str(ctx, 'disk') ?? '0'
      const disk = /^\d+$/.test(diskArg) ? point.disks[Number(diskArg)]?.name : point.disks.find((d) => d.name === diskArg)?.name
      if (disk === undefined) throw new UsageError(`Restore point ${point.id} has no disk "${diskArg}" (it has ${point.disks.map((d, i) => `${i}:${d.name}`).join(', ')}).`)
      const engine = await ctx.engine()
      return await runJob(
        ctx,
        () => call(engine.handlers, 'points.export', { ...repoArg(ctx), pointId: point.id, disk, format, output: path.resolve(out) }, ctx.signal),
        (result, io) => io.out(io.json ? JSON.stringify(result, null, 2) : `Wrote ${path.resolve(out)}.`),
      )
    },
  },
  {
    path: ['backup-file'],
    usage: 'lifeboat backup-file IMAGE [--name VM] [--repo LOCATION] [--json]',
    summary: 'Back up a local disk image file (raw, qcow2, VHD, VHDX) as a restore point; --json prints the restore point.',
    options: { ...repoOption, name: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const engine = await ctx.engine()
      const name = str(ctx, 'name')
      return await runJob(
        ctx,
        () => call(engine.handlers, 'backup.file', { ...repoArg(ctx), image: path.resolve(ctx.positionals[0] ?? ''), ...(name !== undefined ? { vmName: name } : {}) }, ctx.signal),
        (result, io) => {
          const p = result as PointSummaryDto
          if (io.json) io.out(JSON.stringify(p, null, 2))
          else io.out(`Restore point ${p.id}: ${pointStatsLine(p.stats)}`)
        },
      )
    },
  },
]
