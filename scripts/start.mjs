#!/usr/bin/env node
// `npm start`: builds Lifeboat and opens the desktop app. The Electron binary is downloaded on first use; where
// it cannot be (offline, or ELECTRON_SKIP_BINARY_DOWNLOAD set) it says so in one line, without building first
// and without the installer's stack trace, and points at the browser mode instead.
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

/**
 * Runs Electron's own installer. Its failure is a stack trace (install.js prints err.stack), which says nothing
 * to someone who typed `npm start`, so stderr is kept and only its first line is passed on as the reason.
 * Returns undefined on success, else why there is no binary.
 */
function fetchElectron() {
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) return 'ELECTRON_SKIP_BINARY_DOWNLOAD is set'
  const installer = path.join(electronDir, 'install.js')
  if (!existsSync(installer)) return 'its installer is missing from node_modules/electron'
  console.log('Lifeboat: downloading the Electron binary…')
  const run = spawnSync(process.execPath, [installer], { stdio: ['ignore', 'inherit', 'pipe'], cwd: electronDir, encoding: 'utf8' })
  if (run.status === 0) return undefined
  const firstLine = (run.stderr ?? '').split('\n').map((line) => line.trim()).find((line) => line !== '' && !line.startsWith('at '))
  return `the download failed: ${(firstLine ?? run.error?.message ?? `exit code ${run.status}`).replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}`
}

// Look for Electron before building: without it the build would be for nothing.
let binary = electronBinary()
if (binary === undefined) {
  const failure = fetchElectron()
  binary = electronBinary()
  if (binary === undefined) {
    console.error(`Lifeboat: the Electron binary is not installed here (${failure ?? 'the installer did not put it in place'}), so the desktop window cannot open; run \`npm run serve\` to use Lifeboat in your browser instead.`)
    process.exit(1)
  }
}
await buildAll()
const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' })
child.on('exit', (code) => process.exit(code ?? 0))
