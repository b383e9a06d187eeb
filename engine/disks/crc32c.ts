/** CRC-32C (Castagnoli), used by VHDX headers, region tables, log entries and metadata. Table-driven. */
const TABLE = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    t[i] = c >>> 0
  }
  return t
})()

export function crc32c(buf: Uint8Array, initial = 0): number {
  let c = ~initial >>> 0
  for (const byte of buf) c = (TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8)
  return ~c >>> 0
}
