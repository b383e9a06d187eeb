import { configDefaults, defineConfig } from 'vitest/config'
import { BALANCE_TO_HOSTS, HOST_LANE } from './scripts/test-lanes.mjs'

const ALL = ['{adapters,engine,electron,renderer,test-hosts,e2e/torture,scripts}/**/*.test.{ts,tsx}']

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // `vitest run` runs both one file at a time; `npm test` runs the two projects side by side (scripts/test.mjs).
    projects: [
      // Real sshd, libvirt and QEMU on a loaded two-core machine: a test of this lane gets one more try, and npm test
      // names every test that needed it (scripts/test-report.mjs), so flakiness shows instead of hiding.
      { extends: true, test: { name: 'hosts', include: [...HOST_LANE, ...BALANCE_TO_HOSTS], retry: 1 } },
      { extends: true, test: { name: 'local', include: ALL, exclude: [...configDefaults.exclude, ...HOST_LANE, ...BALANCE_TO_HOSTS] } },
    ],
  },
})
