/**
 * Several collectors, one store, a load balancer in front — every piece real and in its own process:
 *
 *   stock OTel SDK apps (7 tenants, delta; OTLP/HTTP protobuf and JSON, OTLP/gRPC)
 *     ──► nginx (127.0.0.1, consistent hash of x-tenant-id, else the API key; later round-robin)
 *     ──► 3 collector processes (bin.ts, own data dir and ports)
 *     ──► one ClickHouse over HTTP (the test endpoint)
 *
 * Tenant hash: every request of a tenant reaches one collector (nginx's access log, cross-checked against each
 * collector's own request counters); the API key routes the same way when there is no tenant header; taking a
 * collector out moves exactly its tenants and putting it back restores the placement; per-tenant totals in the
 * shared store are exact (the delta counter and histogram). Round-robin: one tenant's requests spread over the
 * collectors, and delta inputs are still exact: they need no affinity. Cumulative inputs (which do) are not
 * checked here; the apps' up-down counter is cumulative whatever the preference and is left out of the totals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killStrayProcesses } from '../../packages/collector/test/support/node-process.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { type AppTally, startTallyingApp } from '../chaos/support.ts';
import { type AppSummary, METRICS } from '../fixtures/app-summary.ts';
import { type FleetCollector, sampleValue, startCollectors } from '../support/collectors.ts';
import { ensureNginx, type Nginx, type NginxAccessEntry, startNginx } from '../support/nginx.ts';
import { type AppRun, runApp } from '../support/run-app.ts';
import type { StoredUsage } from '../support/stored-usage.ts';
import { startStore, type TestStore } from '../support/stores.ts';

const COLLECTORS = 3;
/** Tenant names probed through nginx; the tenants are picked from them so that every collector gets some. */
const CANDIDATES = Array.from({ length: 36 }, (_, i) => `tenant-${String(i).padStart(2, '0')}`);
/** 6 tenants over OTLP/HTTP, one more over OTLP/gRPC. */
const HTTP_TENANTS = 6;
const ROUNDS = 6;
const GRPC_EXPORT = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

const tempDir = tempDirsRemovedAfterAll();
let store: TestStore | undefined;
let collectors: FleetCollector[] = [];
let nginx: Nginx | undefined;
let stored: StoredUsage | undefined;

afterAll(async () => {
  await stored?.close();
  await nginx?.stop();
  await Promise.all(collectors.map((collector) => collector.kill()));
  await store?.close();
  killStrayProcesses();
});

/** One phase's apps: a delta app per tenant (protobuf and JSON alternating), two tenants with a second one. */
function phaseRuns(phase: string, tenants: readonly string[]): AppRun[] {
  return [
    ...tenants.map(
      (tenant, i): AppRun => ({
        tenant,
        instance: `${phase}-1`,
        temporality: 'delta',
        encoding: i % 2 === 0 ? 'protobuf' : 'json',
        rounds: ROUNDS,
      }),
    ),
    ...tenants.slice(0, 2).map(
      (tenant, i): AppRun => ({
        tenant,
        instance: `${phase}-2`,
        temporality: 'delta',
        encoding: i % 2 === 0 ? 'json' : 'protobuf',
        rounds: ROUNDS - 1,
      }),
    ),
  ];
}

interface ServiceTotals {
  tenant: string;
  /** The counter: the fixture app's, or the tallying (gRPC) app's. */
  metric: string;
  requests: number;
  durationCount: number;
  durationSum: number;
}

/**
 * What the apps recorded on their delta instruments: the counter and the histogram. Not the up-down counter: the
 * SDK keeps it cumulative whatever the temporality preference, and cumulative inputs are not this test's subject.
 */
function expectedOf(summaries: readonly AppSummary[]): Record<string, ServiceTotals> {
  return Object.fromEntries(
    summaries.map((s) => [
      s.service,
      {
        tenant: s.tenant,
        metric: METRICS.requests,
        requests: s.sums[METRICS.requests] ?? Number.NaN,
        durationCount: s.histograms[METRICS.duration]?.count ?? Number.NaN,
        durationSum: s.histograms[METRICS.duration]?.sum ?? Number.NaN,
      },
    ]),
  );
}

