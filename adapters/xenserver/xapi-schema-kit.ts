import { z } from 'zod'

/**
 * Bounded zod building blocks for XAPI values. Everything a pool sends is treated as hostile: strings, sets and
 * maps have upper bounds, numbers must be finite (ints safe integers), references must look like references.
 * Over JSON-RPC XAPI sends ints as numbers, over XML-RPC as strings; both are accepted.
 */
const MAX_STRING = 1 << 20
const MAX_ITEMS = 100_000
const MAX_KEY = 4096

const numeric = (integer: boolean) =>
  z
    .union([z.number(), z.string().max(64).regex(integer ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/)])
    .transform(Number)
    .refine((n) => (integer ? Number.isSafeInteger(n) : Number.isFinite(n)), { message: 'number out of range' })

const string = z.string().max(MAX_STRING)

export const xs = {
  string,
  int: numeric(true),
  float: numeric(false),
  bool: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
  datetime: z.union([z.string().max(64), z.date().transform((d) => d.toISOString())]),
  ref: z.string().max(128).regex(/^OpaqueRef:[A-Za-z0-9-]+$/),
  enumValue: z.string().max(256),
  refSet: z.array(z.string().max(128).regex(/^OpaqueRef:[A-Za-z0-9-]+$/)).max(MAX_ITEMS),
  stringSet: z.array(string).max(MAX_ITEMS),
  intSet: z.array(numeric(true)).max(MAX_ITEMS),
  stringMap: z.record(z.string().max(MAX_KEY), string).refine((m) => Object.keys(m).length <= MAX_ITEMS, { message: 'map too large' }),
  anyMap: z.record(z.string().max(MAX_KEY), z.unknown()).refine((m) => Object.keys(m).length <= MAX_ITEMS, { message: 'map too large' }),
}

export const NULL_REF = 'OpaqueRef:NULL'

export function isNullRef(ref: string | undefined): boolean {
  return ref === undefined || ref === NULL_REF || ref === ''
}
