import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCli as runLifeboat } from '../../e2e/support/cli'
import { commands, runCli as runInProcess } from './main'

/**
 * The help paths never open the engine, so most cases run the command line in this process (about 2 s less each
 * than starting the CLI); one case goes through the real `lifeboat` command to prove the door prints the same.
 */
async function runCli(_home: string, argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const line = (t: string) => (t.endsWith('\n') ? t : `${t}\n`)
  const code = await runInProcess(argv, new AbortController().signal, {
    json: false,
    out: (t) => (stdout += line(t)),
    err: (t) => (stderr += line(t)),
    confirm: () => undefined,
    readStdin: () => Promise.resolve(''),
  })
  return { code, stdout, stderr }
}

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
  })

  it('prints group help through the real command too', async () => {
    const res = await runLifeboat(home, ['points', '--help'])
    expect(res.code, res.stderr).toBe(0)
    expectListsSubcommands(res.stdout, 'points')
    const bare = await runLifeboat(home, ['points'])
    expect(bare.code).toBe(2)
    expectListsSubcommands(bare.stderr, 'points')
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
