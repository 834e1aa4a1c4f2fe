import { parsePeriod, type SeriesPoint } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseMetricExporter, type StorageConnection, UsageReader } from '../src/index.ts';
import { gaugePoint, histogramPoint, storeExporter, storeStorage, sumPoint, tempDir } from './support.ts';

// The cross-tenant reads behind the console and the billing export: each checked against the per-tenant reads
// (which other suites check against the truth) and against totals kept here as points are made.
const dataDir = tempDir('usage-admin-reads');
const MS = 1_000_000n;
const MINUTE_MS = 60_000;
const ZONE = 'America/New_York';
const MARCH = parsePeriod('2026-03', ZONE);

let exporter: ClickHouseMetricExporter;
let connection: StorageConnection;
let reader: UsageReader;
/** tenant → metric → region → total in March (New York time). */
const truth = new Map<string, Map<string, Map<string, number>>>();
const TENANTS = ['0', 'acme', 'globex', 'initech', 'umbrella'];

function add(tenant: string, metric: string, region: string, value: number): void {
  const metrics = truth.get(tenant) ?? new Map<string, Map<string, number>>();
  truth.set(tenant, metrics);
  const regions = metrics.get(metric) ?? new Map<string, number>();
  metrics.set(metric, regions);
  regions.set(region, (regions.get(region) ?? 0) + value);
}

beforeAll(async () => {
  exporter = storeExporter(dataDir);
  await exporter.start();
  connection = storeStorage(dataDir);
  reader = new UsageReader(connection, 'otel');
  // Points from the last day of February to the first days of April, every 37 minutes, so March's edges fall
  // mid-hour in UTC terms only where the zone puts them (05:00Z and 04:00Z), and rows sit exactly on them too.
  const points: SeriesPoint[] = [];
  const start = Date.parse('2026-02-28T00:00:00Z');
  const end = Date.parse('2026-04-02T00:00:00Z');
  let i = 0;
  const times: number[] = [];
  for (let t = start; t < end; t += 37 * MINUTE_MS) times.push(t);
  times.push(MARCH.startMs, MARCH.endMs, MARCH.startMs + 1, MARCH.endMs + 1);
  for (const t of times) {
    const tenant = TENANTS[i % TENANTS.length]!;
    const metric = i % 3 === 0 ? 'storage.bytes' : 'api.requests';
    const region = i % 4 === 0 ? '' : i % 4 === 1 ? 'eu' : 'us';
    const value = (i % 7) + 1 + (tenant === 'umbrella' ? 100 : 0);
    const attributes: Record<string, string> = region === '' ? {} : { region };
    const time = BigInt(t) * MS;
    points.push(sumPoint(value, { tenant, name: metric, time, start: time - 1n, attributes }));
    if (t > MARCH.startMs && t <= MARCH.endMs) add(tenant, metric, region, value);
    i++;
  }
  points.push(gaugePoint(3, { tenant: 'acme', name: 'seats', time: BigInt(start) * MS }));
  for (const plan of ['free', 'pro', 'team'])
    points.push(
      gaugePoint(1, {
        tenant: 'acme',
        name: 'seats',
        time: BigInt(start) * MS,
        attributes: { plan, zone: 'a' },
      }),
    );
  points.push(histogramPoint({}, { tenant: 'acme', name: 'latency', time: BigInt(start) * MS }));
  expect((await exporter.consumeBatch({ id: 'admin-reads', points })).ok).toBe(true);
});

afterAll(async () => {
  await exporter.shutdown();
  await connection.close();
});

const march = { fromUnixNano: BigInt(MARCH.startMs) * MS, toUnixNano: BigInt(MARCH.endMs) * MS };

