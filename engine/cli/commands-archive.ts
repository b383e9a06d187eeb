import { locationFromCommandLine } from '../repository-access/location'
import { call } from './cli-call'
import { UsageError, formatBytes } from './cli-io'
import { flag, str, type Command } from './command'
import { followJob } from './commands-backup'

export const archiveCommands: Command[] = [
  {
    path: ['xva', 'export'],
    usage: 'lifeboat xva export --host H --vm NAME --file FILE.xva [--overwrite] [--json]',
    summary: 'Export a XenServer/XCP-ng VM as an XVA file on this machine (a running VM through a temporary snapshot).',
    options: { host: { type: 'string' }, vm: { type: 'string' }, file: { type: 'string' }, overwrite: { type: 'boolean' } },
    async run(ctx) {
      const host = str(ctx, 'host')
      const vm = str(ctx, 'vm')
      const file = str(ctx, 'file')
      if (host === undefined || vm === undefined || file === undefined) throw new UsageError('--host, --vm and --file are required.')
      const { jobId } = await call((await ctx.engine()).handlers, 'archive.export', { host, vm, file, overwrite: flag(ctx, 'overwrite') }, ctx.signal)
      return await followJob(ctx, jobId, (result, io) => {
        const r = result as { file: string; bytes: number; vm: string }
        io.out(io.json ? JSON.stringify(r, null, 2) : `${r.vm} exported to ${r.file} (${formatBytes(r.bytes)}).`)
      })
    },
  },
  {
    path: ['xva', 'import'],
    usage: 'lifeboat xva import FILE.xva --host H [--storage SR] [--start] [--json]',
    summary: 'Create a new VM on a XenServer/XCP-ng pool from an XVA file on this machine.',
    options: { host: { type: 'string' }, storage: { type: 'string' }, start: { type: 'boolean' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const host = str(ctx, 'host')
      if (host === undefined) throw new UsageError('--host is required.')
      const storage = str(ctx, 'storage')
      const { jobId } = await call((await ctx.engine()).handlers, 'archive.import', { host, file: ctx.positionals[0] ?? '', start: flag(ctx, 'start'), ...(storage !== undefined ? { storage } : {}) }, ctx.signal)
      return await followJob(ctx, jobId, (result, io) => {
        const r = result as { vmId: string; name: string; started: boolean }
        io.out(io.json ? JSON.stringify(r, null, 2) : `Imported as ${r.name} (${r.vmId})${r.started ? ', running' : ''}.`)
      })
    },
  },
  {
    path: ['restore-disk'],
    usage: 'lifeboat restore-disk POINT --disk NAME --to-host H --vm VM [--as NAME] [--storage SR|DIR] [--repo LOCATION] [--json]',
    summary: 'Write one disk of a restore point as a new disk and attach it to an existing VM (hot-plugged when it runs).',
    options: { disk: { type: 'string' }, 'to-host': { type: 'string' }, vm: { type: 'string' }, as: { type: 'string' }, storage: { type: 'string' }, repo: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const disk = str(ctx, 'disk')
      const toHost = str(ctx, 'to-host')
      const vm = str(ctx, 'vm')
      if (disk === undefined || toHost === undefined || vm === undefined) throw new UsageError('--disk, --to-host and --vm are required.')
      const as = str(ctx, 'as')
      const storage = str(ctx, 'storage')
      const repo = str(ctx, 'repo')
      const { jobId } = await call(
        (await ctx.engine()).handlers,
        'restore.disk',
        { point: ctx.positionals[0] ?? '', disk, toHost, vm, ...(as !== undefined ? { as } : {}), ...(storage !== undefined ? { storage } : {}), ...(repo !== undefined ? { repo: locationFromCommandLine(repo) } : {}) },
        ctx.signal,
      )
      return await followJob(ctx, jobId, (result, io) => {
        const r = result as { disk: { name: string; path: string }; device: string; plugged: boolean }
        io.out(io.json ? JSON.stringify(r, null, 2) : `${r.disk.name} (${r.disk.path}) attached as device ${r.device}${r.plugged ? ', hot-plugged' : ', visible at the next start'}.`)
      })
    },
  },
]
