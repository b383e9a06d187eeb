/**
 * POSIX shell quoting. Every remote command Lifeboat sends to a Linux host is built with `sh` below, so a VM
 * named `a'b; rm -rf / $(reboot)` is just a string to the remote shell. Nothing else may interpolate names.
 */

export class UnsafeShellArgumentError extends Error {
  override readonly name = 'UnsafeShellArgumentError'
}

/** Single-quotes one argument: inside '…' nothing is special except ' itself, which becomes '\''. */
export function shQuote(value: string | number): string {
  const s = String(value)
  if (s.includes('\0')) throw new UnsafeShellArgumentError('A shell argument cannot contain a NUL byte.')
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** A piece of shell text that is already safe and must not be quoted again (e.g. the result of sh``). */
export class ShellFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

/** Literal shell text from the programmer (pipes, redirections). Never pass user or host data here. */
export function raw(text: string): ShellFragment {
  return new ShellFragment(text)
}

type ShellValue = string | number | ShellFragment | readonly (string | number)[]

/**
 * Tagged template: the literal parts are the programmer's shell text, every interpolated value is quoted.
 * Arrays become several quoted words. Returns a ShellFragment so fragments compose without double quoting.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellFragment {
  let out = strings[0] ?? ''
  values.forEach((value, i) => {
    if (value instanceof ShellFragment) out += value.text
    else if (Array.isArray(value)) out += (value as readonly (string | number)[]).map(shQuote).join(' ')
    else out += shQuote(value as string | number)
    out += strings[i + 1] ?? ''
  })
  return new ShellFragment(out)
}
