import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@tallyhouse/source'] },
  ssr: { resolve: { conditions: ['@tallyhouse/source'] } },
  test: {
    include: ['e2e/**/*.test.ts'],
    // chDB binds one data directory per process: every test file gets its own process.
    pool: 'forks',
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
