import { build } from 'esbuild'
import { symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/** The worker entry the product build must list in scripts/build.mjs nodeEntries. */
export const WORKER_ENTRY = { in: 'engine/repository/workers/chunk-worker.ts', out: 'repo-chunk-worker' } as const

/**
 * Bundles entries the way scripts/build.mjs bundles dist/node (one flat folder, ESM, code splitting, packages
 * external), into `outdir`, with a node_modules link so the external packages resolve. Used to prove the worker
 * starts from a bundle and to benchmark what ships rather than tsx.
 */
export async function bundleForNode(outdir: string, entries: readonly { in: string; out: string }[]): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints: [...entries, WORKER_ENTRY].map((e) => ({ in: e.in, out: e.out })),
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
    banner: { js: "import { createRequire as __lbCreateRequire } from 'node:module'; const require = __lbCreateRequire(import.meta.url);" },
  })
  await writeFile(path.join(outdir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n')
  await symlink(path.join(root, 'node_modules'), path.join(path.dirname(outdir), 'node_modules'))
}
