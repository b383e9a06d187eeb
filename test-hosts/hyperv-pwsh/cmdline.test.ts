import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { HERE } from './pwsh'

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p))
const SCRIPT = path.join(HERE, 'lib', 'cmdline.py')

/** What winshell.sh gets from lib/cmdline.py for a command line: the arguments (after sh's eval), or the refusal. */
function split(line: string): string[] | { code: number; stderr: string } {
  const r = spawnSync(PYTHON ?? 'python3', ['-I', '-S', SCRIPT, line], { encoding: 'utf8' })
  if (r.status !== 0) return { code: r.status ?? -1, stderr: r.stderr }
  const words = execFileSync('/bin/sh', ['-c', `eval "set -- $1"; for a in "$@"; do printf '%s\\0' "$a"; done`, 'sh', r.stdout], { encoding: 'utf8' })
  return words === '' ? [] : words.slice(0, -1).split('\0')
}

describe.skipIf(PYTHON === undefined)("the test host's cmd.exe /c line splitting (lib/cmdline.py)", () => {
  it('splits as the Microsoft C runtime does: quotes group, backslashes before a quote pair up, "" inside quotes is a quote', () => {
    expect(split('powershell.exe -NoProfile -Command "Get-VM | Select-Object Name"')).toEqual(['powershell.exe', '-NoProfile', '-Command', 'Get-VM | Select-Object Name'])
    expect(split('a  "b c"\td')).toEqual(['a', 'b c', 'd'])
    expect(split('a\\"b')).toEqual(['a"b'])
    expect(split('"a\\\\" b')).toEqual(['a\\', 'b'])
    expect(split('"a\\\\\\"b" c')).toEqual(['a\\"b', 'c'])
    expect(split('c:\\dir\\file x')).toEqual(['c:\\dir\\file', 'x'])
    expect(split('"say ""hi"""')).toEqual(['say "hi"'])
    expect(split('""')).toEqual([''])
    // What sh would expand is only data here.
    expect(split("'$(touch /x)' `id` $HOME")).toEqual(["'$(touch", "/x)'", '`id`', '$HOME'])
  })

  it("refuses what cmd.exe would interpret instead of guessing: operators outside quotes, %VARIABLES% anywhere", () => {
    expect(split('a & b')).toMatchObject({ code: 99, stderr: expect.stringContaining('operators') })
    expect(split('a | b')).toMatchObject({ code: 99 })
    expect(split('a > b')).toMatchObject({ code: 99 })
    expect(split('a ^b')).toMatchObject({ code: 99 })
    expect(split('echo "%PATH%"')).toMatchObject({ code: 99, stderr: expect.stringContaining('%VARIABLE%') })
    expect(split('"a & b | c"')).toEqual(['a & b | c'])
  })
})
