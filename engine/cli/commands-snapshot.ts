import { call } from './cli-call'
import { EXIT_FAILED, EXIT_OK, UsageError, table } from './cli-io'
import { flag, str, type Command, type CommandContext } from './command'

function target(ctx: CommandContext): { host: string; vm: string } {
  const host = str(ctx, 'host')
  const vm = str(ctx, 'vm')
  if (host === undefined || vm === undefined) throw new UsageError('--host and --vm are required.')
  return { host, vm }
}

function snapshotName(ctx: CommandContext): string {
  const s = ctx.positionals[0] ?? str(ctx, 'snapshot')
  if (s === undefined) throw new UsageError('Name the snapshot (see `lifeboat snapshot list`).')
  return s
}

const common = { host: { type: 'string' }, vm: { type: 'string' } } as const

export const snapshotCommands: Command[] = [
  {
    path: ['snapshot', 'create'],
    usage: 'lifeboat snapshot create --host H --vm NAME [--label TEXT] [--review-in DAYS | --no-review] [--json]',
    summary: 'Take a snapshot of a VM before patching it, tagged as Lifeboat\'s, with a review date (default in 7 days) after which Lifeboat reminds you to keep or discard it. It is never deleted by itself.',
    options: { ...common, label: { type: 'string' }, 'review-in': { type: 'string' }, 'no-review': { type: 'boolean' }, 'expires-in': { type: 'string' } },
    async run(ctx) {
      const days = str(ctx, 'review-in')
      // --expires-in HOURS: the older spelling of the same review date.
      const hours = str(ctx, 'expires-in')
      for (const [name, v] of [['--review-in', days], ['--expires-in', hours]] as const) if (v !== undefined && !/^\d{1,5}(\.\d+)?$/.test(v)) throw new UsageError(`${name} takes a number.`)
      if (flag(ctx, 'no-review') && (days !== undefined || hours !== undefined)) throw new UsageError('--no-review cannot be combined with --review-in.')
      const ms = days !== undefined ? Number(days) * 86_400_000 : hours !== undefined ? Number(hours) * 3600_000 : 7 * 86_400_000
      const expiresAt = flag(ctx, 'no-review') ? {} : { expiresAt: new Date(Date.now() + ms).toISOString() }
      const snap = await call((await ctx.engine()).handlers, 'snapshots.create', { ...target(ctx), label: str(ctx, 'label') ?? 'before patching', ...expiresAt }, ctx.signal)
      if (!ctx.io.json) for (const w of snap.warnings ?? []) ctx.io.err(`  warning: ${w}`)
      ctx.io.out(ctx.io.json ? JSON.stringify(snap, null, 2) : `Snapshot ${snap.name} created${snap.expiresAt !== undefined ? `; review it (keep or discard) after ${snap.expiresAt}` : ''}.`)
      return EXIT_OK
    },
  },
  {
    path: ['snapshot', 'keep'],
    usage: 'lifeboat snapshot keep SNAPSHOT --host H --vm NAME [--json]',
    summary: 'Keep a Lifeboat snapshot past its review date: no more reminders (it stays until you remove it).',
    options: { ...common, snapshot: { type: 'string' } },
    positionals: { min: 0, max: 1 },
    async run(ctx) {
      const snapshot = snapshotName(ctx)
      const kept = await call((await ctx.engine()).handlers, 'snapshots.keep', { ...target(ctx), snapshot }, ctx.signal)
      ctx.io.out(ctx.io.json ? JSON.stringify(kept, null, 2) : `Keeping ${snapshot}; no more reminders.`)
      return EXIT_OK
    },
  },
  {
    path: ['snapshot', 'list'],
    usage: 'lifeboat snapshot list --host H --vm NAME [--json]',
    summary: 'The snapshots of a VM; Lifeboat\'s are marked.',
    options: common,
    async run(ctx) {
      const snaps = await call((await ctx.engine()).handlers, 'snapshots.list', target(ctx), ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(snaps, null, 2))
      else if (snaps.length === 0) ctx.io.out('No snapshots.')
      else ctx.io.out(table(snaps.map((s) => [s.name, s.createdAt ?? '', s.vmState ?? '', s.lifeboat ? 'yes' : '', s.current === true ? '*' : '', s.keptAt !== undefined ? 'kept' : (s.expiresAt ?? ''), s.label ?? '']), ['NAME', 'CREATED', 'STATE', 'LIFEBOAT', 'CURRENT', 'REVIEW', 'LABEL']))
      return EXIT_OK
    },
  },
  {
    path: ['snapshot', 'revert'],
    usage: 'lifeboat snapshot revert SNAPSHOT --host H --vm NAME --yes [--start|--stopped] [--json]',
    summary: 'Return a VM to a snapshot, discarding every change since (asks for --yes).',
    options: { ...common, snapshot: { type: 'string' }, yes: { type: 'boolean' }, start: { type: 'boolean' }, stopped: { type: 'boolean' } },
    positionals: { min: 0, max: 1 },
    async run(ctx) {
      const snapshot = snapshotName(ctx)
      if (!flag(ctx, 'yes')) {
        ctx.io.err(`lifeboat: reverting discards everything ${target(ctx).vm} did since ${snapshot}. Run again with --yes to confirm.`)
        return EXIT_FAILED
      }
      const start = flag(ctx, 'start') ? { start: true } : flag(ctx, 'stopped') ? { start: false } : {}
      await call((await ctx.engine()).handlers, 'snapshots.revert', { ...target(ctx), snapshot, confirm: true, ...start }, ctx.signal)
      ctx.io.out(ctx.io.json ? JSON.stringify({ reverted: snapshot }) : `Reverted to ${snapshot}.`)
      return EXIT_OK
    },
  },
  {
    path: ['snapshot', 'remove'],
    usage: 'lifeboat snapshot remove SNAPSHOT --host H --vm NAME [--json]',
    summary: 'Discard a snapshot; the VM keeps its current state.',
    options: { ...common, snapshot: { type: 'string' } },
    positionals: { min: 0, max: 1 },
    async run(ctx) {
      const snapshot = snapshotName(ctx)
      await call((await ctx.engine()).handlers, 'snapshots.remove', { ...target(ctx), snapshot }, ctx.signal)
      ctx.io.out(ctx.io.json ? JSON.stringify({ removed: snapshot }) : `Removed ${snapshot}.`)
      return EXIT_OK
    },
  },
  {
    path: ['leftovers', 'list'],
    usage: 'lifeboat leftovers list --host H [--json]',
    summary: 'What crashed or killed Lifeboat jobs left on a host (overlays, block jobs, checkpoints, snapshots, files).',
    options: { host: { type: 'string' } },
    async run(ctx) {
      const host = str(ctx, 'host')
      if (host === undefined) throw new UsageError('--host is required.')
      const found = await call((await ctx.engine()).handlers, 'leftovers.list', { host }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(found, null, 2))
      else if (found.length === 0) ctx.io.out('Nothing left behind.')
      else ctx.io.out(table(found.map((l) => [l.id, l.kind, l.safeToClean ? 'yes' : 'no', l.description]), ['ID', 'KIND', 'SAFE', 'DESCRIPTION']))
      return EXIT_OK
    },
  },
  {
    path: ['leftovers', 'clean'],
    usage: 'lifeboat leftovers clean --host H (--all-safe | --id ID…) [--json]',
    summary: 'Clean up leftovers: every one that is safe, or the ones named.',
    options: { host: { type: 'string' }, 'all-safe': { type: 'boolean' }, id: { type: 'string', multiple: true } },
    async run(ctx) {
      const host = str(ctx, 'host')
      if (host === undefined) throw new UsageError('--host is required.')
      const engine = await ctx.engine()
      const given = ctx.values.id
      let ids = Array.isArray(given) ? given.filter((x): x is string => typeof x === 'string') : []
      if (flag(ctx, 'all-safe')) ids = (await call(engine.handlers, 'leftovers.list', { host }, ctx.signal)).filter((l) => l.safeToClean).map((l) => l.id)
      if (ids.length === 0) {
        ctx.io.out(ctx.io.json ? JSON.stringify({ cleaned: [], failed: [] }) : 'Nothing to clean.')
        return EXIT_OK
      }
      const r = await call(engine.handlers, 'leftovers.clean', { host, ids }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(r, null, 2))
      else {
        for (const id of r.cleaned) ctx.io.out(`cleaned ${id}`)
        for (const f of r.failed) ctx.io.err(`not cleaned ${f.id}: ${f.reason}`)
      }
      return r.failed.length > 0 ? EXIT_FAILED : EXIT_OK
    },
  },
]