function grpcExpected(tally: AppTally): ServiceTotals {
  return {
    tenant: tally.tenant,
    metric: 'chaos.requests',
    requests: tally.totals['chaos.requests'] ?? Number.NaN,
    durationCount: 0,
    durationSum: 0,
  };
}

/** What the shared store holds per service (sum metrics and the histogram), shaped like `ServiceTotals`. */
async function storedByService(
  usage: StoredUsage,
  services: Readonly<Record<string, ServiceTotals>>,
): Promise<Record<string, ServiceTotals>> {
  const sums = await usage.rows<{ TenantId: string; ServiceName: string; MetricName: string; Total: number }>(
    `SELECT TenantId, ServiceName, MetricName, sum(Value) AS Total FROM {db}.otel_metrics_sum
     GROUP BY TenantId, ServiceName, MetricName`,
  );
  const histograms = await usage.rows<{ ServiceName: string; Count: string; Total: number }>(
    `SELECT ServiceName, sum(Count) AS Count, sum(Sum) AS Total FROM {db}.otel_metrics_histogram
     GROUP BY ServiceName`,
  );
  const result: Record<string, ServiceTotals> = {};
  for (const [service, want] of Object.entries(services)) {
    const mine = sums.filter((row) => row.ServiceName === service);
    const total = (metric: string) => mine.find((row) => row.MetricName === metric)?.Total ?? 0;
    const histogram = histograms.find((row) => row.ServiceName === service);
    result[service] = {
      tenant: [...new Set(mine.map((row) => row.TenantId))].join(','),
      metric: want.metric,
      requests: total(want.metric),
      durationCount: Number(histogram?.Count ?? 0),
      durationSum: histogram?.Total ?? 0,
    };
  }
  return result;
}

