/**
 * A vitest setup file for the `http-store` projects of the workspaces (`setupFiles`): every storage suite of a
 * test file runs against a ClickHouse server over HTTP — the real engine behind this endpoint, in its own process,
 * fresh for the file — instead of the embedded engine. It publishes the server as TALLYHOUSE_TEST_CLICKHOUSE_URL,
 * _USER and _PASSWORD; each workspace's test support hands them to its exporters, readers and collectors.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { EndpointProcess } from './endpoint-process.ts';

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

// Killed, not stopped: the file's store is thrown away, and a graceful close waits for a query the engine cannot
// interrupt (a read a test let time out keeps running there) — past the hook's timeout.
afterAll(() => endpoint.kill());
