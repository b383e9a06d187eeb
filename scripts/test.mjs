#!/usr/bin/env node
// `npm test`: everything CI checks, in order — types, lint, build, unit and integration tests (vitest, against
// real sshd hosts in network namespaces; two lanes side by side, see scripts/test-lanes.mjs), and the browser
// journeys (Playwright in Debian's Chromium) — then one closing line with the counts. Stops at the first failing stage.
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { OLD_XAPI } from './test-lanes.mjs'
import { counts, print } from './test-report.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const vitestJson = path.join(root, '.vitest-results.json')
const vitestLocalJson = path.join(root, '.vitest-results-local.json')
const vitestOldXapiJson = path.join(root, `.vitest-results-${OLD_XAPI.project}.json`)
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
 * streamed; beside them everything else, two at a time, its output kept in a file and printed when it ends. The
 * second lane then runs the XenServer adapter tests once more against a pool playing an older XAPI (project
 * xapi-1.249): a run of its own, because vitest's JSON report does not say which project a test ran in, and the
 * closing report must tell the two passes apart.
 */
async function lanes() {
  const vitest = (project, json, stdio, extra = []) =>
    exec(bin('vitest'), ['run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile=${json}`, ...extra], stdio)
  const log = openSync(vitestLocalLog, 'w')
  // The local lane's files wait more than they compute (simulated pools answering after their delays, pwsh sessions,
  // job polling): two at once took it from 1,212 s to about 810 s on the 2-core machine. Each keeps to its own temp
  // folders, ports and namespaces, so they do not meet.
  const other = async () => {
    const local = await vitest('local', vitestLocalJson, ['ignore', log, log], ['--maxWorkers=2'])
    const old = await vitest(OLD_XAPI.project, vitestOldXapiJson, ['ignore', log, log], ['--maxWorkers=2'])
    return local !== 0 ? local : old
  }
  const [h, l] = await Promise.all([vitest('hosts', vitestJson, 'inherit'), other()])
  closeSync(log)
  console.log(`\n── the other lane (tests without real hosts, then the XenServer tests against XAPI ${OLD_XAPI.version}) ──\n${await readFile(vitestLocalLog, 'utf8')}`)
  console.log(`hosts lane: exit ${h}; other lane: exit ${l}`)
  return h !== 0 ? h : l
}

/**
 * The type checks and lint side by side (each is one single-threaded process): their output is kept and printed
 * in order when all have ended, with each one's verdict.
 */
async function checks() {
  const one = (name, command, args) =>
    new Promise((resolve) => {
      const started = Date.now()
      const child = spawn(command, args, { cwd: root, env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } })
      let output = ''
      child.stdout.on('data', (d) => (output += d))
      child.stderr.on('data', (d) => (output += d))
      child.on('close', (code) => resolve({ name, code: code ?? 1, output, seconds: (Date.now() - started) / 1000 }))
    })
  const results = await Promise.all([
    one('types', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']),
    one('types (renderer)', bin('tsc'), ['-p', 'renderer/tsconfig.json', '--noEmit']),
    one('lint', bin('eslint'), ['--max-warnings', '0', '.']),
  ])
  for (const r of results) {
    if (r.output.trim() !== '') console.log(r.output.trimEnd())
    console.log(`  ${r.name}: ${r.code === 0 ? 'ok' : `failed (exit ${r.code})`} in ${r.seconds.toFixed(1)} s`)
  }
  return results.find((r) => r.code !== 0)?.code ?? 0
}

const stages = [
  ['types and lint', checks],
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
await rm(vitestOldXapiJson, { force: true })
await rm(playwrightJson, { force: true })
let exitCode = 0
for (const [name, stage] of stages) {
  const code = await run(name, stage)
  if (code !== 0) {
    exitCode = code
    break
  }
}
const report = await counts({ root, vitest: [vitestJson, vitestLocalJson, { file: vitestOldXapiJson, project: OLD_XAPI.project }], playwright: playwrightJson })
print(report)
const { failed } = report
process.exit(exitCode !== 0 ? exitCode : failed > 0 ? 1 : 0)
