// The closing lines of `npm test` (scripts/test.mjs): counts from the vitest and Playwright JSON reports, and every
// failed test by name with the first lines of its error, so that the tail of a CI log says what broke.
// `node scripts/test-report.mjs [--playwright=RESULTS.json] [PROJECT=]VITEST.json…` prints the same for reports written by
// hand-run lanes; a report given as PROJECT=FILE has its tests named with the project (vitest's JSON report has no
// project, and the xapi-1.249 project runs files the local one runs too).
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

/** The first lines of a failure message, without colour codes: enough to tell which assertion failed and where. */
export function head(message, lines = 12) {
  // eslint-disable-next-line no-control-regex
  return String(message ?? '').replace(/\u001b\[[0-9;]*m/g, '').split('\n').slice(0, lines).map((l) => `      ${l}`).join('\n')
}

/** Playwright's report nests suites; collects every test that ended unexpectedly with its first error. */
function playwrightFailures(suite, file, out) {
  for (const spec of suite.specs ?? []) {
    for (const test of spec.tests ?? []) {
      if (test.status !== 'unexpected') continue
      const error = (test.results ?? []).flatMap((r) => r.errors ?? (r.error ? [r.error] : []))[0]
      out.push({ where: `${spec.file ?? file} › ${spec.title}`, message: error?.message ?? error?.stack ?? '' })
    }
  }
  for (const child of suite.suites ?? []) playwrightFailures(child, suite.file ?? file, out)
}

/**
 * Counts from every report written, and the failed tests by name: the last lines CI keeps show what broke. A vitest
 * report is a path, or { file, project } when its tests are to be named with their project ('[xapi-1.249] path › test').
 */
export async function counts({ root, vitest, playwright }) {
  let passed = 0
  let failed = 0
  let skipped = 0
  const failures = []
  const flaky = []
  for (const entry of vitest) {
    const { file, project } = typeof entry === 'string' ? { file: entry, project: undefined } : entry
    try {
      const v = JSON.parse(await readFile(file, 'utf8'))
      passed += v.numPassedTests ?? 0
      failed += v.numFailedTests ?? 0
      skipped += (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0)
      for (const result of v.testResults ?? []) {
        const where = `${project !== undefined ? `[${project}] ` : ''}${path.relative(root, result.name ?? '')}`
        const failedTests = (result.assertionResults ?? []).filter((a) => a.status === 'failed')
        // A test that passed with a failure message on record passed only on a retry (the hosts lane allows one).
        for (const a of result.assertionResults ?? []) if (a.status === 'passed' && (a.failureMessages ?? []).length > 0) flaky.push({ where: `${where} › ${a.fullName ?? a.title}`, message: a.failureMessages[0] })
        for (const a of failedTests) failures.push({ where: `${where} › ${a.fullName ?? a.title}`, message: (a.failureMessages ?? [])[0] })
        // A file that failed to load or whose hooks failed has no failed test but a message of its own.
        if (failedTests.length === 0 && result.status === 'failed') failures.push({ where, message: result.message })
      }
    } catch {
      // stage did not run
    }
  }
  try {
    const p = JSON.parse(await readFile(playwright, 'utf8'))
    passed += (p.stats?.expected ?? 0) + (p.stats?.flaky ?? 0)
    failed += p.stats?.unexpected ?? 0
    skipped += p.stats?.skipped ?? 0
    for (const suite of p.suites ?? []) playwrightFailures(suite, suite.file, failures)
  } catch {
    // stage did not run
  }
  return { passed, failed, skipped, failures, flaky }
}

/** Prints the failures and the counts line. */
export function print({ passed, failed, skipped, failures, flaky }) {
  if (flaky.length > 0) {
    console.log(`\n── passed only on the second try (${flaky.length}) ──`)
    for (const f of flaky) console.log(`  ~ ${f.where}\n${head(f.message, 6)}`)
  }
  if (failures.length > 0) {
    console.log(`\n── what failed (${failures.length}) ──`)
    for (const f of failures) console.log(`  ✗ ${f.where}\n${head(f.message)}`)
  }
  console.log(`\n${passed} passed (${flaky.length} of them on a retry), ${failed} failed, ${skipped} skipped`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2)
  const playwright = args.find((a) => a.startsWith('--playwright='))?.slice('--playwright='.length) ?? ''
  const vitest = args.filter((a) => !a.startsWith('--')).map((a) => (/^[\w.-]+=/.test(a) ? { project: a.slice(0, a.indexOf('=')), file: a.slice(a.indexOf('=') + 1) } : a))
  print(await counts({ root: process.cwd(), vitest, playwright }))
}
