import type { SeriesBatch, SeriesPoint } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClickHouseMetricExporter,
  type SchemaOptions,
  type StorageConnection,
  UsageReader,
} from '../src/index.ts';
import { ensureSchema, MIGRATIONS } from '../src/schema/migrations.ts';
import { TENANT_PREDICATE } from '../src/usage/tenant-scope.ts';
import {
  gaugePoint,
  histogramPoint,
  recordingConnection,
  schemaExecutor,
  storeConnection,
  storeExporter,
  storeStorage,
  sumPoint,
  tempDir,
  writeInOlderLayout,
} from './support.ts';

// One chDB data directory for the whole file (one per process); each scenario writes its own tenants.
const dataDir = tempDir('usage-reader');
const DAY = 86_400_000_000_000n;
const HOUR = 3_600_000_000_000n;
const MINUTE = 60_000_000_000n;
/** 2024-01-01T00:00:00Z */
const T0 = 1_704_067_200_000_000_000n;

let connection: StorageConnection;
let exporter: ClickHouseMetricExporter;
let reader: UsageReader;
let raw: UsageReader;
const sent: string[] = [];

async function write(id: string, points: SeriesPoint[]): Promise<void> {
  const result = await exporter.consumeBatch({ id, points });
  expect(result.ok).toBe(true);
}

const sum = (tenant: string, value: number, time: bigint, attributes: Record<string, string> = {}) =>
  sumPoint(value, { tenant, name: 'api.requests', time, start: time - 1n, attributes });

beforeAll(async () => {
  exporter = storeExporter(dataDir);
  await exporter.start();
  connection = storeStorage(dataDir);
  reader = new UsageReader(
    recordingConnection(connection, (sql) => sent.push(sql)),
    'otel',
  );
  raw = new UsageReader(connection, 'otel', { useRollups: false });
});

afterAll(async () => {
  await exporter.shutdown();
  await connection.close();
});

