/**
 * `GET /v1/usage/{tenant}/(total|timeseries|top|latest)` over a real socket, reading real chDB: answers as JSON
 * (gauges per source series, or combined across sources), read
 * scoping (an API key reads its own tenant only; the admin key reads any; in header mode the tenant header is not
 * a read credential unless the operator says so), every parameter validated with a 400 naming it, and the cache:
 * N identical concurrent requests run one query, later ones are served from cache until the TTL.
 */

import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { UsageReader } from '@tallyhouse/exporter-clickhouse';
import { ConfigError } from '@tallyhouse/model';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HeaderAuthenticator } from '../src/auth.ts';
import type { Collector } from '../src/collector.ts';
import { loadCollectorConfig } from '../src/config.ts';
import { SingleFlightCache } from '../src/usage-api/query-cache.ts';
import { ReadAccess } from '../src/usage-api/read-access.ts';
import { formatTime, parseQueryTime } from '../src/usage-api/time-format.ts';
import { UsageApi } from '../src/usage-api/usage-api.ts';
import { type CheckOptions, contractChecked } from './support/openapi-check.ts';
import {
  attributes,
  gaugeMetric,
  holdUsageTotals,
  otlpRequest,
  http as plainHttp,
  postMetrics,
  startCollector,
  sumMetric,
  tempDir,
} from './support.ts';

const dir = tempDir('usage-api');
const ACME_KEY = 'acme-key-0123456789';
const GLOBEX_KEY = 'globex-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789abcdef';

const MINUTE = 60_000_000_000n;
/** A whole minute ten minutes ago: rows at T0+30s and T0+90s fall in its first and second minute buckets. */
const T0 = ((BigInt(Date.now()) * 1_000_000n) / MINUTE) * MINUTE - 10n * MINUTE;
const SECOND = 1_000_000_000n;
const at = (seconds: number) => T0 + BigInt(seconds) * SECOND;

const SCOPE_1 = { name: 'pool-meter', version: '1' };
const SCOPE_2 = { name: 'pool-meter', version: '2' };
const HOST_A = { resource: { 'service.name': 'checkout', 'host.name': 'a' } };
const HOST_B = { resource: { 'service.name': 'checkout', 'host.name': 'b' } };
/** The three sources of the `connections` gauge, in answer order (attributes, then resource, then scope). */
const A1 = { ...HOST_A, scope: SCOPE_1 };
const A2 = { ...HOST_A, scope: SCOPE_2 };
const B1 = { ...HOST_B, scope: SCOPE_1 };
const iso = (ns: bigint) => formatTime(ns);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

/** Every answer of the usage API is checked against its OpenAPI document. */
const http = contractChecked(plainHttp);

async function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  contract: CheckOptions = {},
): Promise<Answer> {
  const answer = await http(port, { method: 'GET', path, headers }, contract);
  return { status: answer.status, headers: answer.headers, json: JSON.parse(answer.body.toString('utf8')) };
}
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

// ---- pure pieces ----

describe('query times', () => {
  it('reads RFC 3339 (offsets, up to nanoseconds) and Unix milliseconds', () => {
    expect(parseQueryTime('2025-03-01T00:00:00Z')).toBe(
      BigInt(Date.parse('2025-03-01T00:00:00Z')) * 1_000_000n,
    );
    expect(parseQueryTime('2025-03-01T02:00:00+02:00')).toBe(parseQueryTime('2025-03-01T00:00:00Z'));
    expect(parseQueryTime('2025-03-01T00:00:00.000000001Z')).toBe(
      (parseQueryTime('2025-03-01T00:00:00Z') ?? 0n) + 1n,
    );
    expect(parseQueryTime('1740787200000')).toBe(parseQueryTime('2025-03-01T00:00:00Z'));
  });

  it.each(['2025-02-30T00:00:00Z', '2025-03-01', '2025-03-01T24:00:00Z', 'yesterday', '-5', '1.5', ''])(
    'refuses %j',
    (raw) => expect(parseQueryTime(raw)).toBeUndefined(),
  );

  it('writes UTC RFC 3339 with milliseconds, nanoseconds when present', () => {
    expect(formatTime(1_740_787_200_000_000_000n)).toBe('2025-03-01T00:00:00.000Z');
    expect(formatTime(1_740_787_200_000_000_001n)).toBe('2025-03-01T00:00:00.000000001Z');
  });
});

