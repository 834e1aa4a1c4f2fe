/**
 * The usage the console tests and the screenshots look at, and the truth to check the console against: six
 * tenants' API requests by route (a delta sum every 10 minutes for 26 hours), compute seconds by region, and a
 * storage gauge per host, a CPU gauge ending on NaN — OTLP/JSON over a real socket — plus a counter and a gauge from the stock
 * OpenTelemetry SDK and its OTLP/HTTP exporter. Values come from a seeded generator: the same every run.
 */
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { seededRandom } from '../../../collector/test/support/seeded-random.ts';
import { type GaugePoint, otlpJson, type SumPoint, sendOtlpJson } from './otlp-json.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const QUARTER_HOUR = 15 * MINUTE;

/** Tenants by size; one has characters that must survive URLs and headers. */
export const TENANTS: readonly { readonly name: string; readonly weight: number }[] = [
  { name: 'acme', weight: 5 },
  { name: 'globex', weight: 3 },
  { name: 'initech', weight: 2 },
  { name: 'umbrella', weight: 1.2 },
  { name: 'hooli', weight: 0.6 },
  { name: 'café/eu', weight: 0.3 },
];
export const ROUTES: readonly { readonly route: string; readonly weight: number }[] = [
  { route: '/checkout', weight: 1 },
  { route: '/search', weight: 3 },
  { route: '/cart', weight: 1.5 },
  { route: '/login', weight: 0.5 },
];
export const REGIONS = ['eu-west', 'us-east'] as const;
export const HOSTS = ['web-1', 'web-2'] as const;

/** Limits of the tenant the screenshots show: a day quota and a rate limit. */
export const LIMITS = {
  tenants: { acme: { ratePointsPerSecond: 500, burst: 5000, quotaPoints: 50_000, quotaPeriod: 'day' } },
};

export interface SentPoint {
  readonly tenant: string;
  readonly metric: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly timeMs: number;
  readonly value: number;
}

export interface DemoTruth {
  /** Every sum point sent, SDK ones included. */
  readonly sums: readonly SentPoint[];
  /** Every gauge point sent over OTLP/JSON (with its host). */
  readonly gauges: readonly (SentPoint & { readonly host: string })[];
  /** What the SDK's observable gauge reported for acme. */
  readonly sdkQueueDepth: number;
}

/**
 * Sum points as the collector stores them when they reach it in one flush: the points of one series (tenant,
 * metric, attributes; every sum here comes from service "api") within one UTC quarter hour `(b, b + 15 min]` add up
 * into one row at the latest point's time (the processor README, "every point in its own quarter hour").
 */
export function storedSums(points: readonly SentPoint[]): SentPoint[] {
  const rows = new Map<string, SentPoint>();
  for (const p of points) {
    const quarter = Math.ceil(p.timeMs / QUARTER_HOUR);
    const key = JSON.stringify([p.tenant, p.metric, Object.entries(p.attributes).sort(), quarter]);
    const row = rows.get(key);
    rows.set(
      key,
      row === undefined ? p : { ...p, value: row.value + p.value, timeMs: Math.max(row.timeMs, p.timeMs) },
    );
  }
  return [...rows.values()];
}

/**
 * Gauge points as the collector stores them: per source series (tenant, metric, host) and UTC quarter hour, the
 * newest point wins.
 */
export function storedGauges<T extends SentPoint & { readonly host: string }>(points: readonly T[]): T[] {
  const rows = new Map<string, T>();
  for (const p of points) {
    const key = JSON.stringify([p.tenant, p.metric, p.host, Math.ceil(p.timeMs / QUARTER_HOUR)]);
    const row = rows.get(key);
    if (row === undefined || p.timeMs >= row.timeMs) rows.set(key, p);
  }
  return [...rows.values()].sort((a, b) => a.timeMs - b.timeMs);
}

/**
 * The total of `metric` for `tenant` in each bucket `(start, start + stepMs]` (times in ms), per value of
 * `groupBy` when given: what the console's chart must hold.
 */
export function expectedBuckets(
  truth: DemoTruth,
  query: { tenant?: string; metric: string; startsMs: readonly number[]; stepMs: number; groupBy?: string },
): Map<string, number[]> {
  const lines = new Map<string, number[]>();
  for (const p of storedSums(truth.sums)) {
    if (p.metric !== query.metric || (query.tenant !== undefined && p.tenant !== query.tenant)) continue;
    const index = query.startsMs.findIndex((start) => p.timeMs > start && p.timeMs <= start + query.stepMs);
    if (index < 0) continue;
    const key = query.groupBy === undefined ? '' : (p.attributes[query.groupBy] ?? '');
    let line = lines.get(key);
    if (line === undefined) {
      line = query.startsMs.map(() => 0);
      lines.set(key, line);
    }
    line[index]! += p.value;
  }
  return lines;
}

