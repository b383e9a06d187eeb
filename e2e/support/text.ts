import { createHash } from 'node:crypto'

/** Hex SHA-256 of some bytes: what the journeys compare restored files and disks by. */
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** `s` as a literal inside a regular expression. */
export const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
