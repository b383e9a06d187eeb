/**
 * Symbolic links and junctions are reparse points: a tag, then substitute and print names (UTF-16).
 * Returns the target as a '/'-separated path, or undefined for reparse points that are not links
 * (deduplication, OneDrive placeholders…), which are then shown as ordinary files.
 */
const TAG_MOUNT_POINT = 0xa0000003
const TAG_SYMLINK = 0xa000000c

export function reparseTarget(value: Buffer): string | undefined {
  if (value.length < 16) return undefined
  const tag = value.readUInt32LE(0)
  if (tag !== TAG_SYMLINK && tag !== TAG_MOUNT_POINT) return undefined
  const pathBuffer = tag === TAG_SYMLINK ? 20 : 16
  const printOffset = value.readUInt16LE(12)
  const printLength = value.readUInt16LE(14)
  const subOffset = value.readUInt16LE(8)
  const subLength = value.readUInt16LE(10)
  const pick = (o: number, l: number): string | undefined => (pathBuffer + o + l <= value.length && l > 0 ? value.toString('utf16le', pathBuffer + o, pathBuffer + o + l) : undefined)
  let target = pick(printOffset, printLength) ?? pick(subOffset, subLength)
  if (target === undefined) return undefined
  target = target.replace(/^\\\?\?\\/, '')
  // Relative targets become POSIX-relative; absolute Windows targets (C:/Users/…) keep their drive letter, which
  // the restore code treats as leaving the target and refuses.
  return target.replace(/\\/g, '/')
}
