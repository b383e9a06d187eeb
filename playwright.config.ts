import { defineConfig } from '@playwright/test'
import { electronAvailable } from './e2e/support/electron'
import type { Door } from './e2e/support/fixtures'

const chromiumArgs = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/**
 * Journeys run in browser mode (the same renderer, engine and contract over the local WebSocket bridge) in
 * Debian's Chromium. The Electron project runs the same specs when an Electron binary is installed.
 */
export default defineConfig<object, { lifeboatDoor: Door }>({
  testDir: 'e2e',
  globalSetup: './e2e/support/global-setup.ts',
  testMatch: '**/*.spec.ts',
  outputDir: 'e2e/output/test-results',
  timeout: 120_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [['list'], ['json', { outputFile: 'e2e/output/results.json' }]],
  use: {
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: process.env.LIFEBOAT_CHROMIUM ?? '/usr/bin/chromium', args: chromiumArgs },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'browser', use: { browserName: 'chromium' } },
    ...(electronAvailable() ? [{ name: 'electron', use: { lifeboatDoor: 'electron' as const } }] : []),
  ],
})
