#!/usr/bin/env node
// `npm start`: builds Lifeboat and opens the desktop app. Where the Electron binary is not installed (it is
// downloaded on first use; offline machines and ELECTRON_SKIP_BINARY_DOWNLOAD=1 skip that) it says so in one
// line and points at the browser mode instead.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildAll } from './build.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const electronDir = path.join(root, 'node_modules', 'electron')

function electronBinary() {
  const pathFile = path.join(electronDir, 'path.txt')
  if (!existsSync(pathFile)) return undefined
  const binary = path.join(electronDir, 'dist', readFileSync(pathFile, 'utf8').trim())
  return existsSync(binary) ? binary : undefined
}

function fetchElectron() {
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) return false
  const installer = path.join(electronDir, 'install.js')
  if (!existsSync(installer)) return false
  return spawnSync(process.execPath, [installer], { stdio: 'inherit', cwd: electronDir }).status === 0
}

await buildAll()
const binary = electronBinary() ?? (fetchElectron() ? electronBinary() : undefined)
if (binary === undefined) {
  console.error('Lifeboat: the Electron binary is not installed here (no download possible), so the desktop window cannot open; run `npm run serve` to use Lifeboat in your browser instead.')
  process.exit(1)
}
const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' })
child.on('exit', (code) => process.exit(code ?? 0))