/** Sends the demo usage to the collector at `origin`, at times up to `now`. */
export async function ingestDemoData(origin: string, now: number): Promise<DemoTruth> {
  // Seeded: every run sends the same values.
  const random = seededRandom(20261205);
  const sums: SentPoint[] = [];
  const gauges: (SentPoint & { host: string })[] = [];
  // Points in the middle of 10-minute slots (never on a bucket edge), the last one a few minutes ago.
  const lastSlot = Math.floor(now / (10 * MINUTE)) * 10 * MINUTE - 5 * MINUTE + 17_000;
  const slots = Array.from({ length: 156 }, (_, k) => lastSlot - k * 10 * MINUTE).reverse();
  for (const tenant of TENANTS) {
    const requests: SumPoint[] = [];
    const compute: SumPoint[] = [];
    const storage: Record<string, GaugePoint[]> = { 'web-1': [], 'web-2': [] };
    for (const [i, time] of slots.entries()) {
      // A daily rhythm with a peak in the afternoon (UTC), and noise.
      const hour = new Date(time).getUTCHours() + new Date(time).getUTCMinutes() / 60;
      const rhythm = 1 + 0.6 * Math.sin(((hour - 9) / 24) * 2 * Math.PI);
      for (const route of ROUTES) {
        const value = Math.round(tenant.weight * route.weight * rhythm * (40 + 20 * random()));
        requests.push({ attributes: { route: route.route }, timeMs: time, value });
      }
      if (i % 3 === 0) {
        for (const region of REGIONS) {
          const value = Math.round(tenant.weight * rhythm * (2 + random()) * 1000) / 1000;
          compute.push({ attributes: { region }, timeMs: time, value });
        }
      }
      for (const host of HOSTS) {
        const base = tenant.weight * 2e9 * (host === 'web-1' ? 1 : 0.7);
        storage[host]!.push({
          attributes: {},
          timeMs: time,
          value: Math.round(base * (1 + i / 400 + random() / 50)),
        });
      }
    }
    const resources = [
      {
        resource: { 'service.name': 'api' },
        scope: { name: 'demo', version: '1' },
        metrics: [
          {
            kind: 'sum' as const,
            name: 'api.requests',
            unit: '{request}',
            intervalMs: 10 * MINUTE,
            points: requests,
          },
          { kind: 'sum' as const, name: 'compute.time', unit: 's', intervalMs: 30 * MINUTE, points: compute },
        ],
      },
      ...HOSTS.map((host) => ({
        resource: { 'service.name': 'storage', 'host.name': host },
        scope: { name: 'demo', version: '1' },
        metrics: [{ kind: 'gauge' as const, name: 'storage.used', unit: 'By', points: storage[host]! }],
      })),
    ];
    await sendOtlpJson(origin, tenant.name, otlpJson(resources));
    for (const p of requests) sums.push({ tenant: tenant.name, metric: 'api.requests', ...p });
    for (const p of compute) sums.push({ tenant: tenant.name, metric: 'compute.time', ...p });
    for (const host of HOSTS) {
      for (const p of storage[host]!)
        gauges.push({ tenant: tenant.name, metric: 'storage.used', host, ...p });
    }
  }
  // A gauge that ends on NaN (gauges may hold any double): hooli's CPU, once a minute for the last 40 minutes (more
  // than two quarter hours, so some value is stored before the NaN whatever the time).
  const cpuSlots = Array.from(
    { length: 40 },
    (_, k) => Math.floor(now / MINUTE) * MINUTE - (40 - k) * MINUTE + 30_000,
  );
  const cpu = cpuSlots.map((timeMs, k) => ({
    attributes: {},
    timeMs,
    value: k === 39 ? Number.NaN : 0.25 + k / 100,
  }));
  await sendOtlpJson(
    origin,
    'hooli',
    otlpJson([
      {
        resource: { 'service.name': 'worker', 'host.name': 'cpu-1' },
        scope: { name: 'demo', version: '1' },
        metrics: [{ kind: 'gauge', name: 'cpu.utilization', unit: '1', points: cpu }],
      },
    ]),
  );
  for (const p of cpu) gauges.push({ tenant: 'hooli', metric: 'cpu.utilization', host: 'cpu-1', ...p });
  const sdk = await exportWithStockSdk(origin, 'acme');
  sums.push(...sdk.sums);
  return { sums, gauges, sdkQueueDepth: sdk.queueDepth };
}

/** The stock OpenTelemetry SDK with its OTLP/HTTP exporter: a counter and an observable gauge, exported once. */
async function exportWithStockSdk(
  origin: string,
  tenant: string,
): Promise<{ sums: SentPoint[]; queueDepth: number }> {
  const exporter = new OTLPMetricExporter({
    url: `${origin}/v1/metrics`,
    headers: { 'x-tenant-id': tenant },
  });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: HOUR });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'api', 'host.name': 'sdk-1' }),
    readers: [reader],
  });
  const meter = provider.getMeter('console-demo', '1');
  const counter = meter.createCounter('api.requests', { unit: '{request}' });
  const queueDepth = 42;
  meter.createObservableGauge('queue.depth', { unit: '{job}' }).addCallback((result) => {
    result.observe(queueDepth, { queue: 'billing' });
  });
  // The SDK stamps its points when it collects: not within 2 s of a minute's end, so the time recorded here is
  // in the same minute (and hour, and day) bucket as the stored one.
  const toNextMinute = MINUTE - (Date.now() % MINUTE);
  if (toNextMinute < 2_000) await new Promise((resolve) => setTimeout(resolve, toNextMinute + 100));
  const timeMs = Date.now();
  counter.add(7, { route: '/checkout' });
  counter.add(5, { route: '/checkout' });
  // One export, at shutdown (a forceFlush first would export the counter and the gauge twice).
  await provider.shutdown();
  return {
    sums: [{ tenant, metric: 'api.requests', attributes: { route: '/checkout' }, timeMs, value: 12 }],
    queueDepth,
  };
}
