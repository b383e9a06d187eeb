import type { PointCheckDto } from '../api/contract-checks'
import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, UsageError } from './cli-io'
import { str, type Command } from './command'
import { followJob } from './commands-backup'
import { repoArg, resolvePoint } from './commands-repository'

/** `90`, `90s`, `10m`, `1h`, `1h30m` → seconds; anything else is a usage error naming the option. */
export function parseDuration(value: string, option: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(value.trim())
  const [, h = '0', min = '0', s = '0'] = m ?? []
  const total = Number(h) * 3600 + Number(min) * 60 + Number(s)
  if (m === null || value.trim() === '' || !Number.isSafeInteger(total) || total <= 0) throw new UsageError(`--${option} takes a duration such as 90s, 10m or 1h.`)
  return total
}

export const checkCommands: Command[] = [
  {
    path: ['points', 'check'],
    usage: "lifeboat points check POINT --host H [--timeout 10m] [--command 'systemctl is-system-running'] [--repo LOCATION] [--json]",
    summary:
      'Health check: boot a restore point as a temporary VM with no network on a saved host and wait for proof of life — KVM/libvirt: the QEMU guest agent answers (and the command, if given, exits 0); XenServer/XCP-ng: guest metrics from its PV drivers appear; Hyper-V: the Heartbeat integration service reports OK (--command only on KVM/libvirt). The VM and its files are removed afterwards. Exit 0 booted, 1 failed (with the reason).',
    options: { host: { type: 'string' }, timeout: { type: 'string' }, command: { type: 'string' }, repo: { type: 'string' } },
    positionals: { min: 1, max: 1 },
    async run(ctx) {
      const host = str(ctx, 'host')
      if (host === undefined) throw new UsageError('--host is required: the saved host that boots the temporary VM.')
      const timeout = str(ctx, 'timeout')
      const command = str(ctx, 'command')
      const point = await resolvePoint(ctx, ctx.positionals[0] ?? '')
      const engine = await ctx.engine()
      const { jobId } = await call(
        engine.handlers,
        'points.check',
        { ...repoArg(ctx), point: point.id, host, ...(timeout !== undefined ? { timeoutSec: parseDuration(timeout, 'timeout') } : {}), ...(command !== undefined ? { command } : {}) },
        ctx.signal,
      )
      const seen: { verdict?: PointCheckDto['verdict'] } = {}
      const code = await followJob(ctx, jobId, (result, io) => {
        const check = result as PointCheckDto
        seen.verdict = check.verdict
        if (io.json) io.out(JSON.stringify(check, null, 2))
        else {
          io.out(`${check.summary}.`)
          if (check.command !== undefined && check.command.output !== '') io.out(`  output: ${check.command.output.split('\n').slice(0, 10).join('\n          ')}`)
          if (check.screenshot !== undefined) io.out(`  screenshot: ${check.screenshot.path}`)
          io.out(`  restore ${(check.timings.restoreMs / 1000).toFixed(1)} s · boot ${(check.timings.bootMs / 1000).toFixed(1)} s · proof ${(check.timings.proofMs / 1000).toFixed(1)} s`)
        }
      })
      return code === EXIT_OK && seen.verdict === 'booted' ? EXIT_OK : EXIT_FAILED
    },
  },
]
