import { describe, expect, it } from 'vitest'
import { raw, sh, shQuote, UnsafeShellArgumentError } from './shell-quote'
import { execFileSync } from 'node:child_process'

describe('shell quoting', () => {
  const hostile = [`vm with spaces`, `it's`, `a"b`, `x; rm -rf /`, `$(reboot)`, '`id`', 'line1\nline2', '-n', '*', '', '\\', "''", 'ünïcødé']

  it('round-trips every hostile string through a real /bin/sh', () => {
    for (const s of hostile) {
      const out = execFileSync('/bin/sh', ['-c', sh`printf %s ${s}`.text])
      expect(out.toString('utf8')).toBe(s)
    }
  })

  it('leaves plain words readable and quotes the empty string', () => {
    expect(shQuote('vm-01')).toBe('vm-01')
    expect(shQuote('/var/lib/libvirt/images/a.qcow2')).toBe('/var/lib/libvirt/images/a.qcow2')
    expect(shQuote('')).toBe("''")
  })

  it('expands arrays into separate quoted words and does not re-quote fragments', () => {
    const inner = sh`echo ${'a b'}`
    expect(sh`${inner} ${raw('|')} cat ${['x y', 'z']}`.text).toBe(`echo 'a b' | cat 'x y' z`)
  })

  it('refuses NUL bytes', () => {
    expect(() => shQuote('a\0b')).toThrow(UnsafeShellArgumentError)
  })
})
