import { call } from './cli-call'
import { EXIT_OK, UsageError, table } from './cli-io'
import { str, type Command } from './command'

export const manualVmCommands: Command[] = [
  {
    path: ['vm', 'register'],
    usage: 'lifeboat vm register --host H --name VM --disk NAME=PATH… [--start CMD] [--stop CMD] [--suspend CMD] [--resume CMD] [--status CMD] [--json]',
    summary: 'Describe a VM Lifeboat cannot discover (Xen/KVM on LVM, btrfs or image files): its disks and the commands that control it.',
    options: {
      host: { type: 'string' },
      name: { type: 'string' },
      disk: { type: 'string', multiple: true },
      start: { type: 'string' },
      stop: { type: 'string' },
      suspend: { type: 'string' },
      resume: { type: 'string' },
      status: { type: 'string' },
    },
    async run(ctx) {
      const host = str(ctx, 'host')
      const name = str(ctx, 'name')
      const given = ctx.values.disk
      const diskArgs = Array.isArray(given) ? given.filter((d): d is string => typeof d === 'string') : []
      if (host === undefined || name === undefined || diskArgs.length === 0) throw new UsageError('--host, --name and at least one --disk NAME=PATH are required.')
      const disks = diskArgs.map((d) => {
        const at = d.indexOf('=')
        if (at <= 0) throw new UsageError(`--disk takes NAME=PATH (e.g. xvda=/dev/vg0/web01-disk), not "${d}".`)
        return { name: d.slice(0, at), path: d.slice(at + 1) }
      })
      const commands = Object.fromEntries(['start', 'stop', 'suspend', 'resume', 'status'].flatMap((k) => (str(ctx, k) !== undefined ? [[k, str(ctx, k) ?? '']] : [])))
      const r = await call((await ctx.engine()).handlers, 'manualVms.register', { host, name, disks, ...(Object.keys(commands).length > 0 ? { commands } : {}) }, ctx.signal)
      ctx.io.out(ctx.io.json ? JSON.stringify(r) : `Registered ${name} (${r.id}).`)
      return EXIT_OK
    },
  },
  {
    path: ['vm', 'unregister'],
    usage: 'lifeboat vm unregister --host H --name VM [--json]',
    summary: 'Forget a registered VM (nothing on its disks changes).',
    options: { host: { type: 'string' }, name: { type: 'string' } },
    async run(ctx) {
      const host = str(ctx, 'host')
      const name = str(ctx, 'name')
      if (host === undefined || name === undefined) throw new UsageError('--host and --name are required.')
      await call((await ctx.engine()).handlers, 'manualVms.unregister', { host, vm: name }, ctx.signal)
      ctx.io.out(ctx.io.json ? JSON.stringify({ unregistered: name }) : `Unregistered ${name}.`)
      return EXIT_OK
    },
  },
  {
    path: ['vm', 'registered'],
    usage: 'lifeboat vm registered --host H [--json]',
    summary: 'The VMs registered by hand on a Linux host.',
    options: { host: { type: 'string' } },
    async run(ctx) {
      const host = str(ctx, 'host')
      if (host === undefined) throw new UsageError('--host is required.')
      const vms = await call((await ctx.engine()).handlers, 'manualVms.list', { host }, ctx.signal)
      if (ctx.io.json) ctx.io.out(JSON.stringify(vms, null, 2))
      else ctx.io.out(table(vms.map((v) => [v.name, v.id, v.disks.map((d) => `${d.name}=${d.path}`).join(' ')]), ['NAME', 'ID', 'DISKS']))
      return EXIT_OK
    },
  },
]
