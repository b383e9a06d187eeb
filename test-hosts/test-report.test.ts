import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { counts } from '../scripts/test-report.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** A vitest JSON report (the fields test-report.mjs reads) of one file in which one test passed and one failed. */
function report(file: string, failure: string): string {
  const assertion = (title: string, status: string, failureMessages: string[]) => ({ ancestorTitles: ['pool'], fullName: `pool ${title}`, status, title, failureMessages })
  return JSON.stringify({
    numPassedTests: 1,
    numFailedTests: 1,
    numPendingTests: 0,
    numTodoTests: 0,
    testResults: [{ name: path.join(root, file), status: 'failed', message: '', assertionResults: [assertion('backs up', 'passed', []), assertion('restores', 'failed', [failure])] }],
  })
}

describe('the closing report of npm test', () => {
  let dir: string
  let local: string
  let old: string

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-test-report-'))
    local = path.join(dir, 'local.json')
    old = path.join(dir, 'old.json')
    // The same file in two projects (local, and again against an older XAPI): only the project tells them apart.
    await writeFile(local, report('adapters/xenserver/xenserver-restore.test.ts', 'newest pool broke'))
    await writeFile(old, report('adapters/xenserver/xenserver-restore.test.ts', 'old pool broke'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('counts every report and names a failure with the project its report was given', async () => {
    const r = await counts({ root, vitest: [local, { file: old, project: 'xapi-1.249' }], playwright: path.join(dir, 'none.json') })
    expect([r.passed, r.failed, r.skipped]).toEqual([2, 2, 0])
    expect(r.failures).toEqual([
      { where: 'adapters/xenserver/xenserver-restore.test.ts › pool restores', message: 'newest pool broke' },
      { where: '[xapi-1.249] adapters/xenserver/xenserver-restore.test.ts › pool restores', message: 'old pool broke' },
    ])
  })

  it('takes PROJECT=FILE on its command line', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'scripts/test-report.mjs'), local, `xapi-1.249=${old}`], { cwd: root })
    expect(stdout).toContain('  ✗ adapters/xenserver/xenserver-restore.test.ts › pool restores\n      newest pool broke')
    expect(stdout).toContain('  ✗ [xapi-1.249] adapters/xenserver/xenserver-restore.test.ts › pool restores\n      old pool broke')
    expect(stdout).toContain('2 passed (0 of them on a retry), 2 failed, 0 skipped')
  })
})
