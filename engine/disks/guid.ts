/** Formats a Microsoft mixed-endian GUID (first three fields little-endian) as the usual upper-case text. */
export function formatGuid(b: Buffer, at = 0): string {
  const h = (o: number, n: number, le: boolean): string => {
    const part = Buffer.from(b.subarray(at + o, at + o + n))
    return (le ? part.reverse() : part).toString('hex')
  }
  return `${h(0, 4, true)}-${h(4, 2, true)}-${h(6, 2, true)}-${h(8, 2, false)}-${h(10, 6, false)}`.toUpperCase()
}

export function isZeroGuid(b: Buffer, at = 0): boolean {
  for (let i = 0; i < 16; i++) if (b[at + i] !== 0) return false
  return true
}
