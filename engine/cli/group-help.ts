import type { Command } from './command'

/** Command groups: the first word shared by commands of two or more words (`host add`, `host list` → `host`). */
export function commandGroups(commands: readonly Command[]): ReadonlyMap<string, readonly Command[]> {
  const groups = new Map<string, Command[]>()
  for (const command of commands) {
    const [group] = command.path
    if (group === undefined || command.path.length < 2) continue
    const members = groups.get(group) ?? []
    members.push(command)
    groups.set(group, members)
  }
  return groups
}

/** What `lifeboat GROUP --help` prints: each subcommand with its one-line summary. */
export function groupHelpText(group: string, members: readonly Command[]): string {
  const names = members.map((c) => c.path.slice(1).join(' '))
  const width = Math.max(...names.map((n) => n.length))
  return [
    `Usage: lifeboat ${group} SUBCOMMAND [options]`,
    '',
    'Subcommands:',
    ...members.map((c, i) => `  ${(names[i] ?? '').padEnd(width)}  ${c.summary}`),
    '',
    `Run \`lifeboat ${group} SUBCOMMAND --help\` for its options.`,
  ].join('\n')
}

export type GroupHelp =
  /** Help was asked for (`lifeboat repo --help`, `lifeboat help repo`): print on stdout, exit 0. */
  | { readonly kind: 'asked'; readonly text: string }
  /** The subcommand is missing (`lifeboat repo`) or unknown (`lifeboat repo frobnicate`): a usage error. */
  | { readonly kind: 'missing' | 'unknown'; readonly text: string }

/**
 * For a command line that matched no command: the help of the group it names, or undefined when its first word
 * names no group. Options may come before the subcommand's place (`lifeboat repo --home DIR --help`), so only
 * the word right after the group counts as a subcommand.
 */
export function groupHelpFor(commands: readonly Command[], argv: readonly string[]): GroupHelp | undefined {
  const helpWords = ['--help', '-h']
  const asksHelp = argv[0] === 'help'
  const words = asksHelp ? argv.slice(1) : argv
  const [group, next] = words
  const members = group === undefined ? undefined : commandGroups(commands).get(group)
  if (group === undefined || members === undefined) return undefined
  const text = groupHelpText(group, members)
  if (asksHelp || next === 'help') return { kind: 'asked', text }
  if (next === undefined || next.startsWith('-')) return { kind: words.some((w) => helpWords.includes(w)) ? 'asked' : 'missing', text }
  return { kind: 'unknown', text }
}
