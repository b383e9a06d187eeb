#!/usr/bin/env node
// The `lifeboat` command. Runs the bundled CLI from dist/node; in a source checkout it first rebuilds that
// bundle when any source file is newer, so `npx lifeboat …` always runs the code you see.
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bundle = path.join(root, 'dist/node/lifeboat.js')

function newestSource(dir, newest = 0) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) newest = newestSource(full, newest)
    else if (/\.(ts|json)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(full).mtimeMs)
  }
  return newest
}

const sourceDirs = ['engine', 'adapters'].map((d) => path.join(root, d)).filter((d) => existsSync(d))
if (sourceDirs.length > 0) {
  const builtAt = existsSync(bundle) ? statSync(bundle).mtimeMs : 0
  const newest = Math.max(statSync(path.join(root, 'package.json')).mtimeMs, ...sourceDirs.map((d) => newestSource(d)))
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