describe('UsageReader on the embedded engine', () => {
  it('refuses an empty or invalid tenant before any SQL is sent', async () => {
    const before = sent.length;
    const metric = { metric: 'api.requests' };
    await expect(reader.total('', metric)).rejects.toThrow(/empty/);
    await expect(reader.sumTotals('a\u0000b')).rejects.toThrow(/control character/);
    await expect(reader.topN('x'.repeat(200), { ...metric, by: 'route', limit: 3 })).rejects.toThrow(/128/);
    await expect(
      reader.timeSeries(undefined as unknown as string, {
        ...metric,
        kind: 'sum',
        step: '1h',
        range: { fromUnixNano: T0, toUnixNano: T0 + HOUR },
      }),
    ).rejects.toThrow(/tenant/);
    await expect(reader.percentiles('nobody', { ...metric, quantiles: [0.5] })).resolves.toEqual([]);
    expect(sent.length - before).toBe(1); // only the valid tenant reached storage
  });

  it('totals a range with attribute filters; the open edges and whole hours/days add up exactly', async () => {
    const tenant = 'totals';
    const points: SeriesPoint[] = [];
    for (let hour = 0n; hour < 60n; hour++) {
      points.push(sum(tenant, 1, T0 + hour * HOUR + 30n * MINUTE, { route: '/a' }));
      points.push(sum(tenant, 10, T0 + hour * HOUR + HOUR, { route: '/b' })); // exactly on the hour
    }
    points.push(sum('other', 1000, T0 + 2n * HOUR, { route: '/a' }));
    await write('totals', points);
    const range = { fromUnixNano: T0 + 20n * MINUTE, toUnixNano: T0 + DAY + 5n * HOUR };
    // /a at hh:30 for hours 0..28 → 29 rows; /b at (h+1):00 for h=0..28 → 29 rows (T0+29h is inside, ≤ to).
    expect(await reader.total(tenant, { metric: 'api.requests', range })).toEqual({
      total: 29 + 290,
      rows: 58,
    });
    expect(
      await reader.total(tenant, { metric: 'api.requests', range, attributes: { route: '/b' } }),
    ).toEqual({
      total: 290,
      rows: 29,
    });
    expect(
      await reader.total(tenant, { metric: 'api.requests', range, attributes: { route: ['/a', '/c'] } }),
    ).toEqual({ total: 29, rows: 29 });
    expect(await reader.total(tenant, { metric: 'api.requests' })).toEqual({ total: 660, rows: 120 });
    expect(await reader.sumTotals(tenant)).toEqual([
      { metricName: 'api.requests', unit: '{request}', total: 660, rows: 120 },
    ]);
    expect(
      await reader.total(tenant, { metric: 'api.requests', range: { fromUnixNano: T0, toUnixNano: T0 } }),
    ).toEqual({ total: 0, rows: 0 });
  });

  it('zero-fills a sum time series at 1m, 1h and 1d and groups by an attribute', async () => {
    const tenant = 'series';
    await write('series', [
      sum(tenant, 3, T0 + 90n * MINUTE, { route: '/a' }), // bucket 01:00 (01:00 < t ≤ 02:00)
      sum(tenant, 4, T0 + 2n * HOUR, { route: '/b' }), // exactly 02:00 → bucket 01:00
      sum(tenant, 5, T0 + 3n * HOUR + 1n, { route: '/a' }), // bucket 03:00
    ]);
    const range = { fromUnixNano: T0, toUnixNano: T0 + 4n * HOUR };
    for (const source of [reader, raw]) {
      const hourly = await source.timeSeries(tenant, {
        metric: 'api.requests',
        kind: 'sum',
        step: '1h',
        range,
      });
      expect(hourly.lines).toEqual([
        {
          key: {},
          points: [0, 7, 0, 5].map((value, index) => ({ startUnixNano: T0 + BigInt(index) * HOUR, value })),
        },
      ]);
      const byRoute = await source.timeSeries(tenant, {
        metric: 'api.requests',
        kind: 'sum',
        step: '1h',
        range,
        groupBy: 'route',
      });
      expect(byRoute.lines.map((line) => [line.key, line.points.map((point) => point.value)])).toEqual([
        [{ route: '/a' }, [0, 3, 0, 5]],
        [{ route: '/b' }, [0, 4, 0, 0]],
      ]);
      const daily = await source.timeSeries(tenant, {
        metric: 'api.requests',
        kind: 'sum',
        step: '1d',
        range: { fromUnixNano: T0 - DAY, toUnixNano: T0 + DAY },
      });
      expect(daily.lines[0]?.points.map((point) => point.value)).toEqual([0, 12]);
    }
    // 1m: an unaligned range widens to whole minutes; 240 buckets, three non-zero.
    const minutes = await reader.timeSeries(tenant, {
      metric: 'api.requests',
      kind: 'sum',
      step: '1m',
      range: { fromUnixNano: T0 + 1n, toUnixNano: T0 + 4n * HOUR - 1n },
    });
    expect(minutes.fromUnixNano).toBe(T0);
    expect(minutes.toUnixNano).toBe(T0 + 4n * HOUR);
    const points = minutes.lines[0]?.points ?? [];
    expect(points).toHaveLength(240);
    expect(points.filter((point) => point.value !== 0)).toEqual([
      { startUnixNano: T0 + 89n * MINUTE, value: 3 },
      { startUnixNano: T0 + 119n * MINUTE, value: 4 },
      { startUnixNano: T0 + 180n * MINUTE, value: 5 },
    ]);
    // No data at all: one zero line.
    const empty = await reader.timeSeries('nobody', {
      metric: 'api.requests',
      kind: 'sum',
      step: '1h',
      range,
    });
    expect(empty.lines).toEqual([{ key: {}, points: hourlyZeros(4) }]);
  });

  it('carries a gauge forward through empty buckets, starting from the last value before the range', async () => {
    const tenant = 'gauges';
    const gauge = (value: number, time: bigint, queue: string) =>
      gaugePoint(value, { tenant, name: 'queue.depth', time, start: time, attributes: { queue } });
    await write('gauges', [
      gauge(7, T0 - 3n * DAY, 'q1'), // before the range: carried in
      gauge(1, T0 + 10n * MINUTE, 'q1'),
      gauge(2, T0 + 50n * MINUTE, 'q1'), // last in bucket 00:00
      gauge(9, T0 + 3n * HOUR + 5n * MINUTE, 'q1'),
      gauge(4, T0 + 2n * HOUR + 1n, 'q2'),
    ]);
    const range = { fromUnixNano: T0, toUnixNano: T0 + 5n * HOUR };
    for (const source of [reader, raw]) {
      const series = await source.timeSeries(tenant, {
        metric: 'queue.depth',
        kind: 'gauge',
        step: '1h',
        range,
      });
      expect(series.lines.map((line) => [line.key, line.points.map((point) => point.value)])).toEqual([
        [{ queue: 'q1' }, [2, 2, 2, 9, 9]],
        [{ queue: 'q2' }, [undefined, undefined, 4, 4, 4]],
      ]);
      expect(
        (await source.gaugeLatest(tenant, { metric: 'queue.depth' })).map((g) => [
          g.attributes,
          g.value,
          g.timeUnixNano,
        ]),
      ).toEqual([
        [{ queue: 'q1' }, 9, T0 + 3n * HOUR + 5n * MINUTE],
        [{ queue: 'q2' }, 4, T0 + 2n * HOUR + 1n],
      ]);
      expect(
        (await source.gaugeLatest(tenant, { metric: 'queue.depth', range: { toUnixNano: T0 + HOUR } })).map(
          (g) => g.value,
        ),
      ).toEqual([2]);
    }
  });

  it('ranks attribute values by total (top-N), ties by value, rows without the attribute left out', async () => {
    const tenant = 'top';
    const points = [
      sum(tenant, 5, T0 + HOUR, { customer: 'c' }),
      sum(tenant, 50, T0 + 2n * DAY, { customer: 'a' }),
      sum(tenant, 20, T0 + 3n * DAY, { customer: 'b' }),
      sum(tenant, 30, T0 + 3n * DAY + 7n, { customer: 'b' }),
      sum(tenant, 5, T0 + 4n * DAY, { customer: 'd' }),
      sum(tenant, 999, T0 + 4n * DAY, { other: 'x' }),
      sum('other', 10_000, T0 + 4n * DAY, { customer: 'zz' }),
    ];
    await write('top', points);
    const query = { metric: 'api.requests', by: 'customer', limit: 3 };
    expect(await reader.topN(tenant, query)).toEqual([
      { value: 'a', total: 50, rows: 1 },
      { value: 'b', total: 50, rows: 2 },
      { value: 'c', total: 5, rows: 1 },
    ]);
    expect(
      await reader.topN(tenant, {
        ...query,
        range: { fromUnixNano: T0 + 2n * DAY, toUnixNano: T0 + 5n * DAY },
      }),
    ).toEqual([
      { value: 'b', total: 50, rows: 2 },
      { value: 'd', total: 5, rows: 1 },
    ]);
    await expect(reader.topN(tenant, { ...query, limit: 0 })).rejects.toThrow(RangeError);
  });

  it('computes percentiles from merged buckets, per distinct bounds', async () => {
    const tenant = 'latency';
    const histogram = (counts: number[], bounds: number[], time: bigint) =>
      histogramPoint(
        { count: counts.reduce((a, b) => a + b, 0), sum: 100, bounds, bucketCounts: counts },
        { tenant, name: 'http.duration', time, start: time - 1n },
      );
    await write('latency', [
      histogram([1, 3, 2, 0], [10, 100, 1000], T0 + HOUR),
      histogram([1, 1, 2, 0], [10, 100, 1000], T0 + 2n * DAY),
      histogram([0, 4], [50], T0 + 2n * DAY),
    ]);
    const results = await reader.percentiles(tenant, {
      metric: 'http.duration',
      quantiles: [0, 0.5, 0.9, 1],
    });
    expect(results).toEqual([
      // bounds [10,100,1000], counts [2,4,4,0], n=10: p50 rank 5 → bucket (10,100], 3 of 4 → 77.5
      {
        bounds: [10, 100, 1000],
        bucketCounts: [2, 4, 4, 0],
        count: 10,
        sum: 200,
        values: [0, 77.5, 775, 1000],
      },
      // bounds [50], counts [0,4]: every rank in the overflow bucket → the highest finite bound
      { bounds: [50], bucketCounts: [0, 4], count: 4, sum: 100, values: [50, 50, 50, 50] },
    ]);
    const upper = await reader.percentiles(tenant, {
      metric: 'http.duration',
      quantiles: [0.5],
      method: 'upper-bound',
      range: { fromUnixNano: T0, toUnixNano: T0 + DAY },
    });
    expect(upper).toEqual([
      { bounds: [10, 100, 1000], bucketCounts: [1, 3, 2, 0], count: 6, sum: 100, values: [100] },
    ]);
    expect(await raw.percentiles(tenant, { metric: 'http.duration', quantiles: [0.5] })).toEqual(
      await reader.percentiles(tenant, { metric: 'http.duration', quantiles: [0.5] }),
    );
  });

  it('admin totals read every tenant and are the only reads without the tenant predicate', async () => {
    await write('admin', [
      sum('adm-a', 2, T0 + DAY),
      sum('adm-b', 3, T0 + DAY),
      sum('adm-b', 4, T0 + 9n * DAY),
    ]);
    const before = sent.length;
    const totals = await reader.adminTotalsByTenant({
      metric: 'api.requests',
      range: { fromUnixNano: T0 + HOUR, toUnixNano: T0 + 2n * DAY },
    });
    expect(totals.filter((total) => total.tenant.startsWith('adm-'))).toEqual([
      { tenant: 'adm-a', metricName: 'api.requests', unit: '{request}', total: 2, rows: 1 },
      { tenant: 'adm-b', metricName: 'api.requests', unit: '{request}', total: 3, rows: 1 },
    ]);
    expect(sent.slice(before).some((sql) => !sql.includes(TENANT_PREDICATE))).toBe(true);
  });

  it('a re-sent batch (same deduplication token) does not double the rollups', async () => {
    const tenant = 'dedup';
    const batch: SeriesBatch = {
      id: 'dedup-1',
      points: [sum(tenant, 5, T0 + DAY + 1n), sum(tenant, 6, T0 + HOUR)],
    };
    await write(batch.id, batch.points as SeriesPoint[]);
    await write(batch.id, batch.points as SeriesPoint[]);
    const retry = new ClickHouseMetricExporter({ ...storeConnection(dataDir), logger: silentLogger });
    expect((await retry.consumeBatch(batch)).ok).toBe(true);
    await retry.shutdown();
    const rollupRows = await connection.queryRows<{ Total: number }>(
      `SELECT sum(Value) AS Total FROM otel.tallyhouse_usage_sum_1h WHERE TenantId = {tenant:String}`,
      { tenant },
    );
    expect(rollupRows).toEqual([{ Total: 11 }]);
    expect(await reader.total(tenant, { metric: 'api.requests' })).toEqual({ total: 11, rows: 2 });
    expect(await raw.total(tenant, { metric: 'api.requests' })).toEqual({ total: 11, rows: 2 });
  });

  it('every tenant read sent so far carries the tenant predicate', () => {
    const tenantReads = sent.filter((sql) => sql.includes(TENANT_PREDICATE));
    expect(tenantReads.length).toBeGreaterThan(20);
  });
});

