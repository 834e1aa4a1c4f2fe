/**
 * End to end, every stage real and in its own process:
 *
 *   7 OTel SDK apps (3 tenants; cumulative and delta; stock JSON exporter and stock-built protobuf exporter)
 *     ──OTLP/HTTP, x-tenant-id──► collector (bin.ts, env config, own data dir) ──► embedded chDB, or
 *                                                                                ClickHouse over HTTP
 *
 * After SIGTERM the collector must exit 0; this process then reads the store, and the per-tenant totals in
 * ClickHouse must equal, exactly, what the apps say they recorded. Once per store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess } from '../../packages/collector/test/support/collector-process.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { type AppSummary, METRICS } from '../fixtures/app-summary.ts';
import { type AppRun, runApp } from '../support/run-app.ts';
import type { StoredUsage } from '../support/stored-usage.ts';
import { STORE_KINDS, startStore, type TestStore } from '../support/stores.ts';

const TENANTS = ['acme', 'globex', 'initech'] as const;

const RUNS: readonly AppRun[] = [
  { tenant: 'acme', instance: '1', temporality: 'cumulative', encoding: 'json' },
  { tenant: 'acme', instance: '2', temporality: 'delta', encoding: 'protobuf', rounds: 5 },
  { tenant: 'globex', instance: '1', temporality: 'cumulative', encoding: 'protobuf', rounds: 3 },
  { tenant: 'globex', instance: '2', temporality: 'delta', encoding: 'json' },
  { tenant: 'initech', instance: '1', temporality: 'delta', encoding: 'json', rounds: 6 },
  { tenant: 'initech', instance: '2', temporality: 'cumulative', encoding: 'protobuf' },
  // Claims to be acme inside the payload; the request's tenant header (initech) must win.
  { tenant: 'initech', instance: '3', temporality: 'cumulative', encoding: 'json', spoofTenant: 'acme' },
];

const tempDir = tempDirsRemovedAfterAll();
function recordedBy(summaries: readonly AppSummary[], tenant: string) {
  const mine = summaries.filter((summary) => summary.tenant === tenant);
  const total = (pick: (summary: AppSummary) => number) =>
    mine.reduce((sum, summary) => sum + pick(summary), 0);
  return {
    services: mine.map((summary) => summary.service).sort(),
    requests: total((s) => s.sums[METRICS.requests] ?? Number.NaN),
    sessions: total((s) => s.sums[METRICS.sessions] ?? Number.NaN),
    durationCount: total((s) => s.histograms[METRICS.duration]?.count ?? Number.NaN),
    durationSum: total((s) => s.histograms[METRICS.duration]?.sum ?? Number.NaN),
    storage: Object.assign({}, ...mine.map((s) => s.gauges[METRICS.storage])) as Record<string, number>,
  };
}

describe.each(STORE_KINDS)('stock OTLP exporters → collector process → ClickHouse (%s store)', (kind) => {
  const dataDir = tempDir(`e2e-${kind}`);
  let summaries: AppSummary[];
  let collectorExit: number | null;
  let collectorOutput: string;
  let store: TestStore;
  let stored: StoredUsage;
  const recorded = (tenant: string) => recordedBy(summaries, tenant);

  beforeAll(async () => {
    store = await startStore(kind, tempDir(`e2e-store-${kind}`));
    const collector = await startCollectorProcess({
      dataDir,
      // A short flush interval so the apps' exports land in several flushes (several parts per table).
      env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '300', TALLYHOUSE_LOG_LEVEL: 'warn', ...store.collectorEnv },
    });
    try {
      summaries = await Promise.all(RUNS.map((run) => runApp(collector.metricsUrl, run)));
    } finally {
      collectorExit = await collector.stop();
      collectorOutput = collector.output();
    }
    stored = store.open(dataDir);
  });

  afterAll(async () => {
    await stored?.close();
    await store?.close();
  });

  it('runs every app to completion and the collector drains and exits 0 on SIGTERM', () => {
    expect(summaries).toHaveLength(RUNS.length);
    expect(collectorExit, collectorOutput).toBe(0);
    expect(collectorOutput).not.toMatch(/"level":(50|60)/); // no error or fatal log lines
  });

  it.each(TENANTS)(
    'stores exactly the sums tenant %s recorded (counter and up-down counter)',
    async (tenant) => {
      const want = recorded(tenant);
      const totals = await stored.reader.sumTotals(tenant);
      expect(totals.map(({ metricName, unit, total }) => ({ metricName, unit, total }))).toEqual([
        { metricName: METRICS.requests, unit: '{request}', total: want.requests },
        { metricName: METRICS.sessions, unit: '{session}', total: want.sessions },
      ]);
    },
  );

  it('stores exactly what each app recorded, per service, whatever its temporality and encoding', async () => {
    const rows = await stored.rows<{
      TenantId: string;
      ServiceName: string;
      MetricName: string;
      Total: number;
    }>(
      `SELECT TenantId, ServiceName, MetricName, sum(Value) AS Total FROM {db}.otel_metrics_sum
       GROUP BY TenantId, ServiceName, MetricName`,
    );
    const histograms = await stored.rows<{ ServiceName: string; Count: string; Total: number }>(
      `SELECT ServiceName, sum(Count) AS Count, sum(Sum) AS Total FROM {db}.otel_metrics_histogram
       GROUP BY ServiceName`,
    );
    for (const summary of summaries) {
      const sums = rows.filter((row) => row.ServiceName === summary.service);
      expect(sums.every((row) => row.TenantId === summary.tenant)).toBe(true);
      const total = (metric: string) => sums.find((row) => row.MetricName === metric)?.Total;
      expect(
        {
          service: summary.service,
          requests: total(METRICS.requests),
          sessions: total(METRICS.sessions),
          histogram: histograms
            .filter((row) => row.ServiceName === summary.service)
            .map((row) => ({ count: Number(row.Count), sum: row.Total }))[0],
        },
        `${summary.temporality} over ${summary.encoding}`,
      ).toEqual({
        service: summary.service,
        requests: summary.sums[METRICS.requests],
        sessions: summary.sums[METRICS.sessions],
        histogram: summary.histograms[METRICS.duration],
      });
    }
  });

  it('stores every sum row as a delta with the source monotonicity', async () => {
    const rows = await stored.rows<{ MetricName: string; Temporalities: number[]; Monotonic: boolean[] }>(
      `SELECT MetricName, groupUniqArray(AggregationTemporality) AS Temporalities,
              groupUniqArray(IsMonotonic) AS Monotonic
       FROM {db}.otel_metrics_sum GROUP BY MetricName ORDER BY MetricName`,
    );
    expect(rows).toEqual([
      { MetricName: METRICS.requests, Temporalities: [1], Monotonic: [true] },
      { MetricName: METRICS.sessions, Temporalities: [1], Monotonic: [false] },
    ]);
  });

  it.each(TENANTS)('stores exactly the histogram count and sum tenant %s recorded', async (tenant) => {
    const want = recorded(tenant);
    const points = await stored.reader.points(tenant, 'histogram', {}, METRICS.duration);
    let count = 0;
    let sum = 0;
    for (const point of points) {
      const value = point.value as { count: number; sum: number };
      count += value.count;
      sum += value.sum;
    }
    expect({ count, sum }).toEqual({ count: want.durationCount, sum: want.durationSum });
  });

  it.each(TENANTS)('keeps the latest gauge value of every instance of tenant %s', async (tenant) => {
    const want = recorded(tenant);
    const latest = await stored.reader.gaugeLatest(tenant, { metric: METRICS.storage });
    const got = Object.fromEntries(latest.map((gauge) => [gauge.attributes.instance, gauge.value]));
    expect(got).toEqual(want.storage);
  });

  it('writes each tenant only under its own TenantId: no tenant sees another tenant’s services', async () => {
    const rows = await stored.rows<{ TenantId: string; Services: string[] }>(
      `SELECT TenantId, arraySort(groupUniqArray(ServiceName)) AS Services FROM (
         SELECT TenantId, ServiceName FROM {db}.otel_metrics_sum
         UNION ALL SELECT TenantId, ServiceName FROM {db}.otel_metrics_gauge
         UNION ALL SELECT TenantId, ServiceName FROM {db}.otel_metrics_histogram
         UNION ALL SELECT TenantId, ServiceName FROM {db}.otel_metrics_exponential_histogram
       ) GROUP BY TenantId ORDER BY TenantId`,
    );
    expect(rows).toEqual(
      TENANTS.map((tenant) => ({ TenantId: tenant, Services: recorded(tenant).services })),
    );
    for (const tenant of TENANTS) {
      const others = new Set(
        TENANTS.filter((other) => other !== tenant).flatMap((o) => recorded(o).services),
      );
      const points = [
        ...(await stored.reader.points(tenant, 'sum')),
        ...(await stored.reader.points(tenant, 'gauge')),
        ...(await stored.reader.points(tenant, 'histogram')),
      ];
      expect(points.length).toBeGreaterThan(0);
      for (const point of points) {
        expect(point.tenant).toBe(tenant);
        expect(others.has(String(point.resource['service.name']))).toBe(false);
      }
    }
  });

  it('ignores a tenant.id attribute in the payload: the request header decides, and it is not stored in Attributes', async () => {
    const spoofed = await stored.rows<{ TenantId: string; Rows: string }>(
      `SELECT TenantId, count() AS Rows FROM {db}.otel_metrics_sum
       WHERE ServiceName = 'app-initech-3' GROUP BY TenantId`,
    );
    expect(spoofed).toEqual([{ TenantId: 'initech', Rows: expect.any(String) }]);
    const withTenantKey = await stored.rows<{ Rows: string }>(
      `SELECT count() AS Rows FROM (
         SELECT Attributes FROM {db}.otel_metrics_sum UNION ALL SELECT Attributes FROM {db}.otel_metrics_gauge
         UNION ALL SELECT Attributes FROM {db}.otel_metrics_histogram
       ) WHERE mapContains(Attributes, 'tenant.id')`,
    );
    expect(withTenantKey).toEqual([{ Rows: '0' }]);
  });

  it('returns nothing for a tenant that sent nothing', async () => {
    expect(await stored.reader.sumTotals('umbrella')).toEqual([]);
    expect(await stored.reader.gaugeLatest('umbrella')).toEqual([]);
    expect(await stored.reader.points('umbrella', 'histogram')).toEqual([]);
  });
});
