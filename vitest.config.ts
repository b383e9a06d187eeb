import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['{adapters,engine,electron,renderer,e2e/hosts,scripts}/**/*.test.{ts,tsx}'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})
