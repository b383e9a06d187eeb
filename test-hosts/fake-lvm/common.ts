/**
 * What every emulated command shares: output channels, LVM's name rules and its messages for missing volume groups,
 * missing LVs and non-root callers (texts copied from LVM 2.03.16 runs).
 */
import { EXIT_FAILED, EXIT_INVALID_CMD_LINE, LvmError } from './args'
import type { FakeLvmConfig } from './state'

/** Function-valued members (not methods): commands pass `io.err` around as a callback. */
export interface Io {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Prints a [y/n] question and reads the answer line; undefined at end of input. */
  readonly ask: (question: string) => Promise<string | undefined>
}

export type Command = (config: FakeLvmConfig, argv: readonly string[], io: Io) => Promise<number>

export const vgNotFound = (vg: string): string[] => [`  Volume group "${vg}" not found`, `  Cannot process volume group ${vg}`]
export const lvNotFound = (vg: string, lv: string): string[] => [`  Failed to find logical volume "${vg}/${lv}"`]

const NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/

export function validVgName(name: string): boolean {
  return NAME.test(name) && name !== '.' && name !== '..' && name.length <= 127
}

const RESERVED_PREFIXES = ['snapshot', 'pvmove']
const RESERVED_PARTS = ['_cdata', '_cmeta', '_corig', '_mlog', '_mimage', '_pmspare', '_rimage', '_rmeta', '_tdata', '_tmeta', '_vorigin', '_vdata']

/** lvcreate's checks on a new LV name (exit 3 with LVM's texts). */
export function checkNewLvName(command: string, name: string): void {
  const help = `  Run \`${command} --help' for more information.`
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p))
  if (prefix !== undefined) throw new LvmError([`  Names starting "${prefix}" are reserved. Please choose a different LV name.`, help], EXIT_INVALID_CMD_LINE)
  const part = RESERVED_PARTS.find((p) => name.includes(p))
  if (part !== undefined) throw new LvmError([`  Names including "${part}" are reserved. Please choose a different LV name.`, help], EXIT_INVALID_CMD_LINE)
  if (!NAME.test(name) || name === '.' || name === '..' || name.length > 127) {
    throw new LvmError([`  Logical volume name "${name}" is invalid.`, help], EXIT_INVALID_CMD_LINE)
  }
}

export interface LvArg {
  readonly vg: string
  readonly lv?: string
  readonly raw: string
}

/** A VG or VG/LV argument; `/dev/VG/LV` (and the same under the fake's device root) are accepted as LVM accepts them. */
export function parseLvArg(config: FakeLvmConfig, raw: string): LvArg {
  let text = raw
  for (const root of [config.devRoot, '/dev']) {
    if (text.startsWith(`${root}/`)) {
      text = text.slice(root.length + 1)
      break
    }
  }
  const parts = text.split('/')
  if (parts.length > 2 || parts.some((p) => p === '')) throw new LvmError([`  "${raw}": Invalid path for Logical Volume.`], EXIT_FAILED)
  const [vg = '', lv] = parts
  return lv === undefined ? { vg, raw } : { vg, lv, raw }
}

/** LVM without root cannot take its lock files; the fake says what LVM says (unless the config turns this off). */
export function checkRoot(config: FakeLvmConfig, vgs: readonly string[]): void {
  if (!config.requireRoot || process.getuid?.() === 0) return
  const warning = '  WARNING: Running as a non-root user. Functionality may be unavailable.'
  const vg = vgs[0]
  if (vg === undefined) throw new LvmError([warning, '  /run/lock/lvm/P_global:aux: open failed: Permission denied'], EXIT_FAILED)
  throw new LvmError([warning, `  /run/lock/lvm/V_${vg}:aux: open failed: Permission denied`, `  Can't get lock for ${vg}.`, `  Cannot process volume group ${vg}`], EXIT_FAILED)
}
