import { createHash } from 'node:crypto'

/**
 * The guest bytes the test host's seeded VMs (`--vm NAME`, `vms: […]`) get: SHA-256 in counter mode over the name, so
 * anyone (a test, an admin checking a restore) can recompute them.
 */
export function knownContent(name: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  let at = 0
  for (let counter = 0; at < size; counter++) {
    const block = createHash('sha256').update(`lifeboat-hyperv-sim:${name}:${counter}`).digest()
    block.copy(out, at)
    at += block.length
  }
  return out
}
