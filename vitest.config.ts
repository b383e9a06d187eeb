import { configDefaults, defineConfig } from 'vitest/config'
import { HOST_LANE } from './scripts/test-lanes.mjs'

const ALL = ['{adapters,engine,electron,renderer,e2e/hosts,scripts}/**/*.test.{ts,tsx}']

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // `vitest run` runs both one file at a time; `npm test` runs the two projects side by side (scripts/test.mjs).
    projects: [
      { extends: true, test: { name: 'hosts', include: [...HOST_LANE] } },
      { extends: true, test: { name: 'local', include: ALL, exclude: [...configDefaults.exclude, ...HOST_LANE] } },
    ],
  },
})
