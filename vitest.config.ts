import { configDefaults, defineConfig } from 'vitest/config'
import { BALANCE_TO_HOSTS, HOST_LANE, OLD_XAPI } from './scripts/test-lanes.mjs'

const ALL = ['{adapters,engine,electron,renderer,test-hosts,e2e/torture,scripts}/**/*.test.{ts,tsx}']

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // `vitest run` runs all three one file at a time; `npm test` runs the hosts project beside the other two (scripts/test.mjs).
    projects: [
      // Real sshd, libvirt and QEMU on a loaded two-core machine: a test of this lane gets one more try, and npm test
      // names every test that needed it (scripts/test-report.mjs), so flakiness shows instead of hiding.
      { extends: true, test: { name: 'hosts', include: [...HOST_LANE, ...BALANCE_TO_HOSTS], retry: 1 } },
      { extends: true, test: { name: 'local', include: ALL, exclude: [...configDefaults.exclude, ...HOST_LANE, ...BALANCE_TO_HOSTS] } },
      // The XenServer adapter tests once more against a pool playing XAPI 1.249 (XCP-ng 8.2 LTS); npm test runs it in
      // the local lane. Its tests are named with the project, as in `vitest run --project xapi-1.249`.
      { extends: true, test: { name: OLD_XAPI.project, include: [...OLD_XAPI.files], env: { LIFEBOAT_XAPI_VERSION: OLD_XAPI.version } } },
    ],
  },
})
