/**
 * Setup of the `http-store` vitest project: every storage suite of a test file runs against a ClickHouse server
 * over HTTP — the real engine behind the test endpoint, in its own process, fresh for the file — instead of the
 * embedded engine. `storeEnv()` in `support.ts` hands its URL and user to the exporters and readers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndpointProcess } from '@tallyhouse/clickhouse-http-endpoint';
import { afterAll } from 'vitest';

const USER = 'tallyhouse';
const PASSWORD = 'http-store';
const endpoint = await EndpointProcess.start({
  dataDir: mkdtempSync(join(tmpdir(), 'tallyhouse-http-store-')),
  user: USER,
  password: PASSWORD,
});
process.env.TALLYHOUSE_TEST_CLICKHOUSE_URL = endpoint.url;
process.env.TALLYHOUSE_TEST_CLICKHOUSE_USER = USER;
process.env.TALLYHOUSE_TEST_CLICKHOUSE_PASSWORD = PASSWORD;

afterAll(() => endpoint.stop());
