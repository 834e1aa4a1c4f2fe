/**
 * The test store a workspace's storage suites write to, as `CLICKHOUSE_*` settings: none (the embedded engine, the
 * default), or in an `http-store` vitest project (TALLYHOUSE_TEST_STORE=http) the server `http-store-setup.ts`
 * started for the test file.
 */
export function testStoreEnv(): Record<string, string> {
  if (process.env.TALLYHOUSE_TEST_STORE !== 'http') return {};
  const url = process.env.TALLYHOUSE_TEST_CLICKHOUSE_URL;
  if (url === undefined) throw new Error('the http-store project starts the endpoint (http-store-setup.ts)');
  return {
    CLICKHOUSE_URL: url,
    CLICKHOUSE_USER: process.env.TALLYHOUSE_TEST_CLICKHOUSE_USER ?? 'default',
    CLICKHOUSE_PASSWORD: process.env.TALLYHOUSE_TEST_CLICKHOUSE_PASSWORD ?? '',
  };
}
