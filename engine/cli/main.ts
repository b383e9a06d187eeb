import { parseArgs } from 'node:util'
import { ApiError } from '../api/contract-errors'
import { toApiError } from '../errors/to-api-error'
import type { Engine } from '../engine'
import { defaultHome } from '../state/paths'
import packageJson from '../../package.json'
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, processIo, reportError, type CliIo } from './cli-io'
import type { Command, CommandContext } from './command'
import { backupCommands } from './commands-backup'
import { checkCommands } from './commands-check'
import { hostCommands } from './commands-host'
import { filesCommands, imageCommands } from './commands-image'
import { planCommands } from './commands-plans'
import { repositoryCommands } from './commands-repository'
import { jobCommands, vmCommands } from './commands-misc'
import { serveCommand } from './commands-serve'
import { pointsServeCommand } from './commands-points-serve'
import { pointsRunCommands } from './commands-points-run'
import { snapshotCommands } from './commands-snapshot'
import { archiveCommands } from './commands-archive'
import { manualVmCommands } from './commands-manual-vm'
import { notifyCommands } from './commands-notify'
import { copyCommands } from './commands-copies'
import { objectLockCommands } from './commands-object-lock'
import { groupHelpFor } from './group-help'

export const commands: readonly Command[] = [...hostCommands, ...vmCommands, ...imageCommands, ...filesCommands, ...repositoryCommands, ...copyCommands, ...objectLockCommands, ...checkCommands, pointsServeCommand, ...pointsRunCommands, ...planCommands, ...jobCommands, ...backupCommands, ...archiveCommands, ...snapshotCommands, ...manualVmCommands, ...notifyCommands, serveCommand]

const globalOptions = {
  json: { type: 'boolean' },
  home: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

function helpText(): string {
  const lines = commands.map((c) => `  ${c.usage}\n      ${c.summary}`)
  return [
    `Lifeboat ${packageJson.version} — VM backups for XenServer/XCP-ng, Hyper-V and Linux hosts`,
    '',
    'Usage:',
    ...lines,
    '',
    'Options for every command:',
    '  --json        print one JSON document on stdout (errors too: {"error": {code, message, params}})',
    '  --home DIR    use DIR for Lifeboat\'s data instead of $LIFEBOAT_HOME or the app-data folder',
    '',
    'Exit codes: 0 success, 1 the operation failed (or was cancelled), 2 the command line is wrong,',
    '  3 a file restore (image get, files get) finished but skipped or renamed items (named on stderr, all in --json).',
  ].join('\n')
}

/** Runs one command line; `io` is the process's stdout/stderr unless a caller (a test) passes its own. */
export async function runCli(argv: readonly string[], signal: AbortSignal, io: CliIo = processIo(argv.includes('--json'))): Promise<number> {
  const command = commands.find((c) => c.path.every((word, i) => argv[i] === word))
  const groupHelp = command ? undefined : groupHelpFor(commands, argv)
  if (groupHelp?.kind === 'asked') {
    io.out(groupHelp.text)
    return EXIT_OK
  }
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.out(helpText())
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    io.out(packageJson.version)
    return EXIT_OK
  }
  if (groupHelp?.kind === 'missing') {
    io.err(groupHelp.text)
    return EXIT_USAGE
  }
  if (!command) {
    io.err(`lifeboat: unknown command "${argv.slice(0, 2).join(' ')}". Run \`lifeboat help\` for the list.`)
    if (groupHelp) io.err(groupHelp.text)
    return EXIT_USAGE
  }
  let engine: Engine | undefined
  try {
    const parsed = parseArgs({
      args: argv.slice(command.path.length),
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    })
    if (parsed.values.help === true) {
      io.out(`${command.usage}\n  ${command.summary}`)
      return EXIT_OK
    }
    const range = command.positionals ?? { min: 0, max: 0 }
    if (parsed.positionals.length < range.min || parsed.positionals.length > range.max) {
      throw new UsageError(`Usage: ${command.usage}`)
    }
    const homeOption = parsed.values.home
    const home = typeof homeOption === 'string' ? homeOption : defaultHome()
    const ctx: CommandContext = {
      io,
      values: parsed.values,
      positionals: parsed.positionals,
      signal,
      engine: async () => (engine ??= await (await import('../engine')).createEngine({ home, door: 'cli' })),
    }
    return await command.run(ctx)
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`lifeboat: ${err.message}\nUsage: ${command.usage}`)
      return EXIT_USAGE
    }
    return reportError(io, err instanceof ApiError ? err : toApiError(err))
  } finally {
    await engine?.dispose()
  }
}

// Entry point when run as the `lifeboat` command (bin/lifeboat.mjs imports the bundled file).
export async function main(): Promise<void> {
  const controller = new AbortController()
  let interrupts = 0
  const onSignal = () => {
    interrupts++
    if (interrupts > 1) process.exit(130)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const code = await runCli(process.argv.slice(2), controller.signal).catch((err: unknown) => {
    console.error('lifeboat:', err instanceof Error ? err.message : err)
    return EXIT_FAILED
  })
  process.exitCode = code
  // Leave as soon as nothing is pending; if a library keeps a socket alive, do not hang a cron job over it.
  setTimeout(() => process.exit(code), 3000).unref()
}
