/**
 * The one vitest setup every workspace uses: TypeScript sources run through the `@tallyhouse/source` export
 * condition (no build step), and every test file in its own forked process, because the embedded ClickHouse
 * engine (chDB) binds one data directory per process.
 */
import { defineConfig, type TestUserConfig } from 'vitest/config';

const SOURCE_CONDITION = '@tallyhouse/source';

export function workspaceVitestConfig(test: TestUserConfig = {}) {
  return defineConfig({
    resolve: { conditions: [SOURCE_CONDITION] },
    ssr: { resolve: { conditions: [SOURCE_CONDITION] } },
    test: {
      include: ['test/**/*.test.ts'],
      pool: 'forks',
      testTimeout: 30_000,
      ...test,
    },
  });
}
