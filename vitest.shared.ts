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

/**
 * Projects of a workspace whose storage suites run on both stores: `embedded` runs every test file on the embedded
 * engine; `http-store` runs `storageSuites` again against a ClickHouse server over HTTP, one per test file (the real
 * engine behind the test endpoint, started by its `http-store-setup.ts`).
 */
export function bothStoresConfig(storageSuites: readonly string[]) {
  return workspaceVitestConfig({
    // Each project names its own files (a root include would be added to both).
    include: [],
    projects: [
      { extends: true, test: { name: 'embedded', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'http-store',
          include: [...storageSuites],
          env: { TALLYHOUSE_TEST_STORE: 'http' },
          setupFiles: ['../../tools/clickhouse-http-endpoint/src/http-store-setup.ts'],
        },
      },
    ],
  });
}
