#!/usr/bin/env node
// `npm test`: everything CI checks, in order — types, lint, build, unit and integration tests (vitest, against
// real sshd hosts in network namespaces; two lanes side by side, see scripts/test-lanes.mjs), and the browser
// journeys (Playwright in Debian's Chromium) — then one closing line with the counts. Stops at the first failing stage.
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { counts, print } from './test-report.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const vitestJson = path.join(root, '.vitest-results.json')
const vitestLocalJson = path.join(root, '.vitest-results-local.json')
const vitestLocalLog = path.join(root, '.vitest-local.log')
const playwrightJson = path.join(root, 'e2e/output/results.json')
const bin = (name) => path.join(root, 'node_modules/.bin', name)

/** Runs one command in the checkout; resolves with its exit code. */
function exec(command, args, stdio = 'inherit') {
  const child = spawn(command, args, { cwd: root, stdio, env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } })
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)))
}

/**
 * Vitest in two lanes side by side (scripts/test-lanes.mjs): the files that start real test hosts one at a time,
 * streamed; beside them everything else, one at a time too, its output kept in a file and printed when it ends.
 */
async function lanes() {
  const vitest = (project, json, stdio) => exec(bin('vitest'), ['run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile=${json}`], stdio)
  const log = openSync(vitestLocalLog, 'w')
  const [h, l] = await Promise.all([vitest('hosts', vitestJson, 'inherit'), vitest('local', vitestLocalJson, ['ignore', log, log])])
  closeSync(log)
  console.log(`\n── the other lane (tests without real hosts) ──\n${await readFile(vitestLocalLog, 'utf8')}`)
  console.log(`hosts lane: exit ${h}; other lane: exit ${l}`)
  return h !== 0 ? h : l
}

const stages = [
  ['types', () => exec(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit'])],
  ['types (renderer)', () => exec(bin('tsc'), ['-p', 'renderer/tsconfig.json', '--noEmit'])],
  ['lint', () => exec(bin('eslint'), ['--max-warnings', '0', '.'])],
  ['build', () => exec(process.execPath, ['scripts/build.mjs'])],
  ['unit and integration tests', lanes],
  ['browser journeys', () => exec(bin('playwright'), ['test'])],
]

async function run(name, stage) {
  const started = Date.now()
  console.log(`\n▶ ${name}`)
  const code = await stage()
  console.log(`◀ ${name}: ${code === 0 ? 'ok' : `failed (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return code
}

await rm(vitestJson, { force: true })
await rm(vitestLocalJson, { force: true })
await rm(playwrightJson, { force: true })
let exitCode = 0
for (const [name, stage] of stages) {
  const code = await run(name, stage)
  if (code !== 0) {
    exitCode = code
    break
  }
}
const report = await counts({ root, vitest: [vitestJson, vitestLocalJson], playwright: playwrightJson })
print(report)
const { failed } = report
process.exit(exitCode !== 0 ? exitCode : failed > 0 ? 1 : 0)
