import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@tallyhouse/source'] },
  ssr: { resolve: { conditions: ['@tallyhouse/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Storage tests need one chDB data directory per process.
    pool: 'forks',
    testTimeout: 30_000,
  },
});
