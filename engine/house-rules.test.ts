import { ESLint } from 'eslint'
import { beforeAll, describe, expect, it } from 'vitest'

// The import rules of ARCHITECTURE.md, shown firing: the project's own eslint.config.js lints a few import lines as if
// they stood in a file of each layer (the path must be a file the TypeScript project knows; only its text is replaced).
// An import marked `allowed` must pass, every other must be refused with the rule's own message.

interface Case {
  readonly spec: string
  /** A word of the message expected, or 'allowed'. */
  readonly expect: string
}

const testCode = 'Product code never imports test code'
const handlers = 'Only the doors'
const doors = 'The doors (cli/, server/, engine.ts) are the top'
const features = 'Features (jobs, scheduler, browse, inventory, repository-access, notify) sit above'
const errorsLayer = 'errors/ maps failures'
const storage = 'common/ is the bottom'

const files: Record<string, readonly Case[]> = {
  // storage and formats: nothing above them
  'engine/repository/repository.ts': [
    { spec: '../jobs/job-runner', expect: features },
    { spec: '../repository-access/repositories', expect: features },
    { spec: '../errors/to-api-error', expect: errorsLayer },
    { spec: '../api/handlers', expect: handlers },
    { spec: '../cli/main', expect: doors },
    { spec: '../engine', expect: doors },
    { spec: '../disks/block-source', expect: 'allowed' },
    { spec: '../common/progress', expect: 'allowed' },
    { spec: '../api/contract-errors', expect: 'allowed' },
    { spec: './testing/fixtures', expect: testCode },
  ],
  'engine/disks/block-source.ts': [{ spec: '../browse/browse-service', expect: features }],
  'engine/state/notify-settings.ts': [{ spec: '../notify/notifier', expect: features }],
  // common: the bottom, only the contract below it
  'engine/common/progress.ts': [
    { spec: '../repository/errors', expect: storage },
    { spec: '../state/paths', expect: storage },
    { spec: '../errors/to-api-error', expect: errorsLayer },
    { spec: '../api/contract', expect: 'allowed' },
  ],
  // errors: above storage, below the features
  'engine/errors/to-api-error.ts': [
    { spec: '../scheduler/cron', expect: features },
    { spec: '../repository/errors', expect: 'allowed' },
  ],
  // features: never the handlers or the doors, other features and everything lower are fine
  'engine/jobs/job-runner.ts': [
    { spec: '../api/handlers', expect: handlers },
    { spec: '../api/dispatch', expect: handlers },
    { spec: '../api/handler-types', expect: handlers },
    { spec: '../engine', expect: doors },
    { spec: '../cli/cli-call', expect: doors },
    { spec: '../server/bridge-server', expect: doors },
    { spec: '../inventory/host-access', expect: 'allowed' },
    { spec: '../errors/to-api-error', expect: 'allowed' },
    { spec: '../api/contract-jobs', expect: 'allowed' },
    { spec: '../../test-hosts/ssh-host', expect: testCode },
    { spec: '../../e2e/support/cli', expect: testCode },
    { spec: '../../bench/bench-image', expect: testCode },
    { spec: './testing/point-bytes', expect: testCode },
    { spec: './job-runner.test', expect: testCode },
  ],
  'engine/scheduler/scheduler.ts': [{ spec: '../api/handlers-backup', expect: handlers }],
  'engine/notify/notifier.ts': [
    { spec: '../api/handlers-notify', expect: handlers },
    { spec: '../cli/cli-call', expect: doors },
    { spec: '../state/secret-store', expect: 'allowed' },
  ],
  // the top uses everything
  'engine/api/handlers.ts': [
    { spec: '../jobs/job-runner', expect: 'allowed' },
    { spec: '../scheduler/scheduler', expect: 'allowed' },
    { spec: '../../test-hosts/run', expect: testCode },
  ],
  // tests and testing/ helpers may drive the engine through its doors and start test peers
  'engine/jobs/job-runner.test.ts': [
    { spec: '../engine', expect: 'allowed' },
    { spec: '../api/dispatch', expect: 'allowed' },
    { spec: '../../test-hosts/ssh-host', expect: 'allowed' },
  ],
  'engine/jobs/testing/point-bytes.ts': [{ spec: '../../cli/cli-call', expect: 'allowed' }],
  // the other product folders: no test code either, and their own boundaries still hold
  'adapters/host-adapter.ts': [
    { spec: '../test-hosts/run', expect: testCode },
    { spec: './ssh/testing/file-host', expect: testCode },
    { spec: '../engine/disks/block-source', expect: 'adapters/ never import engine/' },
  ],
  'adapters/ssh/testing/file-host.ts': [{ spec: '../../../test-hosts/ssh-host', expect: 'allowed' }],
  'electron/hardening.ts': [
    { spec: '../test-hosts/run', expect: testCode },
    { spec: '../renderer/api/queries', expect: 'never imports its code' },
  ],
  'renderer/api/queries.ts': [
    { spec: '../../test-hosts/run', expect: testCode },
    { spec: '../../engine/jobs/job-runner', expect: 'only the environment-neutral contract' },
    { spec: '../../engine/api/contract', expect: 'allowed' },
  ],
}

describe('the import rules of the house', () => {
  const eslint = new ESLint({ overrideConfigFile: 'eslint.config.js' })
  const found = new Map<string, string[][]>()

  beforeAll(async () => {
    for (const [file, cases] of Object.entries(files)) {
      const [result] = await eslint.lintText(`${cases.map((c) => `import '${c.spec}'`).join('\n')}\n`, { filePath: file })
      expect(result?.fatalErrorCount, `${file} did not parse`).toBe(0)
      const perLine = cases.map(() => [] as string[])
      for (const m of result?.messages ?? []) if (m.ruleId === 'no-restricted-imports') perLine[m.line - 1]?.push(m.message)
      found.set(file, perLine)
    }
  }, 240_000)

  for (const [file, cases] of Object.entries(files)) {
    it(`in ${file}`, () => {
      const perLine = found.get(file) ?? []
      cases.forEach((c, i) => {
        const messages = perLine[i] ?? []
        if (c.expect === 'allowed') expect(messages, `${c.spec} should be allowed`).toEqual([])
        else expect(messages.join(' | '), `${c.spec} should be refused`).toContain(c.expect)
      })
    })
  }
})
