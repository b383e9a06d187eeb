import { z } from 'zod'
import type { JsonValue } from '../host-adapter'

/** XAPI compares VDIs in 64 KiB blocks (VDI.list_changed_blocks). */
export const CBT_BLOCK = 64 * 1024

const Uuid = z.string().regex(/^[0-9a-f-]{36}$/i)

/**
 * What a restore point remembers for the next backup of the same VM, per disk:
 * - cbt: the snapshot VDI reduced to changed-block metadata; the next backup compares against it and reads only the
 *   changed blocks over NBD;
 * - vhd: a full snapshot VDI kept on the SR; the next backup asks for a VHD delta against it (base=).
 */
export const TokenSchema = z.object({
  v: z.literal(1),
  kind: z.literal('xapi'),
  vm: Uuid,
  disks: z
    .array(
      z.object({
        vdi: Uuid,
        strategy: z.enum(['cbt', 'vhd']),
        base: Uuid,
        size: z.number().int().nonnegative(),
      }),
    )
    .max(256),
})
export type Token = z.infer<typeof TokenSchema>
export type TokenDisk = Token['disks'][number]

export function parseToken(value: JsonValue | undefined): Token | undefined {
  const parsed = TokenSchema.safeParse(value)
  return parsed.success ? parsed.data : undefined
}

/**
 * The byte ranges a CBT bitmap marks (MSB first, one bit per 64 KiB block), merged and clipped to the disk.
 * A bitmap too short to cover the disk is not trusted (undefined): the caller reads everything instead.
 */
export function changedRanges(bitmapBase64: string, size: number): { offset: number; length: number }[] | undefined {
  if (bitmapBase64.length > 64 * 1024 * 1024 || !/^[A-Za-z0-9+/]*={0,2}$/.test(bitmapBase64)) return undefined
  const bitmap = Buffer.from(bitmapBase64, 'base64')
  const blocks = Math.ceil(size / CBT_BLOCK)
  if (bitmap.length * 8 < blocks) return undefined
  const out: { offset: number; length: number }[] = []
  for (let i = 0; i < blocks; i++) {
    if (((bitmap[i >> 3] ?? 0) & (0x80 >> (i & 7))) === 0) continue
    const offset = i * CBT_BLOCK
    const length = Math.min(CBT_BLOCK, size - offset)
    const last = out[out.length - 1]
    if (last && last.offset + last.length === offset) last.length += length
    else out.push({ offset, length })
  }
  return out
}
