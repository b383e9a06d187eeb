/**
 * getopt_long-style parsing as the LVM tools do it: bundled short options (`-sn snap`), attached values (`-L4M`,
 * `--size=4M`), and getopt's own error lines followed by LVM's "Error during parsing of command line." (exit 3).
 */

export interface OptionSpec {
  readonly long: string
  readonly short?: string
  readonly value: boolean
}

export interface ParsedArgs {
  /** Long name → values in order (flags get ''). */
  readonly options: ReadonlyMap<string, readonly string[]>
  readonly positional: readonly string[]
}

/** A failure with LVM's stderr lines and exit code. */
export class LvmError extends Error {
  constructor(
    readonly lines: readonly string[],
    readonly exitCode: number,
  ) {
    super(lines.join('\n'))
    this.name = 'LvmError'
  }
}

export const EXIT_FAILED = 5
export const EXIT_INVALID_CMD_LINE = 3

/** Options every LVM command accepts; the fake takes them and ignores what they would tune. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { long: 'verbose', short: 'v', value: false },
  { long: 'debug', short: 'd', value: false },
  { long: 'quiet', short: 'q', value: false },
  { long: 'yes', short: 'y', value: false },
  { long: 'test', short: 't', value: false },
  { long: 'config', value: true },
  { long: 'commandprofile', value: true },
  { long: 'devices', value: true },
  { long: 'devicesfile', value: true },
  { long: 'driverloaded', value: true },
  { long: 'lockopt', value: true },
  { long: 'nolocking', value: false },
  { long: 'nohints', value: false },
  { long: 'profile', value: true },
]

export function parseArgs(command: string, argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const all = [...COMMON_OPTIONS, ...specs]
  const options = new Map<string, string[]>()
  const positional: string[] = []
  const add = (spec: OptionSpec, value: string) => options.set(spec.long, [...(options.get(spec.long) ?? []), value])
  const bad = (line: string): never => {
    throw new LvmError([line, '  Error during parsing of command line.'], EXIT_INVALID_CMD_LINE)
  }

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg === '--') {
      positional.push(...argv.slice(i + 1))
      break
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = arg.slice(2, eq < 0 ? undefined : eq)
      const spec = all.find((s) => s.long === name)
      if (spec === undefined) return bad(`${command}: unrecognized option '${arg}'`)
      if (!spec.value) {
        if (eq >= 0) return bad(`${command}: option '--${name}' doesn't allow an argument`)
        add(spec, '')
      } else if (eq >= 0) add(spec, arg.slice(eq + 1))
      else {
        const next = argv[i + 1]
        if (next === undefined) return bad(`${command}: option '--${name}' requires an argument`)
        add(spec, next)
        i++
      }
      continue
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j] ?? ''
        const spec = all.find((s) => s.short === letter)
        if (spec === undefined) return bad(`${command}: invalid option -- '${letter}'`)
        if (!spec.value) {
          add(spec, '')
          continue
        }
        const rest = arg.slice(j + 1)
        if (rest !== '') add(spec, rest)
        else {
          const next = argv[i + 1]
          if (next === undefined) return bad(`${command}: option requires an argument -- '${letter}'`)
          add(spec, next)
          i++
        }
        break
      }
      continue
    }
    positional.push(arg)
  }
  return { options, positional }
}

export const has = (args: ParsedArgs, long: string): boolean => args.options.has(long)
export const last = (args: ParsedArgs, long: string): string | undefined => args.options.get(long)?.at(-1)
export const all = (args: ParsedArgs, long: string): readonly string[] => args.options.get(long) ?? []
