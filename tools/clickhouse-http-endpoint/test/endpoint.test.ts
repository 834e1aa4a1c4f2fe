/**
 * The endpoint in its own process, driven by the stock `@clickhouse/client` (as the exporter drives a server) and
 * by plain `fetch` where the wire itself is the point: statuses, headers, bodies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type ClickHouseClient, ClickHouseError, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointProcess } from '../src/endpoint-process.ts';

const USER = 'tallyhouse';
/** The client logs every failed request; these tests fail requests on purpose. */
const QUIET = { level: ClickHouseLogLevel.OFF };
const PASSWORD = "p@ss:w'rd";
const dir = mkdtempSync(join(tmpdir(), 'clickhouse-http-endpoint-'));
let endpoint: EndpointProcess;
let client: ClickHouseClient;

const connect = (options: Parameters<typeof createClient>[0] = {}) =>
  createClient({ url: endpoint.url, username: USER, password: PASSWORD, log: QUIET, ...options });

beforeAll(async () => {
  endpoint = await EndpointProcess.start({ dataDir: join(dir, 'chdb'), user: USER, password: PASSWORD });
  client = connect();
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS app' });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS app.usage (tenant String, value UInt64) ENGINE = MergeTree ORDER BY tenant
            SETTINGS non_replicated_deduplication_window = 100`,
  });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await endpoint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const rowsOf = async <T>(query: string, query_params?: Record<string, unknown>) =>
  (await client.query({ query, query_params, format: 'JSONEachRow' })).json<T>();

describe('statements as @clickhouse/client sends them', () => {
  it('binds query parameters by their type, strings exactly as sent', async () => {
    const tricky = "it's a \\ back\tslash\nand 'quotes' — ünïcode";
    const rows = await rowsOf<{ s: string; a: string[]; n: string; t: string }>(
      'SELECT {s:String} AS s, {a:Array(String)} AS a, toString({n:UInt64}) AS n, toString({t:DateTime64(9)}) AS t',
      { s: tricky, a: [tricky, 'b'], n: 2n ** 60n, t: '2026-12-05 01:02:03.123456789' },
    );
    expect(rows).toEqual([
      { s: tricky, a: [tricky, 'b'], n: String(2n ** 60n), t: '2026-12-05 01:02:03.123456789' },
    ]);
  });

  it('runs inserts in the database the client names, and a retried insert with its token adds nothing', async () => {
    const scoped = connect({ database: 'app' });
    try {
      const insert = () =>
        scoped.insert({
          table: 'usage',
          values: [
            { tenant: 'acme', value: 5 },
            { tenant: '0', value: 7 },
          ],
          format: 'JSONEachRow',
          clickhouse_settings: { insert_deduplication_token: 'batch-1' },
        });
      await insert();
      await insert();
      const rows = await rowsOf<{ tenant: string; total: string }>(
        'SELECT tenant, toString(sum(value)) AS total FROM app.usage GROUP BY tenant ORDER BY tenant',
      );
      expect(rows).toEqual([
        { tenant: '0', total: '7' },
        { tenant: 'acme', total: '5' },
      ]);
    } finally {
      await scoped.close();
    }
  });

  it('keeps a setting to its own query: the next query sees the default again', async () => {
    const read = async (settings = {}) =>
      (
        await (
          await client.query({
            query:
              "SELECT getSetting('max_threads') AS threads, getSetting('insert_deduplication_token') AS token",
            format: 'JSONEachRow',
            clickhouse_settings: settings,
          })
        ).json<{ threads: number; token: string }>()
      )[0];
    const defaults = await read();
    expect(await read({ max_threads: 1, insert_deduplication_token: 'x' })).toEqual({
      threads: 1,
      token: 'x',
    });
    expect(await read()).toEqual(defaults);
  });

  it('takes gzip request bodies and answers gzip when the client asks', async () => {
    const compressed = connect({ compression: { request: true, response: true } });
    try {
      await compressed.insert({
        table: 'app.usage',
        values: Array.from({ length: 1000 }, (_, i) => ({ tenant: 'gzip', value: i })),
        format: 'JSONEachRow',
      });
      const rows = await (
        await compressed.query({
          query: "SELECT toString(sum(value)) AS total FROM app.usage WHERE tenant = 'gzip'",
          format: 'JSONEachRow',
        })
      ).json<{ total: string }>();
      expect(rows).toEqual([{ total: String((999 * 1000) / 2) }]);
    } finally {
      await compressed.close();
    }
    const response = await fetch(`${endpoint.url}/?enable_http_compression=1`, {
      method: 'POST',
      headers: { 'accept-encoding': 'gzip', 'content-encoding': 'gzip', ...basic() },
      body: gzipSync('SELECT 42'),
    });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(await response.text()).toBe('42\n'); // fetch decodes it
    expect(gunzipSync(gzipSync('x')).toString()).toBe('x');
  });

  it('answers with the headers the client reads', async () => {
    const response = await fetch(`${endpoint.url}/?query_id=q-1&default_format=JSONEachRow`, {
      method: 'POST',
      headers: basic(),
      body: 'SELECT 1 AS one',
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"one":1}\n');
    expect(response.headers.get('x-clickhouse-query-id')).toBe('q-1');
    expect(response.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    expect(JSON.parse(response.headers.get('x-clickhouse-summary') ?? '')).toHaveProperty('read_rows');
  });
});

describe('errors as a server sends them', () => {
  it('wrong credentials: 403 with 516 AUTHENTICATION_FAILED', async () => {
    const stranger = createClient({ url: endpoint.url, username: USER, password: 'wrong', log: QUIET });
    try {
      const error = await stranger.query({ query: 'SELECT 1' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ClickHouseError);
      expect(error).toMatchObject({ code: '516', type: 'AUTHENTICATION_FAILED' });
    } finally {
      await stranger.close();
    }
    const response = await fetch(`${endpoint.url}/?query=SELECT%201`);
    expect(response.status).toBe(403);
    expect(response.headers.get('x-clickhouse-exception-code')).toBe('516');
  });

  it("the engine's errors keep their code, name and status", async () => {
    const error = await client.query({ query: 'SELECT * FROM app.nope' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });
    const response = await post('SELECT * FROM app.nope');
    expect(response).toMatchObject({ status: 404, code: '60' });
    expect(response.body).toMatch(/^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\)\n$/s);
    expect((await post('SELEC 1')).status).toBe(400);
    expect(await post('SELECT 1', 'no_such_setting=1')).toMatchObject({ status: 404, code: '115' });
  });

  it('refuses what it does not implement, naming it', async () => {
    expect(await post('SELECT 1', 'session_id=abc')).toMatchObject({ status: 501, code: '48' });
    expect((await post('SELECT 1', 'session_id=abc')).body).toMatch(
      /HTTP sessions \(URL parameter session_id\)/,
    );
    expect(await post('SELECT 1; SELECT 2')).toMatchObject({ status: 400, code: '62' });
    expect(await post('SELECT {missing:String}')).toMatchObject({ code: '456' });
    const get = await fetch(
      `${endpoint.url}/?query=${encodeURIComponent('INSERT INTO app.usage VALUES (1, 1)')}`,
      {
        headers: basic(),
      },
    );
    expect(get.headers.get('x-clickhouse-exception-code')).toBe('164');
    const brotli = await fetch(`${endpoint.url}/`, {
      method: 'POST',
      headers: { 'content-encoding': 'br', ...basic() },
      body: 'SELECT 1',
    });
    expect(brotli.headers.get('x-clickhouse-exception-code')).toBe('273');
  });
});

describe('faults and a dying storage process', () => {
  it('answers injected server errors to inserts only, then recovers', async () => {
    await endpoint.setFault({
      fault: { mode: 'error', code: 252, type: 'TOO_MANY_PARTS', message: 'Too many parts' },
      count: 1,
      statements: 'insert',
    });
    expect(await rowsOf('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const error = await client
      .insert({ table: 'app.usage', values: [{ tenant: 'fault', value: 1 }], format: 'JSONEachRow' })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: '252', type: 'TOO_MANY_PARTS' });
    await client.insert({
      table: 'app.usage',
      values: [{ tenant: 'fault', value: 1 }],
      format: 'JSONEachRow',
    });
    expect((await endpoint.stats()).faultsApplied).toEqual({ error: 1 });
  });

  it('503 while unavailable; a stalled insert is applied although the client gave up', async () => {
    await endpoint.setFault({ fault: { mode: 'unavailable' } });
    expect((await post('SELECT 1')).status).toBe(503);
    await endpoint.setFault({ fault: { mode: 'apply-then-stall' }, count: 1, statements: 'insert' });
    const impatient = connect({ request_timeout: 500 });
    try {
      const error = await impatient
        .insert({ table: 'app.usage', values: [{ tenant: 'stalled', value: 3 }], format: 'JSONEachRow' })
        .catch((caught: unknown) => caught);
      expect(String(error)).toMatch(/Timeout/i);
    } finally {
      await impatient.close();
    }
    expect(
      await rowsOf("SELECT toString(sum(value)) AS total FROM app.usage WHERE tenant = 'stalled'"),
    ).toEqual([{ total: '3' }]);
  });

  it('SIGKILL and a restart on the same port keep what was written', async () => {
    await client.insert({
      table: 'app.usage',
      values: [{ tenant: 'durable', value: 11 }],
      format: 'JSONEachRow',
    });
    await endpoint.kill();
    expect(await client.ping()).toMatchObject({ success: false });
    await endpoint.restart();
    expect(
      await rowsOf("SELECT toString(sum(value)) AS total FROM app.usage WHERE tenant = 'durable'"),
    ).toEqual([{ total: '11' }]);
  });
});

function basic(): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
}

async function post(
  sql: string,
  params = '',
): Promise<{ status: number; code: string | null; body: string }> {
  const response = await fetch(`${endpoint.url}/?${params}`, { method: 'POST', headers: basic(), body: sql });
  return {
    status: response.status,
    code: response.headers.get('x-clickhouse-exception-code'),
    body: await response.text(),
  };
}
