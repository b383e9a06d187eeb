import { test as base, _electron as electron, type Page } from '@playwright/test'
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startSshHost, type SshTestHost } from '../../test-hosts/ssh-host'
import { runCli, startBridge, stopProcess, type CliResult } from './cli'
import { electronBinary } from './electron'

export type Door = 'browser' | 'electron'

export interface LifeboatApp {
  readonly page: Page
  readonly home: string
  /** Runs the `lifeboat` CLI on the same data folder. */
  cli(args: readonly string[], stdin?: string): Promise<CliResult>
  /** Saves a screenshot under e2e/output/screenshots/ for review. */
  shot(name: string): Promise<void>
}

const root = path.resolve(import.meta.dirname, '../..')
export const screenshotDir = path.join(root, 'e2e/output/screenshots')

export const test = base.extend<{ lifeboat: LifeboatApp }, { lifeboatDoor: Door; sshHost: SshTestHost }>({
  lifeboatDoor: ['browser', { option: true, scope: 'worker' }],
  sshHost: [
    // eslint-disable-next-line no-empty-pattern -- Playwright fixtures take their dependencies by destructuring
    async ({}, use) => {
      const host = await startSshHost({ hostname: 'lb-e2e-host' })
      await use(host)
      await host.stop()
    },
    { scope: 'worker' },
  ],
  lifeboat: async ({ page, lifeboatDoor }, use, testInfo) => {
    const home = await mkdtemp(path.join(tmpdir(), 'lb-e2e-home-'))
    await mkdir(screenshotDir, { recursive: true })
    const make = (p: Page): LifeboatApp => ({
      page: p,
      home,
      cli: (args, stdin) => runCli(home, args, stdin),
      shot: async (name) => {
        await p.screenshot({ path: path.join(screenshotDir, `${lifeboatDoor}-${name}.png`) })
      },
    })
    if (lifeboatDoor === 'electron') {
      const executablePath = electronBinary()
      if (executablePath === undefined) throw new Error('The electron project needs an Electron binary.')
      const app = await electron.launch({ executablePath, args: [root], env: { ...process.env, LIFEBOAT_HOME: home } })
      const window = await app.firstWindow()
      await window.setViewportSize({ width: 1280, height: 800 })
      await use(make(window))
      await app.close()
    } else {
      const { url, child } = await startBridge(home)
      await page.goto(url)
      await use(make(page))
      await stopProcess(child)
    }
    // A failed journey keeps what the app wrote of its jobs (logs and records, not the repository) beside its trace.
    if (testInfo.status !== testInfo.expectedStatus) {
      for (const part of ['jobs', 'logs']) await cp(path.join(home, part), testInfo.outputPath(`lifeboat-home/${part}`), { recursive: true }).catch(() => undefined)
    }
    await rm(home, { recursive: true, force: true })
  },
})

export { expect } from '@playwright/test'