describe('upgrading a database written before the rollups existed', () => {
  it('migration 2 backfills the rollups once from the raw rows', async () => {
    const database = 'upgrade';
    const options: SchemaOptions = {
      database,
      cluster: undefined,
      replicationPath: '',
      replicaName: '',
      ttlDays: undefined,
      dedupWindow: 100,
    };
    const executor = schemaExecutor(connection);
    await ensureSchema(executor, options, silentLogger, { migrations: MIGRATIONS.slice(0, 1) });
    // Rows as the exporter of schema version 1 wrote them (row layout 1).
    await writeInOlderLayout(connection, database, [sum('up', 4, T0 + DAY + HOUR), sum('up', 1, T0 + 5n)], 1);
    expect((await ensureSchema(executor, options, silentLogger)).applied).toEqual([2, 3, 4, 5, 6, 7]);
    // Re-running every migration (as after a missing table) does not backfill twice.
    await ensureSchema(executor, options, silentLogger, { force: true });
    const upgraded = new UsageReader(connection, database);
    expect(await upgraded.total('up', { metric: 'api.requests' })).toEqual({ total: 5, rows: 2 });
    // New rows reach the rollups through the views.
    const fresh = new ClickHouseMetricExporter({
      ...storeConnection(dataDir),
      database,
      logger: silentLogger,
    });
    expect((await fresh.consumeBatch({ id: 'new', points: [sum('up', 10, T0 + 3n * DAY)] })).ok).toBe(true);
    await fresh.shutdown();
    expect(
      await upgraded.total('up', {
        metric: 'api.requests',
        range: { fromUnixNano: T0, toUnixNano: T0 + 4n * DAY },
      }),
    ).toEqual({ total: 15, rows: 3 });
    const [daily] = await connection.queryRows<{ Total: number }>(
      `SELECT sum(Value) AS Total FROM ${database}.tallyhouse_usage_sum_1d WHERE TenantId = 'up'`,
    );
    expect(daily?.Total).toBe(15);
  });
});

function hourlyZeros(count: number) {
  return Array.from({ length: count }, (_, index) => ({
    startUnixNano: T0 + BigInt(index) * HOUR,
    value: 0,
  }));
}