/** Polls the store until it holds `expected` (collectors flush every 300 ms), or 30 s passed; the last read. */
async function storedWhenSettled(
  usage: StoredUsage,
  expected: Readonly<Record<string, ServiceTotals>>,
): Promise<Record<string, ServiceTotals>> {
  const until = Date.now() + 30_000;
  for (;;) {
    const seen = await storedByService(usage, expected);
    if (JSON.stringify(seen) === JSON.stringify(expected) || Date.now() > until) return seen;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('several collectors behind nginx, one store', () => {
  const proxy = () => nginx as Nginx;
  /** `host:port` (HTTP or gRPC) → collector index. */
  const collectorOf = new Map<string, number>();
  /** Candidate tenant → the collector its probes reached. */
  let placement = new Map<string, string>();
  let httpTenants: string[] = [];
  let grpcTenant = '';
  const expected: Record<string, ServiceTotals> = {};
  const durations: Record<string, number> = {};
  let started = 0;

  /** The access-log entries after `from` once there are `count` of them (a line is written after its answer). */
  async function entriesAfter(from: number, count: number): Promise<NginxAccessEntry[]> {
    const until = Date.now() + 10_000;
    for (;;) {
      const entries = proxy().accessLog().slice(from);
      if (entries.length >= count || Date.now() > until) return entries;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** The access-log entries after `from`, once no line was added for 300 ms (every client has its answers). */
  async function settledEntriesAfter(from: number): Promise<NginxAccessEntry[]> {
    const until = Date.now() + 20_000;
    let entries = proxy().accessLog().slice(from);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const again = proxy().accessLog().slice(from);
      if (again.length === entries.length || Date.now() > until) return again;
      entries = again;
    }
  }

  /** One GET per header set (the collector answers 405: nothing is counted); the upstream each reached. */
  async function probe(headers: readonly Record<string, string>[]): Promise<string[]> {
    const from = proxy().accessLog().length;
    for (const header of headers) {
      const response = await fetch(proxy().metricsUrl, {
        headers: header,
        signal: AbortSignal.timeout(10_000),
      });
      await response.body?.cancel();
      expect(response.status).toBe(405);
    }
    const entries = await entriesAfter(from, headers.length);
    expect(entries).toHaveLength(headers.length);
    return entries.map((entry) => entry.upstream);
  }

  /** `tenant` → collectors its OTLP requests (HTTP POSTs and gRPC exports) reached, in access-log entries. */
  function collectorsByTenant(entries: readonly NginxAccessEntry[]): Record<string, number[]> {
    const reached: Record<string, Set<number>> = {};
    for (const entry of entries) {
      if (entry.uri !== '/v1/metrics' && entry.uri !== GRPC_EXPORT) continue;
      if (entry.uri === '/v1/metrics' && entry.method !== 'POST') continue;
      const collector = collectorOf.get(entry.upstream);
      if (collector === undefined)
        throw new Error(`request to an unknown upstream: ${JSON.stringify(entry)}`);
      const set = reached[entry.tenant] ?? new Set<number>();
      set.add(collector);
      reached[entry.tenant] = set;
    }
    return Object.fromEntries(
      Object.entries(reached)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([tenant, set]) => [tenant, [...set].sort()]),
    );
  }

  beforeAll(async () => {
    // Installs nginx first when missing (root on Debian), outside the timing of the rest.
    await ensureNginx();
    started = performance.now();
    store = await startStore('http', tempDir('several-store'));
    collectors = await startCollectors({
      count: COLLECTORS,
      dataDir: (index) => tempDir(`several-collector-${index}`),
      grpc: true,
      env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '300', TALLYHOUSE_LOG_LEVEL: 'warn', ...store.collectorEnv },
    });
    for (const collector of collectors) {
      collectorOf.set(collector.address, collector.index);
      collectorOf.set(collector.grpcAddress ?? '', collector.index);
    }
    nginx = await startNginx({
      dir: tempDir('several-nginx'),
      upstreams: collectors.map((collector) => collector.address),
      grpcUpstreams: collectors.map((collector) => collector.grpcAddress ?? ''),
      routing: 'tenant-hash',
    });
    stored = store.open('');
    durations.setupMs = Math.round(performance.now() - started);
  }, 300_000);

  it('hashes each tenant (else its API key) to one collector, and every collector gets tenants', async () => {
    const upstreams = await probe([
      ...CANDIDATES.map((tenant) => ({ 'x-tenant-id': tenant })),
      ...CANDIDATES.map((tenant) => ({ 'x-tenant-id': tenant, authorization: 'Bearer shared' })),
    ]);
    placement = new Map(CANDIDATES.map((tenant, i) => [tenant, upstreams[i] ?? '']));
    // The same tenant, the same collector, whatever else the request carries: the tenant header wins.
    expect(upstreams.slice(CANDIDATES.length)).toEqual(upstreams.slice(0, CANDIDATES.length));
    const byCollector = collectors.map((collector) =>
      CANDIDATES.filter((tenant) => placement.get(tenant) === collector.address),
    );
    for (const tenants of byCollector) expect(tenants.length).toBeGreaterThan(0);
    // Tenants taken in turn from each collector's share: every collector serves some of them.
    const picked: string[] = [];
    for (let i = 0; picked.length < HTTP_TENANTS + 1; i++)
      for (const tenants of byCollector)
        if (tenants[i] !== undefined && picked.length < HTTP_TENANTS + 1) picked.push(tenants[i]!);
    httpTenants = picked.slice(0, HTTP_TENANTS);
    grpcTenant = picked[HTTP_TENANTS]!;

    // No tenant header: the API key picks the collector, the same one for every request with that key.
    const keys = Array.from({ length: 6 }, (_, i) => `Bearer key-${i}`);
    const byKey = await probe([...keys, ...keys, ...keys].map((authorization) => ({ authorization })));
    for (const [i] of keys.entries())
      expect(new Set([byKey[i], byKey[i + keys.length], byKey[i + 2 * keys.length]]).size).toBe(1);
    const keyEntries = proxy()
      .accessLog()
      .slice(-3 * keys.length);
    expect(keyEntries.every((entry) => entry.tenant === '')).toBe(true);
    expect(keyEntries.map((entry) => entry.key)).toEqual([...keys, ...keys, ...keys]);
    console.log(
      `several-collectors placement ${JSON.stringify({
        tenantsPerCollector: byCollector.map((tenants) => tenants.length),
        picked: picked.map((tenant) => `${tenant}→${collectorOf.get(placement.get(tenant) ?? '')}`),
      })}`,
    );
  });

  it('scale-down moves only the removed collector’s tenants; scale-up restores the placement', async () => {
    const [first, second, third] = collectors as [FleetCollector, FleetCollector, FleetCollector];
    await proxy().setUpstreams(
      [first.address, second.address],
      [first.grpcAddress ?? '', second.grpcAddress ?? ''],
    );
    const down = await probe(CANDIDATES.map((tenant) => ({ 'x-tenant-id': tenant })));
    const moved = CANDIDATES.filter((tenant, i) => down[i] !== placement.get(tenant));
    expect(moved).toEqual(CANDIDATES.filter((tenant) => placement.get(tenant) === third.address));
    for (const upstream of down) expect([first.address, second.address]).toContain(upstream);

    await proxy().setUpstreams(
      collectors.map((collector) => collector.address),
      collectors.map((collector) => collector.grpcAddress ?? ''),
    );
    const up = await probe(CANDIDATES.map((tenant) => ({ 'x-tenant-id': tenant })));
    expect(up).toEqual(CANDIDATES.map((tenant) => placement.get(tenant)));
    console.log(`several-collectors scale-down moved ${moved.length} of ${CANDIDATES.length} tenants`);
  });

  it('tenant hash: each tenant’s exports reach one collector; the shared store holds exact per-tenant totals', async () => {
    const phaseStarted = performance.now();
    const from = proxy().accessLog().length;
    const grpcApp = startTallyingApp({
      url: proxy().metricsUrl,
      grpcUrl: proxy().grpcUrl ?? '',
      protocol: 'grpc',
      tenant: grpcTenant,
      service: `${grpcTenant}-grpc-hash`,
      temporality: 'delta',
      intervalMs: 100,
    });
    const summaries = await Promise.all(
      phaseRuns('hash', httpTenants).map((run) => runApp(proxy().metricsUrl, run)),
    );
    const grpcTally = await grpcApp.finish();
    expect(grpcTally.stats.failed, JSON.stringify(grpcTally.failures)).toBe(0);
    expect(grpcTally.stats.succeeded).toBeGreaterThan(0);

    const entries = await settledEntriesAfter(from);
    const reached = collectorsByTenant(entries);
    expect(Object.keys(reached).sort()).toEqual([...httpTenants, grpcTenant].sort());
    for (const tenant of httpTenants)
      expect(reached[tenant], tenant).toEqual([collectorOf.get(placement.get(tenant) ?? '')]);
    expect(reached[grpcTenant]).toHaveLength(1);
    expect(new Set(Object.values(reached).flat()).size).toBe(COLLECTORS);
    expect(entries.every((entry) => entry.status === 200 && !entry.upstream.includes(','))).toBe(true);
    for (const tenant of httpTenants)
      expect(entries.filter((e) => e.tenant === tenant && e.method === 'POST').length).toBeGreaterThanOrEqual(
        ROUNDS,
      );

    const want = { ...expectedOf(summaries), [grpcTally.service]: grpcExpected(grpcTally) };
    Object.assign(expected, want);
    expect(await storedWhenSettled(stored as StoredUsage, want)).toEqual(want);
    durations.tenantHashMs = Math.round(performance.now() - phaseStarted);
    console.log(`several-collectors tenant hash ${JSON.stringify({ reached, requests: entries.length })}`);
  }, 120_000);

  it('round-robin: one tenant’s exports spread over the collectors, and delta inputs stay exact', async () => {
    const phaseStarted = performance.now();
    await proxy().setRouting('round-robin');
    const from = proxy().accessLog().length;
    const grpcApp = startTallyingApp({
      url: proxy().metricsUrl,
      grpcUrl: proxy().grpcUrl ?? '',
      protocol: 'grpc',
      tenant: grpcTenant,
      service: `${grpcTenant}-grpc-rr`,
      temporality: 'delta',
      intervalMs: 100,
    });
    const summaries = await Promise.all(
      phaseRuns('rr', httpTenants).map((run) => runApp(proxy().metricsUrl, run)),
    );
    const grpcTally = await grpcApp.finish();
    expect(grpcTally.stats.failed, JSON.stringify(grpcTally.failures)).toBe(0);

    const entries = await settledEntriesAfter(from);
    const reached = collectorsByTenant(entries);
    for (const tenant of [...httpTenants, grpcTenant])
      expect(reached[tenant]?.length ?? 0, tenant).toBeGreaterThan(1);
    expect(entries.every((entry) => entry.status === 200)).toBe(true);

    const want = { ...expectedOf(summaries), [grpcTally.service]: grpcExpected(grpcTally) };
    Object.assign(expected, want);
    expect(await storedWhenSettled(stored as StoredUsage, want)).toEqual(want);
    durations.roundRobinMs = Math.round(performance.now() - phaseStarted);
    console.log(`several-collectors round-robin ${JSON.stringify({ reached, requests: entries.length })}`);
  }, 120_000);

  it('nginx’s log agrees with the collectors’ own counts; after they drain and exit, every total is still exact', async () => {
    // What each collector says it answered equals what nginx says it sent it.
    const log = proxy().accessLog();
    let misroutedStreams = 0;
    for (const collector of collectors) {
      const text = await collector.scrape();
      misroutedStreams += sampleValue(text, 'tallyhouse_streams_misrouted_total');
      const mine = log.filter((entry) => collectorOf.get(entry.upstream) === collector.index);
      expect(
        sampleValue(text, 'tallyhouse_http_requests_total', { route: '/v1/metrics', status: '200' }),
      ).toBe(mine.filter((entry) => entry.uri === '/v1/metrics' && entry.status === 200).length);
      expect(
        sampleValue(text, 'tallyhouse_http_requests_total', { route: '/v1/metrics', status: '405' }),
      ).toBe(mine.filter((entry) => entry.uri === '/v1/metrics' && entry.status === 405).length);
      expect(sampleValue(text, 'tallyhouse_grpc_calls_total', { method: 'Export', code: 'OK' })).toBe(
        mine.filter((entry) => entry.uri === GRPC_EXPORT && entry.status === 200).length,
      );
    }
    await proxy().stop();
    const exits = await Promise.all(collectors.map((collector) => collector.stop(30_000)));
    expect(exits, collectors.map((collector) => collector.output()).join('\n')).toEqual(
      collectors.map(() => 0),
    );
    // No error, but one: under round-robin the apps' cumulative up-down counter is misrouted, which the
    // collectors detect and report as an error (it is left out of the totals here).
    const errors = collectors.flatMap((collector) =>
      collector
        .output()
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line) && !line.includes('cumulative stream misrouted')),
    );
    expect(errors).toEqual([]);

    // Nothing was added after the phases settled: both phases exact, per service and per tenant.
    const usage = stored as StoredUsage;
    expect(await storedByService(usage, expected)).toEqual(expected);
    for (const tenant of httpTenants) {
      const totals = await usage.reader.sumTotals(tenant);
      const requests = Object.values(expected)
        .filter((service) => service.tenant === tenant)
        .reduce((sum, service) => sum + service.requests, 0);
      expect(totals.find((total) => total.metricName === METRICS.requests)?.total, tenant).toBe(requests);
    }
    const grpcTotals = await usage.reader.sumTotals(grpcTenant);
    expect(grpcTotals.map(({ metricName, total }) => ({ metricName, total }))).toEqual([
      {
        metricName: 'chaos.requests',
        total: Object.values(expected)
          .filter((service) => service.tenant === grpcTenant)
          .reduce((sum, service) => sum + service.requests, 0),
      },
    ]);
    // The shared store holds these tenants and no others (the probes were never counted).
    const tenants = await usage.rows<{ TenantId: string }>(
      'SELECT DISTINCT TenantId FROM {db}.otel_metrics_sum ORDER BY TenantId',
    );
    expect(tenants.map((row) => row.TenantId)).toEqual([...httpTenants, grpcTenant].sort());
    durations.totalMs = Math.round(performance.now() - started);
    console.log(
      `several-collectors durations ${JSON.stringify(durations)}, misrouted streams ${misroutedStreams}`,
    );
  }, 120_000);
});
