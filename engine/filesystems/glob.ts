/** Turns a simple glob (`*`, `?`, `[abc]`) into an anchored RegExp; everything else is literal. */
export function globToRegExp(glob: string, caseInsensitive: boolean): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i)
    if (c === '*') re += '.*'
    else if (c === '?') re += '.'
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1)
      if (close > i + 1) {
        const body = glob.slice(i + 1, close).replace(/\\/g, '\\\\')
        re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`
        i = close
      } else re += '\\['
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&')
  }
  return new RegExp(`^${re}$`, caseInsensitive ? 'iu' : 'u')
}
