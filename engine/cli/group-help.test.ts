import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../e2e/support/cli'
import { commands } from './main'

// Every first word shared by commands of two or more words, taken from the command table itself, so a group
// added later is covered without touching this file.
const groups = [...new Set(commands.filter((c) => c.path.length > 1).map((c) => c.path[0]!))]

function expectListsSubcommands(text: string, group: string): void {
  for (const c of commands.filter((m) => m.path[0] === group && m.path.length > 1)) {
    expect(text, `${group} help names "${c.path.join(' ')}"`).toMatch(new RegExp(`^  ${c.path.slice(1).join(' ')} +\\S`, 'm'))
    expect(text).toContain(c.summary)
  }
}

describe('lifeboat GROUP without a subcommand', () => {
  let home: string
  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'lb-cli-group-'))
    // The first run may rebuild the bundle; do it once here rather than inside a timed case.
    await runCli(home, ['--version'])
  })

  it('finds the groups in the command table', () => {
    expect(groups).toEqual(expect.arrayContaining(['host', 'repo', 'points', 'plans', 'snapshot', 'jobs', 'vm']))
  })

  it.each(groups)('`lifeboat %s --help` lists its subcommands on stdout and exits 0', async (group) => {
    const res = await runCli(home, [group, '--help'])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stderr).toBe('')
    expectListsSubcommands(res.stdout, group)
  })

  it.each(groups)('bare `lifeboat %s` prints the same list on stderr and exits 2 (usage error)', async (group) => {
    const res = await runCli(home, [group])
    expect(res.code).toBe(2)
    expect(res.stdout).toBe('')
    expect(res.stderr).not.toContain('unknown command')
    expectListsSubcommands(res.stderr, group)
  })

  it('answers `lifeboat help GROUP` and lists the subcommands after an unknown one', async () => {
    const asked = await runCli(home, ['help', 'snapshot'])
    expect(asked.code).toBe(0)
    expectListsSubcommands(asked.stdout, 'snapshot')
    const typo = await runCli(home, ['repo', 'frobnicate'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('unknown command "repo frobnicate"')
    expectListsSubcommands(typo.stderr, 'repo')
  })
})