describe('single-flight cache with a TTL', () => {
  it('runs one load for N concurrent identical requests, and serves the rest from cache until the TTL', async () => {
    let now = 0;
    const cache = new SingleFlightCache<number>({ ttlMs: 1_000, now: () => now });
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const load = async () => {
      loads++;
      await gate;
      return 42;
    };
    const all = Array.from({ length: 50 }, () => cache.get('k', load));
    release();
    const results = await Promise.all(all);
    expect(loads).toBe(1);
    expect(results.map((r) => r.value)).toEqual(Array(50).fill(42));
    expect(results.filter((r) => r.outcome === 'coalesced')).toHaveLength(49);
    now = 999;
    expect(await cache.get('k', load)).toEqual({ value: 42, outcome: 'hit' });
    now = 1_000;
    expect((await cache.get('k', load)).outcome).toBe('miss');
    expect(loads).toBe(2);
    expect(cache.stats()).toEqual({ miss: 2, hit: 1, coalesced: 49 });
  });

  it('keeps keys apart, and never caches a failure (every waiter sees it, the next request retries)', async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 60_000 });
    const failing = Array.from({ length: 3 }, () =>
      cache.get('a', () => Promise.reject(new Error('storage down'))),
    );
    for (const attempt of failing) await expect(attempt).rejects.toThrow('storage down');
    expect((await cache.get('a', async () => 'ok')).value).toBe('ok');
    expect((await cache.get('b', async () => 'other')).value).toBe('other');
    expect((await cache.get('a', async () => 'stale?')).value).toBe('ok');
  });

  it('with TTL 0 caches nothing but still shares a running query', async () => {
    const cache = new SingleFlightCache<number>({ ttlMs: 0 });
    let loads = 0;
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cache.get('k', load), cache.get('k', load)]);
    expect([a.value, b.value]).toEqual([1, 1]);
    expect((await cache.get('k', load)).value).toBe(2);
  });
});

describe('usage read settings are validated at start, naming the variable', () => {
  it.each([
    [{ TALLYHOUSE_ADMIN_KEY: 'short' }, 'TALLYHOUSE_ADMIN_KEY'],
    [{ TALLYHOUSE_ADMIN_KEY: 'sha256:abc' }, 'TALLYHOUSE_ADMIN_KEY'],
    [{ TALLYHOUSE_QUERY_CACHE_TTL_MS: '-1' }, 'TALLYHOUSE_QUERY_CACHE_TTL_MS'],
    [{ TALLYHOUSE_QUERY_CACHE_TTL_MS: '5s' }, 'TALLYHOUSE_QUERY_CACHE_TTL_MS'],
    [{ TALLYHOUSE_READS_TRUST_TENANT_HEADER: 'maybe' }, 'TALLYHOUSE_READS_TRUST_TENANT_HEADER'],
    [
      {
        TALLYHOUSE_READS_TRUST_TENANT_HEADER: 'true',
        TALLYHOUSE_AUTH: 'apikey',
        TALLYHOUSE_API_KEYS_FILE: '/dev/null',
      },
      'TALLYHOUSE_READS_TRUST_TENANT_HEADER',
    ],
  ])('refuses %j', (env, variable) => {
    expect(() => loadCollectorConfig(env)).toThrow(ConfigError);
    expect(() => loadCollectorConfig(env)).toThrow(variable);
  });

  it('keeps only the hash of the admin key, and accepts a sha256: key as given', () => {
    const settings = loadCollectorConfig({ TALLYHOUSE_ADMIN_KEY: ADMIN_KEY }).collector;
    expect(settings.adminKeyHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(settings)).not.toContain(ADMIN_KEY);
    expect(loadCollectorConfig({ TALLYHOUSE_ADMIN_KEY: settings.adminKeyHash! }).collector.adminKeyHash).toBe(
      settings.adminKeyHash,
    );
    expect(loadCollectorConfig({}).collector.queryCacheTtlMs).toBe(5_000);
    expect(loadCollectorConfig({ TALLYHOUSE_QUERY_CACHE_TTL_MS: '0' }).collector.queryCacheTtlMs).toBe(0);
  });
});

