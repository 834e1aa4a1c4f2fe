#!/usr/bin/env node
/**
 * The endpoint as its own process (tests start it through `startEndpointProcess`):
 *
 *   node src/bin.ts --data-dir <dir> [--port <n>]
 *
 * Credentials come from CLICKHOUSE_ENDPOINT_USER / CLICKHOUSE_ENDPOINT_PASSWORD (default `default`, empty), so a
 * password never shows in a process list. Prints one JSON line `{"listening":<port>}` once it accepts requests;
 * SIGTERM or SIGINT closes it (exit 0). Listens on 127.0.0.1 only.
 */
import { parseArgs } from 'node:util';
import { ClickHouseHttpEndpoint } from './endpoint.ts';
import { Engine } from './engine.ts';

function fail(message: string): never {
  process.stderr.write(`clickhouse-http-endpoint: ${message}\n`);
  process.exit(2);
}

let values: { 'data-dir'?: string; port?: string };
try {
  ({ values } = parseArgs({ options: { 'data-dir': { type: 'string' }, port: { type: 'string' } } }));
} catch (error) {
  fail((error as Error).message);
}
const dataDir = values['data-dir'] ?? fail('--data-dir <dir> is required');
const port = Number(values.port ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`--port must be 0..65535, got ${values.port}`);
const user = process.env.CLICKHOUSE_ENDPOINT_USER ?? 'default';
if (user === '') fail('CLICKHOUSE_ENDPOINT_USER must not be empty');

const engine = new Engine(dataDir);
const endpoint = new ClickHouseHttpEndpoint({
  engine,
  credentials: { user, password: process.env.CLICKHOUSE_ENDPOINT_PASSWORD ?? '' },
});
const listening = await endpoint
  .listen(port)
  .catch((error: Error) => fail(`cannot listen on ${port}: ${error.message}`));
process.stdout.write(`${JSON.stringify({ listening })}\n`);

let closing = false;
const close = () => {
  if (closing) return;
  closing = true;
  void endpoint.close().then(() => {
    engine.close();
    process.exit(0);
  });
};
process.once('SIGTERM', close);
process.once('SIGINT', close);
