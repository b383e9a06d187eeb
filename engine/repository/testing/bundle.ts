import { symlink } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildNode } from '../../../scripts/build.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/** The worker entry the product build must list in scripts/build.mjs nodeEntries. */
export const WORKER_ENTRY = { in: 'engine/repository/workers/chunk-worker.ts', out: 'repo-chunk-worker' } as const

/**
 * Bundles entries with scripts/build.mjs's own dist/node options (one flat folder, ESM, code splitting, packages
 * external), into `outdir`, with a node_modules link so the external packages resolve. Used to prove the worker
 * starts from a bundle and to benchmark what ships rather than tsx.
 */
export async function bundleForNode(outdir: string, entries: readonly { in: string; out: string }[]): Promise<void> {
  await buildNode({ quiet: true, outdir, entries: [...entries, WORKER_ENTRY] })
  await symlink(path.join(root, 'node_modules'), path.join(path.dirname(outdir), 'node_modules'))
}