// ---- header mode: the tenant header alone is not a read credential ----

describe('reads in header mode', () => {
  const servers: Server[] = [];

  /** A UsageApi on its own socket, over a fake reader (read scoping needs no storage). */
  async function serve(env: Record<string, string>): Promise<number> {
    const settings = loadCollectorConfig(env).collector;
    const api = new UsageApi({
      access: new ReadAccess(settings, new HeaderAuthenticator(settings.tenantHeader)),
      reader: async () =>
        ({
          total: async (tenant: string) => ({ total: tenant.length, rows: 1 }),
        }) as unknown as UsageReader,
      cacheTtlMs: 0,
      logger: pino({ level: 'silent' }),
    });
    const server = createServer((request, response) => void api.handle(request, response));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  afterAll(() => {
    for (const server of servers) server.close();
  });

  it('refuses a read with only the tenant header (401 naming the admin key), and lets the admin key read any tenant', async () => {
    const port = await serve({ TALLYHOUSE_ADMIN_KEY: ADMIN_KEY });
    const headerOnly = await get(port, '/v1/usage/acme/total?metric=requests', { 'x-tenant-id': 'acme' });
    expect(headerOnly.status).toBe(401);
    expect(headerOnly.json.message).toContain('TALLYHOUSE_ADMIN_KEY');
    const admin = await get(port, '/v1/usage/acme/total?metric=requests', bearer(ADMIN_KEY));
    expect(admin.status).toBe(200);
    expect(admin.json).toMatchObject({ tenant: 'acme', total: 4 });
    const wrong = await get(port, '/v1/usage/acme/total?metric=requests', bearer(`${ADMIN_KEY}x`));
    expect(wrong.status).toBe(401);
  });

  it('without an admin key, nobody reads', async () => {
    const port = await serve({});
    expect((await get(port, '/v1/usage/acme/total?metric=requests', { 'x-tenant-id': 'acme' })).status).toBe(
      401,
    );
    expect((await get(port, '/v1/usage/acme/total?metric=requests', bearer(ADMIN_KEY))).status).toBe(401);
  });

  it('with TALLYHOUSE_READS_TRUST_TENANT_HEADER=true, the header reads its own tenant only', async () => {
    const port = await serve({ TALLYHOUSE_READS_TRUST_TENANT_HEADER: 'true' });
    const own = await get(port, '/v1/usage/acme/total?metric=requests', { 'x-tenant-id': 'acme' });
    expect(own.status).toBe(200);
    const other = await get(port, '/v1/usage/globex/total?metric=requests', { 'x-tenant-id': 'acme' });
    expect(other.status).toBe(403);
    expect(other.json).toEqual({
      code: 7,
      message: 'the credentials of tenant "acme" may not read tenant "globex"',
    });
  });
});

// ---- apikey mode, real chDB ----

describe('usage endpoints on the collector (apikey mode)', () => {
  let collector: Collector;
  let port: number;

  beforeAll(async () => {
    const keysFile = join(dir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify({ [ACME_KEY]: 'acme', [GLOBEX_KEY]: 'globex' }));
    ({ collector, port } = await startCollector(join(dir, 'data'), {
      env: {
        TALLYHOUSE_AUTH: 'apikey',
        TALLYHOUSE_API_KEYS_FILE: keysFile,
        TALLYHOUSE_ADMIN_KEY: ADMIN_KEY,
        TALLYHOUSE_QUERY_CACHE_TTL_MS: '60000',
        TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
        // Reads do not depend on the write-ahead log.
        TALLYHOUSE_WAL: 'false',
      },
    }));
    const point = (value: number, seconds: number, attributes: Record<string, string>) => ({
      value,
      attributes,
      start: at(seconds) - 10n * SECOND,
      time: at(seconds),
    });
    const acme = otlpRequest([
      sumMetric('requests', [
        point(3, 30, { route: '/pay', region: 'eu' }),
        point(5, 30, { route: '/cart', region: 'eu' }),
        point(4, 90, { route: '/pay', region: 'us' }),
      ]),
    ]);
    const globex = otlpRequest([sumMetric('requests', [point(100, 30, { route: '/pay', region: 'eu' })])]);
    // One gauge with equal point attributes from three sources: hosts a and b, and a second scope on host a.
    const gauges = {
      resourceMetrics: [
        {
          resource: { attributes: attributes(HOST_A.resource) },
          scopeMetrics: [
            { scope: SCOPE_1, metrics: [gaugeMetric('connections', [point(10, 30, { pool: 'main' })])] },
            { scope: SCOPE_2, metrics: [gaugeMetric('connections', [point(2, 100, { pool: 'main' })])] },
          ],
        },
        {
          resource: { attributes: attributes(HOST_B.resource) },
          scopeMetrics: [
            { scope: SCOPE_1, metrics: [gaugeMetric('connections', [point(5, 90, { pool: 'main' })])] },
          ],
        },
      ],
    };
    expect((await postMetrics(port, gauges, 'json', bearer(ACME_KEY))).status).toBe(200);
    expect((await postMetrics(port, acme, 'json', bearer(ACME_KEY))).status).toBe(200);
    expect((await postMetrics(port, globex, 'json', bearer(GLOBEX_KEY))).status).toBe(200);
    await collector.processor.forceFlush();
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await collector?.stop();
  });

  const range = `from=${encodeURIComponent(iso(T0))}&to=${encodeURIComponent(iso(at(180)))}`;

  describe('answers', () => {
    it('total: the tenant total of a sum metric over (from, to], with the query echoed', async () => {
      const answer = await get(port, `/v1/usage/acme/total?metric=requests&${range}`, bearer(ACME_KEY));
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json');
      expect(answer.json).toEqual({
        tenant: 'acme',
        metric: 'requests',
        from: iso(T0),
        to: iso(at(180)),
        attributes: {},
        total: 12,
        rows: 3,
      });
    });

    it('total with attribute filters (attr.<key>=<value>, repeated = any of) and unix-ms times', async () => {
      const ms = `from=${T0 / 1_000_000n}&to=${at(180) / 1_000_000n}`;
      const pay = await get(
        port,
        `/v1/usage/acme/total?metric=requests&${ms}&attr.route=%2Fpay`,
        bearer(ACME_KEY),
      );
      expect(pay.json).toMatchObject({ total: 7, attributes: { route: '/pay' } });
      const both = await get(
        port,
        `/v1/usage/acme/total?metric=requests&attr.region=eu&attr.region=us&attr.route=%2Fpay`,
        bearer(ACME_KEY),
      );
      expect(both.json).toMatchObject({ total: 7, from: null, to: null });
      const none = await get(port, '/v1/usage/acme/total?metric=nothing', bearer(ACME_KEY));
      expect(none.json).toMatchObject({ total: 0, rows: 0 });
    });

    it('timeseries: zero-filled buckets of the step; group_by gives one line per value', async () => {
      const answer = await get(
        port,
        `/v1/usage/acme/timeseries?metric=requests&step=1m&${range}`,
        bearer(ACME_KEY),
      );
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({
        kind: 'sum',
        step: '1m',
        bucketsFrom: iso(T0),
        bucketsTo: iso(at(180)),
      });
      expect(answer.json.lines).toEqual([
        {
          key: {},
          points: [
            { start: iso(T0), value: 8 },
            { start: iso(at(60)), value: 4 },
            { start: iso(at(120)), value: 0 },
          ],
        },
      ]);
      const grouped = await get(
        port,
        `/v1/usage/acme/timeseries?metric=requests&step=1m&${range}&group_by=route`,
        bearer(ACME_KEY),
      );
      expect(grouped.json.lines).toEqual([
        { key: { route: '/cart' }, points: [5, 0, 0].map((value, i) => ({ start: iso(at(60 * i)), value })) },
        { key: { route: '/pay' }, points: [3, 4, 0].map((value, i) => ({ start: iso(at(60 * i)), value })) },
      ]);
    });

    it('timeseries kind=gauge: a line per source series naming its source, carried forward; combine merges them per bucket', async () => {
      const path = `/v1/usage/acme/timeseries?metric=connections&kind=gauge&step=1m&${range}`;
      const perSource = await get(port, path, bearer(ACME_KEY));
      expect(perSource.status).toBe(200);
      const points = (values: (number | null)[]) =>
        values.map((value, i) => ({ start: iso(at(60 * i)), value }));
      expect(perSource.json.lines).toEqual([
        { key: { pool: 'main' }, unit: '1', source: A1, points: points([10, 10, 10]) },
        { key: { pool: 'main' }, unit: '1', source: A2, points: points([null, 2, 2]) },
        { key: { pool: 'main' }, unit: '1', source: B1, points: points([null, 5, 5]) },
      ]);
      for (const [combine, values] of [
        ['sum', [10, 17, 17]],
        ['max', [10, 10, 10]],
        ['min', [10, 2, 2]],
        ['avg', [10, 17 / 3, 17 / 3]],
      ] as const) {
        const combined = await get(port, `${path}&combine=${combine}`, bearer(ACME_KEY));
        expect(combined.status).toBe(200);
        expect(combined.json).toMatchObject({ kind: 'gauge', combine });
        expect(combined.json.lines).toEqual([
          { key: { pool: 'main' }, unit: '1', sources: 3, points: points([...values]) },
        ]);
      }
      // From 00:01 on: host a's first scope is carried in from before the range.
      const later = await get(
        port,
        `/v1/usage/acme/timeseries?metric=connections&kind=gauge&step=1m&from=${encodeURIComponent(iso(at(60)))}&to=${encodeURIComponent(iso(at(180)))}&combine=sum`,
        bearer(ACME_KEY),
      );
      expect((later.json.lines as { points: unknown }[]).map((line) => line.points)).toEqual([
        [
          { start: iso(at(60)), value: 17 },
          { start: iso(at(120)), value: 17 },
        ],
      ]);
    });

    it('latest: the latest value of every source series, or combined across sources', async () => {
      const perSource = await get(port, '/v1/usage/acme/latest?metric=connections', bearer(ACME_KEY));
      expect(perSource.status).toBe(200);
      expect(perSource.json).toMatchObject({ tenant: 'acme', metric: 'connections', from: null, to: null });
      expect(perSource.json.latest).toEqual([
        { unit: '1', attributes: { pool: 'main' }, source: A1, value: 10, time: iso(at(30)) },
        { unit: '1', attributes: { pool: 'main' }, source: A2, value: 2, time: iso(at(100)) },
        { unit: '1', attributes: { pool: 'main' }, source: B1, value: 5, time: iso(at(90)) },
      ]);
      const combined = await get(
        port,
        `/v1/usage/acme/latest?metric=connections&combine=max&to=${encodeURIComponent(iso(at(95)))}`,
        bearer(ACME_KEY),
      );
      expect(combined.json).toMatchObject({ combine: 'max' });
      expect(combined.json.latest).toEqual([
        { unit: '1', attributes: { pool: 'main' }, sources: 2, value: 10, time: iso(at(90)) },
      ]);
    });

    it('top: the values of an attribute with the largest totals', async () => {
      const answer = await get(
        port,
        `/v1/usage/acme/top?metric=requests&by=route&${range}`,
        bearer(ACME_KEY),
      );
      expect(answer.json).toMatchObject({ by: 'route', limit: 10 });
      expect(answer.json.entries).toEqual([
        { value: '/pay', total: 7, rows: 2 },
        { value: '/cart', total: 5, rows: 1 },
      ]);
      const one = await get(port, `/v1/usage/acme/top?metric=requests&by=route&limit=1`, bearer(ACME_KEY));
      expect(one.json.entries).toEqual([{ value: '/pay', total: 7, rows: 2 }]);
    });
  });

  describe('scoping', () => {
    it('a tenant key never reads another tenant: 403, and nothing of the other tenant in the answer', async () => {
      for (const view of [
        'total?metric=requests',
        'top?metric=requests&by=route',
        `timeseries?metric=requests&step=1m&${range}`,
        'latest?metric=connections',
      ]) {
        const answer = await http(port, {
          method: 'GET',
          path: `/v1/usage/globex/${view}`,
          headers: bearer(ACME_KEY),
        });
        expect(answer.status).toBe(403);
        expect(answer.body.toString()).not.toContain('100');
        expect(JSON.parse(answer.body.toString())).toEqual({
          code: 7,
          message: 'the credentials of tenant "acme" may not read tenant "globex"',
        });
      }
    });

    it('neither a tenant header, path tricks nor percent-encoding widen a key to another tenant', async () => {
      const tries = [
        {
          path: '/v1/usage/globex/total?metric=requests',
          headers: { ...bearer(ACME_KEY), 'x-tenant-id': 'globex' },
        },
        { path: '/v1/usage/acme/../globex/total?metric=requests', headers: bearer(ACME_KEY) },
        { path: '/v1/usage/%67lobex/total?metric=requests', headers: bearer(ACME_KEY) },
        { path: '/v1/usage/globex%2F..%2Facme/total?metric=requests', headers: bearer(ACME_KEY) },
      ];
      for (const attempt of tries) {
        const answer = await http(port, { method: 'GET', ...attempt });
        expect([403, 404]).toContain(answer.status);
        expect(answer.body.toString()).not.toContain('"total"');
      }
      // The same encoding of the key's own tenant is fine.
      expect(
        (await get(port, '/v1/usage/%61cme/total?metric=requests', bearer(ACME_KEY))).json,
      ).toMatchObject({
        tenant: 'acme',
        total: 12,
      });
    });

    it('the admin key reads any tenant', async () => {
      const globex = await get(port, '/v1/usage/globex/total?metric=requests', bearer(ADMIN_KEY));
      expect(globex.json).toMatchObject({ tenant: 'globex', total: 100 });
      const acme = await get(port, '/v1/usage/acme/total?metric=requests', { 'x-api-key': ADMIN_KEY });
      expect(acme.json).toMatchObject({ tenant: 'acme', total: 12 });
    });

    it('answers 401 without a key or with an unknown one, before looking at the query', async () => {
      const none = await get(port, '/v1/usage/acme/total');
      expect(none.status).toBe(401);
      expect(none.json.code).toBe(16);
      const unknown = await get(port, '/v1/usage/acme/total', bearer('not-a-key-at-all-xyz'));
      expect(unknown.status).toBe(401);
      expect(unknown.json.message).toMatch(/^invalid API key/);
    });
  });

  describe('validation: 400 naming the parameter', () => {
    it.each([
      ['/v1/usage/acme/total', 'metric'],
      ['/v1/usage/acme/total?metric=', 'metric'],
      ['/v1/usage/acme/total?metric=requests&metric=other', 'metric'],
      ['/v1/usage/acme/total?metric=requests&from=yesterday', 'from'],
      ['/v1/usage/acme/total?metric=requests&to=2025-02-30T00:00:00Z', 'to'],
      ['/v1/usage/acme/total?metric=requests&from=2000&to=1000', 'to'],
      ['/v1/usage/acme/total?metric=requests&bogus=1', 'bogus'],
      ['/v1/usage/acme/total?metric=requests&step=1m', 'step'],
      ['/v1/usage/acme/total?metric=requests&attr.=x', 'attr.'],
      ['/v1/usage/acme/timeseries?metric=requests&from=0&to=60000', 'step'],
      ['/v1/usage/acme/timeseries?metric=requests&step=5m&from=0&to=60000', 'step'],
      ['/v1/usage/acme/timeseries?metric=requests&step=1m&to=60000', 'from'],
      ['/v1/usage/acme/timeseries?metric=requests&step=1m&from=0', 'to'],
      ['/v1/usage/acme/timeseries?metric=requests&step=1m&from=0&to=86400000000', 'step'],
      ['/v1/usage/acme/timeseries?metric=requests&step=1m&from=0&to=60000&kind=rate', 'kind'],
      [
        '/v1/usage/acme/timeseries?metric=requests&step=1m&from=0&to=60000&kind=gauge&group_by=route',
        'group_by',
      ],
      [
        '/v1/usage/acme/timeseries?metric=connections&step=1m&from=0&to=60000&kind=gauge&combine=median',
        'combine',
      ],
      ['/v1/usage/acme/timeseries?metric=requests&step=1m&from=0&to=60000&combine=sum', 'combine'],
      ['/v1/usage/acme/timeseries?metric=connections&step=1m&from=0&to=60000&kind=gauge&combine=', 'combine'],
      ['/v1/usage/acme/latest?metric=connections&combine=SUM', 'combine'],
      ['/v1/usage/acme/latest?metric=connections&combine=sum&combine=max', 'combine'],
      ['/v1/usage/acme/latest?combine=sum', 'metric'],
      ['/v1/usage/acme/latest?metric=connections&step=1m', 'step'],
      ['/v1/usage/acme/total?metric=requests&combine=sum', 'combine'],
      ['/v1/usage/acme/top?metric=requests', 'by'],
      ['/v1/usage/acme/top?metric=requests&by=route&limit=0', 'limit'],
      ['/v1/usage/acme/top?metric=requests&by=route&limit=ten', 'limit'],
      ['/v1/usage/acme/top?metric=requests&by=route&limit=1001', 'limit'],
    ])('%s → %s', async (path, parameter) => {
      const answer = await get(port, path, bearer(ACME_KEY));
      expect(answer.status).toBe(400);
      expect(answer.json.code).toBe(3);
      expect(String(answer.json.message).startsWith(`${parameter}: `)).toBe(true);
    });

    it('refuses an invalid tenant in the path (admin), an unknown view (404) and other methods (405)', async () => {
      const invalid = await get(
        port,
        `/v1/usage/${'x'.repeat(129)}/total?metric=requests`,
        bearer(ADMIN_KEY),
      );
      expect(invalid.status).toBe(400);
      expect(String(invalid.json.message)).toMatch(/^tenant: /);
      const undocumented = { undocumented: true };
      expect(
        (await get(port, '/v1/usage/acme/everything?metric=requests', bearer(ACME_KEY), undocumented)).status,
      ).toBe(404);
      expect((await get(port, '/v1/usage/acme', bearer(ACME_KEY), undocumented)).status).toBe(404);
      const post = await http(
        port,
        { method: 'POST', path: '/v1/usage/acme/total', headers: bearer(ACME_KEY) },
        undocumented,
      );
      expect(post.status).toBe(405);
      expect(post.headers.allow).toBe('GET');
    });
  });

  describe('cache-aside with single flight', () => {
    it('answers N identical concurrent requests with one query, then from cache', async () => {
      const { spy, release } = holdUsageTotals();
      const before = collector.usage.cacheStats();
      const path = `/v1/usage/acme/total?metric=requests&${range}&attr.region=eu`;
      const n = 20;
      const answers = Array.from({ length: n }, (_, i) =>
        get(port, path, bearer(i % 2 === 0 ? ACME_KEY : ADMIN_KEY)),
      );
      // Hold the one query until every other request is waiting on it.
      await vi.waitUntil(() => collector.usage.cacheStats().coalesced - before.coalesced === n - 1, {
        timeout: 10_000,
      });
      release();
      const done = await Promise.all(answers);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(done.map((a) => a.json.total)).toEqual(Array(n).fill(8));
      expect(done.map((a) => a.headers['x-tallyhouse-cache']).sort()).toEqual(
        [...Array(n - 1).fill('coalesced'), 'miss'].sort(),
      );
      const again = await get(port, path, bearer(ACME_KEY));
      expect(again.headers['x-tallyhouse-cache']).toBe('hit');
      expect(again.json.total).toBe(8);
      expect(spy).toHaveBeenCalledTimes(1);
      spy.mockRestore();
    });

    it('keeps tenants apart in the cache, and counts reads and their route in /metrics', async () => {
      const acme = await get(port, '/v1/usage/acme/top?metric=requests&by=region', bearer(ADMIN_KEY));
      const globex = await get(port, '/v1/usage/globex/top?metric=requests&by=region', bearer(ADMIN_KEY));
      expect(acme.json.entries).toEqual([
        { value: 'eu', total: 8, rows: 2 },
        { value: 'us', total: 4, rows: 1 },
      ]);
      expect(globex.json.entries).toEqual([{ value: 'eu', total: 100, rows: 1 }]);
      const metrics = (await http(port, { method: 'GET', path: '/metrics' })).body.toString();
      expect(metrics).toMatch(/tallyhouse_usage_reads_total\{cache="miss"\} \d+/);
      expect(metrics).toMatch(/tallyhouse_usage_reads_total\{cache="coalesced"\} 19/);
      expect(metrics).toMatch(/tallyhouse_http_requests_total\{route="\/v1\/usage",status="403"\} \d+/);
      expect(metrics).not.toMatch(/route="\/v1\/usage\/acme/);
    });
  });
});
