import { undeleteConfig, type NotUndeleted, type UndeletedObject, type UndeleteReport } from '../repository'
import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo } from './cli-io'
import { flag, str, type Command } from './command'
import { repoArg } from './commands-repository'

const MODES = {
  governance: 'GOVERNANCE: nobody can delete or overwrite a point before its date, except an account explicitly allowed to bypass governance.',
  compliance: 'COMPLIANCE: nobody at all can delete or overwrite a point before its date — not the bucket owner, not an administrator, not Lifeboat.',
} as const

export const objectLockCommands: Command[] = [
  {
    path: ['repo', 'lock'],
    usage: 'lifeboat repo lock --days N --mode governance|compliance [--repo LOCATION] [--json]   |   lifeboat repo lock --off [--repo LOCATION]',
    summary: `Keep each new restore point immutable for N days with S3 Object Lock (the bucket must have been created with Object Lock). ${MODES.governance} ${MODES.compliance} Folders and SFTP cannot be made immutable.`,
    options: { repo: { type: 'string' }, days: { type: 'string' }, mode: { type: 'string' }, off: { type: 'boolean' } },
    async run(ctx) {
      const off = flag(ctx, 'off')
      const days = str(ctx, 'days')
      const mode = str(ctx, 'mode')?.toLowerCase()
      if (off && (days !== undefined || mode !== undefined)) throw new UsageError('--off goes alone: it stops locking new restore points (locked ones stay locked).')
      if (!off && (days === undefined || !/^\d+$/.test(days) || mode === undefined)) throw new UsageError('Give --days N (a whole number) and --mode governance|compliance, or --off.')
      if (!off && mode !== 'governance' && mode !== 'compliance') throw new UsageError('--mode is governance or compliance.')
      const lock = off ? null : { mode: mode === 'compliance' ? ('COMPLIANCE' as const) : ('GOVERNANCE' as const), days: Number(days) }
      const info = await call((await ctx.engine()).handlers, 'repo.setObjectLock', { ...repoArg(ctx), lock }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(info, null, 2))
      else if (lock === null) ctx.io.out(`New restore points in ${info.location} are no longer locked; the ones already locked stay locked until their date.`)
      else ctx.io.out(`Each new restore point in ${info.location} stays immutable for ${lock.days} days. ${mode === 'compliance' ? MODES.compliance : MODES.governance}`)
      return EXIT_OK
    },
  },
  {
    path: ['repo', 'undelete'],
    usage: 'lifeboat repo undelete [--repo LOCATION] [--dry-run] [--json]',
    summary:
      'S3 with Object Lock: bring back restore points, chunks and config.json that someone hid with a plain DELETE (a delete marker) or a PUT (a newer version) while the locked version Lifeboat wrote is still there. Each one is proven (manifest decodes, chunk hashes to its id) before it counts; exit 1 when some could not be brought back. --dry-run: find and prove, change nothing. Folders, SFTP and buckets without versioning are refused.',
    options: { repo: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    async run(ctx) {
      const dryRun = flag(ctx, 'dry-run')
      const location = repoArg(ctx).repo
      const ref = location === undefined ? {} : { location }
      const engine = await ctx.engine()
      // config.json first: while it is hidden the repository cannot be opened to prove the rest.
      const storage = await engine.repositories.openStorage(ref, { signal: ctx.signal })
      let config: { restored?: UndeletedObject; failed?: NotUndeleted }
      try {
        config = await undeleteConfig(storage, { dryRun, signal: ctx.signal })
      } finally {
        await storage.close()
      }
      const label = engine.repositories.resolve(ref)
      let report: UndeleteReport
      if (config.failed !== undefined || (dryRun && config.restored !== undefined)) {
        // Without its configuration the repository cannot be opened: points and chunks wait for the next run.
        report = { location: label, dryRun, keysExamined: 1, keysHidden: 1, restored: [], failed: [], points: [] }
      } else {
        await using repo = await engine.repositories.open(ref, ctx.signal)
        report = await repo.undelete({ dryRun, signal: ctx.signal })
      }
      const all: UndeleteReport = {
        ...report,
        // config.json was looked at too, first.
        ...(config.failed !== undefined || (dryRun && config.restored !== undefined) ? {} : { keysExamined: report.keysExamined + 1, keysHidden: report.keysHidden + (config.restored ? 1 : 0) }),
        restored: [...(config.restored ? [config.restored] : []), ...report.restored],
        failed: [...(config.failed ? [config.failed] : []), ...report.failed],
      }
      printUndelete(ctx.io, all, dryRun && config.restored !== undefined)
      return all.failed.length > 0 ? EXIT_FAILED : EXIT_OK
    },
  },
]

function printUndelete(io: CliIo, r: UndeleteReport, configFirst: boolean): void {
  if (io.json) {
    io.out(JSON.stringify(r, null, 2))
    return
  }
  const verb = r.dryRun ? 'would bring back' : 'brought back'
  if (r.restored.length === 0 && r.failed.length === 0) io.out(`Nothing hidden in ${r.location}: ${r.keysExamined} objects looked at, each one's newest version is the one Lifeboat wrote.`)
  else io.out(`${r.location}: ${r.keysHidden} hidden object(s) among ${r.keysExamined}; ${verb} ${r.restored.length}${r.failed.length > 0 ? `, ${r.failed.length} could not be` : ''}.`)
  for (const o of r.restored) {
    const how = o.how === 'dry run' ? '' : o.how === 'removed' ? ` (the ${o.hiddenBy} was removed)` : ` (copied over the ${o.hiddenBy}, which is locked too)`
    io.out(`  ${verb} ${o.key}, hidden by a ${o.hiddenBy}: version ${o.versionId}, locked until ${o.lockedUntil}${how}`)
  }
  for (const f of r.failed) io.out(`  cannot bring back ${f.key}: ${f.reason}`)
  if (r.points.length > 0) io.out(`Restore points ${r.dryRun ? 'that would be listed again' : 'listed again'}: ${r.points.join(', ')}`)
  if (configFirst) io.out('The repository configuration has to come back before its restore points and chunks can be examined: run `lifeboat repo undelete` without --dry-run, then again.')
}
