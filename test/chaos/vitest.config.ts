import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The root test workspace's config only includes e2e/**; the chaos suite runs with this one:
//   cd test && npx vitest run --config chaos/vitest.config.ts
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: { conditions: ['@tallyhouse/source'] },
  ssr: { resolve: { conditions: ['@tallyhouse/source'] } },
  test: {
    include: ['chaos/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 240_000,
    hookTimeout: 60_000,
  },
});
