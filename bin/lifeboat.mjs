#!/usr/bin/env node
// The `lifeboat` command. Runs the bundled CLI from dist/node; in a source checkout it first rebuilds that
// bundle when any source file is newer, so `npx lifeboat …` always runs the code you see.
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bundle = path.join(root, 'dist/node/lifeboat.js')

const sourceDirs = ['engine', 'adapters'].map((d) => path.join(root, d)).filter((d) => existsSync(d))
if (sourceDirs.length > 0) {
  const { newestSource } = await import(pathToFileURL(path.join(root, 'scripts/stale.mjs')).href)
  const wanted = (name) => /\.(ts|json)$/.test(name) && !name.endsWith('.test.ts')
  const builtAt = existsSync(bundle) ? statSync(bundle).mtimeMs : 0
  const newest = Math.max(statSync(path.join(root, 'package.json')).mtimeMs, ...sourceDirs.map((d) => newestSource(d, wanted)))
  if (newest > builtAt) {
    const { buildNode } = await import(pathToFileURL(path.join(root, 'scripts/build.mjs')).href)
    await buildNode({ quiet: true })
  }
}
if (!existsSync(bundle)) {
  console.error('lifeboat: the command-line tool is not built. Run `npm install` (or `npm run build`) in the Lifeboat folder.')
  process.exit(1)
}
const { main } = await import(pathToFileURL(bundle).href)
await main()
