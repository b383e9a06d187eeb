import type { CopyReportDto, VmCopiesDto } from '../api/contract-copies'
import { locationFromCommandLine } from '../repository-access/location'
import { call } from './cli-call'
import { EXIT_OK, UsageError, formatBytes } from './cli-io'
import { flag, str, type Command } from './command'
import { repoArg, resolvePoint, runJob } from './commands-repository'

export const copyCommands: Command[] = [
  {
    path: ['points', 'copy'],
    usage: 'lifeboat points copy POINT --to LOCATION [--repo LOCATION] [--s3-access-key ID --s3-secret-stdin] [--json]',
    summary:
      'Copy a restore point to a second repository (an empty place becomes a copy of this one; only chunks it lacks travel, each proven by hash before the point counts). Ctrl+C leaves the copy consistent; running it again resumes.',
    options: { repo: { type: 'string' }, to: { type: 'string' }, 's3-access-key': { type: 'string' }, 's3-secret-stdin': { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const to = str(ctx, 'to')
      if (to === undefined) throw new UsageError('--to LOCATION is required: a folder, sftp://HOST/FOLDER or s3://BUCKET/PREFIX?endpoint=URL.')
      const accessKeyId = str(ctx, 's3-access-key')
      if (flag(ctx, 's3-secret-stdin') !== (accessKeyId !== undefined)) throw new UsageError('--s3-access-key ID and --s3-secret-stdin go together.')
      const secretAccessKey = accessKeyId === undefined ? undefined : (await ctx.io.readStdin()).split(/\r?\n/)[0]
      if (accessKeyId !== undefined && !secretAccessKey) throw new UsageError('--s3-secret-stdin: stdin gave no secret key.')
      const point = await resolvePoint(ctx, ctx.positionals[0] ?? '')
      const engine = await ctx.engine()
      const input = {
        ...repoArg(ctx),
        pointId: point.id,
        to: locationFromCommandLine(to),
        ...(accessKeyId !== undefined && secretAccessKey ? { s3Credentials: { accessKeyId, secretAccessKey } } : {}),
      }
      return await runJob(
        ctx,
        () => call(engine.handlers, 'points.copy', input, ctx.signal),
        (result, io) => {
          const r = result as CopyReportDto
          if (io.json) io.out(JSON.stringify(r, null, 2))
          else if (r.alreadyThere) io.out(`Restore point ${r.pointId} is already in ${r.target}; nothing was sent.`)
          else
            io.out(
              `Copied restore point ${r.pointId} to ${r.target}${r.targetCreated ? ' (a new copy of this repository)' : ''}: ${r.chunksSent} chunks sent (${formatBytes(r.bytesSent)}), ${r.chunksShared} already there${r.chunksResumed > 0 ? `, ${r.chunksResumed} taken over from an interrupted copy` : ''}; all ${r.chunksVerified + r.chunksShared} proven.`,
            )
        },
      )
    },
  },
  {
    path: ['points', 'copies'],
    usage: 'lifeboat points copies [--repo LOCATION] [--json]',
    summary: 'Per VM: how many independent copies its newest restore point has, and where.',
    options: { repo: { type: 'string' } },
    async run(ctx) {
      const rows: VmCopiesDto[] = await call((await ctx.engine()).handlers, 'copies.summary', repoArg(ctx), ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(rows, null, 2))
      else if (rows.length === 0) ctx.io.out('No restore points yet.')
      else
        for (const r of rows) {
          ctx.io.out(`${r.vmName}: ${r.copies} ${r.copies === 1 ? 'copy' : 'copies'} · ${r.offMachine} off this machine (point ${r.pointId})`)
          for (const p of r.places) ctx.io.out(`  ${p.location}${p.primary ? ' (this repository)' : ''}${p.offMachine ? ' — off this machine' : ''}`)
        }
      return EXIT_OK
    },
  },
]
