import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@tallyhouse/source'] },
  ssr: { resolve: { conditions: ['@tallyhouse/source'] } },
  test: {
    include: ['e2e/**/*.test.ts', 'chaos/**/*.test.ts'],
    // chDB binds one data directory per process: every test file gets its own process.
    pool: 'forks',
    // The chaos suites time kills, outages and restarts of child processes: one file at a time on 2 cores.
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 60_000,
  },
});