describe('cross-tenant reads', () => {
  it('the billing totals of a period: every tenant, metric and region, equal to per-tenant totals to the unit', async () => {
    const rows = [];
    for await (const row of reader.adminPeriodTotals({
      metrics: ['api.requests', 'storage.bytes'],
      range: march,
      groupBy: ['region'],
    })) {
      rows.push(row);
    }
    const expected = [...truth].flatMap(([tenant, metrics]) =>
      [...metrics].flatMap(([metric, regions]) =>
        [...regions].map(([region, total]) => ({ tenant, metric, region, total })),
      ),
    );
    expect(rows).toHaveLength(expected.length);
    for (const { tenant, metric, region, total } of expected) {
      const row = rows.find((r) => r.tenant === tenant && r.metricName === metric && r.groups[0] === region);
      expect(row?.total, `${tenant} ${metric} ${region}`).toBe(total);
      const perTenant = await reader.total(tenant, {
        metric,
        range: march,
        ...(region === '' ? {} : { attributes: { region } }),
      });
      if (region !== '') expect(perTenant.total).toBe(total);
    }
    // Without group_by: one row per tenant and metric, each equal to `total`.
    for await (const row of reader.adminPeriodTotals({ metrics: ['api.requests'], range: march })) {
      expect(row.groups).toEqual([]);
      expect(row.total).toBe(
        (await reader.total(row.tenant, { metric: 'api.requests', range: march })).total,
      );
    }
    // Streamed in order: tenant, then metric.
    const keys = rows.map((r) => `${r.tenant}\u0000${r.metricName}\u0000${r.groups[0]}`);
    expect(keys).toEqual([...keys].sort());
  });

  it('top tenants and the all-tenant trend agree with the per-tenant reads', async () => {
    const top = await reader.adminTopTenants({ metric: 'api.requests', range: march, limit: 3 });
    const totals = await Promise.all(
      TENANTS.map(async (tenant) => ({
        tenant,
        total: (await reader.total(tenant, { metric: 'api.requests', range: march })).total,
      })),
    );
    totals.sort((a, b) => b.total - a.total || (a.tenant < b.tenant ? -1 : 1));
    expect(top.map(({ tenant, total }) => ({ tenant, total }))).toEqual(totals.slice(0, 3));
    expect(top[0]!.tenant).toBe('umbrella');

    const query = {
      metric: 'api.requests',
      kind: 'sum' as const,
      step: '1d' as const,
      timeZone: ZONE,
      range: march,
    };
    const trend = await reader.adminTimeSeries(query);
    expect(trend.lines).toHaveLength(1);
    const perTenant = await Promise.all(TENANTS.map((tenant) => reader.timeSeries(tenant, query)));
    expect(trend.lines[0]!.points).toHaveLength(31);
    trend.lines[0]!.points.forEach((point, i) => {
      const sum = perTenant.reduce((total, series) => total + (series.lines[0]?.points[i]?.value ?? 0), 0);
      expect(point.value).toBe(sum);
    });
    await expect(reader.adminTimeSeries({ ...query, kind: 'gauge' })).rejects.toThrow(/sums only/);
  });

  it('the metrics stored: per tenant and for every tenant, with their kinds', async () => {
    expect(await reader.metrics('acme')).toEqual([
      { name: 'api.requests', unit: '{request}', kind: 'sum' },
      { name: 'latency', unit: 'ms', kind: 'histogram' },
      { name: 'seats', unit: 'ms', kind: 'gauge' },
      { name: 'storage.bytes', unit: '{request}', kind: 'sum' },
    ]);
    expect(await reader.metrics('0')).toEqual([
      { name: 'api.requests', unit: '{request}', kind: 'sum' },
      { name: 'storage.bytes', unit: '{request}', kind: 'sum' },
    ]);
    expect((await reader.adminMetrics()).map((m) => m.name)).toEqual([
      'api.requests',
      'latency',
      'seats',
      'storage.bytes',
    ]);
    await expect(reader.metrics('')).rejects.toThrow(/empty/);
  });

  it('the attribute keys of a metric, with how many values each has', async () => {
    expect(await reader.attributeKeys('acme', 'api.requests')).toEqual([{ key: 'region', values: 2 }]);
    // `route` from the first seats point (the support's default attributes), `plan` and `zone` from the others.
    expect(await reader.attributeKeys('acme', 'seats')).toEqual([
      { key: 'plan', values: 3 },
      { key: 'route', values: 1 },
      { key: 'zone', values: 1 },
    ]);
    expect(await reader.attributeKeys('acme', 'nothing')).toEqual([]);
    expect(await reader.attributeKeys('globex', 'seats')).toEqual([]);
    await expect(reader.attributeKeys('acme', 'seats', { maxRows: 1 })).rejects.toThrow(
      /metric "seats" has more than maxRows=1 attribute keys/,
    );
  });
});
