import { call } from './cli-call'
import { EXIT_OK, UsageError } from './cli-io'
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
]
