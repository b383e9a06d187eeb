#!/usr/bin/env node
// Builds everything Lifeboat runs from: the renderer (Vite → dist/renderer), the Node side (esbuild → dist/node:
// CLI, web bridge, Electron main, worker threads; one ESM bundle set with shared chunks) and the Electron preload
// (CommonJS, because sandboxed preloads cannot be ES modules).
import { build } from 'esbuild'
import { rm, mkdir, writeFile, symlink } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Node-side entry points. Worker threads are entries too, so their file sits next to the code that starts them. */
export const nodeEntries = [
  { in: 'engine/cli/entry.ts', out: 'lifeboat' },
  { in: 'electron/main.ts', out: 'electron-main' },
  { in: 'engine/repository/workers/chunk-worker.ts', out: 'repo-chunk-worker' },
]

/**
 * The Node-side bundle: into dist/node by default; the torture campaign builds a private copy of some entries
 * elsewhere with the same options (e2e/torture/lifeboat-process.ts), so what it kills is what users run.
 */
export async function buildNode({ quiet = false, outdir = path.join(root, 'dist/node'), entries = nodeEntries } = {}) {
  await rm(outdir, { recursive: true, force: true })
  await build({
    absWorkingDir: root,
    entryPoints: entries.map((e) => ({ in: e.in, out: e.out })),
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    external: ['electron'],
    sourcemap: 'linked',
    logLevel: quiet ? 'error' : 'warning',
    // Bundled ESM has no require(); some dependencies (ssh2 is CommonJS) are imported, which Node handles,
    // but code paths that call require() need it defined.
    banner: { js: "import { createRequire as __lbCreateRequire } from 'node:module'; const require = __lbCreateRequire(import.meta.url);" },
  })
  await writeFile(path.join(outdir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n')
}

export async function buildPreload() {
  await build({
    absWorkingDir: root,
    entryPoints: ['electron/preload.ts'],
    outfile: path.join(root, 'dist/electron/preload.cjs'),
    minify: true,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['electron'],
    logLevel: 'warning',
  })
}

export async function buildRenderer() {
  const { build: viteBuild } = await import('vite')
  await viteBuild({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' })
}

/**
 * Makes `npx lifeboat` work in the checkout: npx finds node_modules/.bin/lifeboat. (Lifeboat deliberately has
 * no package.json "bin": with one, npm 11's npx tries to install the checkout into its own cache, which fails.)
 */
export async function linkBin() {
  const binDir = path.join(root, 'node_modules/.bin')
  await mkdir(binDir, { recursive: true })
  const target = path.join(binDir, 'lifeboat')
  await rm(target, { force: true })
  if (process.platform === 'win32') {
    await writeFile(`${target}.cmd`, '@node "%~dp0\\..\\..\\bin\\lifeboat.mjs" %*\r\n')
  } else {
    await symlink('../../bin/lifeboat.mjs', target)
  }
}

export async function buildAll() {
  await mkdir(path.join(root, 'dist'), { recursive: true })
  await Promise.all([buildNode(), buildPreload(), buildRenderer(), linkBin()])
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now()
  const only = process.argv[2]
  const task = only === 'node' ? buildNode() : only === 'renderer' ? buildRenderer() : only === 'bin' ? linkBin() : buildAll()
  task.then(
    () => console.log(`Lifeboat built in ${((Date.now() - started) / 1000).toFixed(1)} s → dist/`),
    (err) => {
      console.error(err instanceof Error ? err.message : err)
      process.exit(1)
    },
  )
}
