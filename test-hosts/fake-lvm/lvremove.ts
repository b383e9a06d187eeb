/**
 * `lvremove [-f] [-y] VG|VG/LV…`: removing an origin removes its snapshots first; an LV whose device is open is
 * refused ("in use"); without -f/-y it asks as LVM does and keeps the LV unless the answer is y.
 */
import { rm } from 'node:fs/promises'
import { EXIT_FAILED, EXIT_INVALID_CMD_LINE, LvmError, has, parseArgs, type OptionSpec } from './args'
import { checkRoot, lvNotFound, parseLvArg, vgNotFound, type Command, type Io } from './common'
import { refreshSnapshots } from './cow'
import { deviceOpen } from './fields'
import { dataFile, findVg, snapshotsOf, unlinkDevice, withState, type FakeLvmConfig, type FakeLvmState, type LvRecord } from './state'

const OPTIONS: readonly OptionSpec[] = [
  { long: 'force', short: 'f', value: false },
  { long: 'noudevsync', value: false },
  { long: 'nohistory', value: false },
  { long: 'reportformat', value: true },
  { long: 'autobackup', short: 'A', value: true },
]

export const lvremove: Command = async (config, argv, io) => {
  const args = parseArgs('lvremove', argv, OPTIONS)
  if (args.positional.length === 0) throw new LvmError(["  No command with matching syntax recognised.  Run 'lvremove --help' for more information."], EXIT_INVALID_CMD_LINE)
  const targets = args.positional.map((p) => parseLvArg(config, p))
  checkRoot(config, targets.map((t) => t.vg))
  const noPrompt = has(args, 'force') || has(args, 'yes')

  return withState(config, async (state) => {
    await refreshSnapshots(config, state)
    let code = 0
    for (const t of targets) {
      const vg = findVg(state, t.vg)
      if (vg === undefined) {
        vgNotFound(t.vg).forEach(io.err)
        code = EXIT_FAILED
        continue
      }
      const lvs = t.lv === undefined ? state.lvs.filter((l) => l.vg === vg.name && l.snapshot === undefined) : state.lvs.filter((l) => l.vg === vg.name && l.name === t.lv)
      if (t.lv !== undefined && lvs.length === 0) {
        lvNotFound(vg.name, t.lv).forEach(io.err)
        code = EXIT_FAILED
        continue
      }
      // Removing a whole VG's LVs also takes snapshots whose origin stays: collect those too.
      const extra = t.lv === undefined ? state.lvs.filter((l) => l.vg === vg.name && l.snapshot !== undefined && !lvs.some((o) => o.name === l.snapshot?.origin)) : []
      for (const lv of [...lvs, ...extra]) {
        if (!state.lvs.includes(lv)) continue
        if (!(await removeWithSnapshots(config, state, lv, noPrompt, io))) code = EXIT_FAILED
      }
      vg.seqno++
    }
    return code
  })
}

async function removeWithSnapshots(config: FakeLvmConfig, state: FakeLvmState, lv: LvRecord, noPrompt: boolean, io: Io): Promise<boolean> {
  const full = `${lv.vg}/${lv.name}`
  const snaps = snapshotsOf(state, lv.vg, lv.name)
  if (snaps.length > 0 && !noPrompt) {
    const answer = await io.ask(`Removing origin ${lv.name} will also remove ${snaps.length} snapshots(s). Proceed? [y/n]: `)
    if (answer?.trim().toLowerCase().startsWith('y') !== true) {
      io.err(`  Logical volume ${full} not removed.`)
      return false
    }
  }
  for (const victim of [...snaps, lv]) {
    if (victim.snapshot?.invalid !== true && deviceOpen(config, victim)) {
      io.err(`  Logical volume ${victim.vg}/${victim.name} in use.`)
      return false
    }
  }
  for (const victim of [...snaps, lv]) {
    if (!noPrompt && snaps.length === 0) {
      const answer = await io.ask(`Do you really want to remove active logical volume ${victim.vg}/${victim.name}? [y/n]: `)
      if (answer?.trim().toLowerCase().startsWith('y') !== true) {
        io.err(`  Logical volume ${victim.vg}/${victim.name} not removed.`)
        return false
      }
    }
    await unlinkDevice(config, victim.vg, victim.name)
    await rm(dataFile(config, victim.vg, victim.name), { force: true })
    state.lvs.splice(state.lvs.indexOf(victim), 1)
    io.out(`  Logical volume "${victim.name}" successfully removed.`)
  }
  return true
}
