import { workspaceVitestConfig } from '../../vitest.shared.ts';

/**
 * The usage API suites run twice: on the embedded engine, and (project `http-store`) with the collector writing to
 * and reading from a ClickHouse server over HTTP — `/v1/usage` answers the same on both.
 */
const STORAGE_SUITES = ['test/usage-api.test.ts', 'test/usage-bounds.test.ts'];

export default workspaceVitestConfig({
  // Each project names its own files (a root include would be added to both).
  include: [],
  projects: [
    { extends: true, test: { name: 'embedded', include: ['test/**/*.test.ts'] } },
    {
      extends: true,
      test: {
        name: 'http-store',
        include: STORAGE_SUITES,
        env: { TALLYHOUSE_TEST_STORE: 'http' },
        setupFiles: ['../../tools/clickhouse-http-endpoint/src/http-store-setup.ts'],
      },
    },
  ],
});
