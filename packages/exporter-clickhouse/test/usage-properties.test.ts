/**
 * Properties of the usage reader on random data in the real engine:
 * - isolation: whatever the tenant and the query, nothing of another tenant comes back, and every SQL text sent
 *   carries the tenant predicate and binds that tenant;
 * - rollups: every query answered from rollups + raw edges equals the raw-table answer exactly (integer values,
 *   so float sums are exact), and totals equal an in-memory model of the rows. Gauges come from several sources
 *   (hosts and scope versions) with equal point attributes: per-source and combined answers agree too.
 */
import type { SeriesPoint } from '@tallyhouse/model';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GAUGE_COMBINES,
  type GaugeCombine,
  type StorageConnection,
  type TimeRange,
  type UsageFilter,
  UsageReader,
} from '../src/index.ts';
import { assertTenantScoped, TENANT_PREDICATE } from '../src/usage/tenant-scope.ts';
import {
  gaugePoint,
  histogramPoint,
  recordingConnection,
  storeExporter,
  storeStorage,
  sumPoint,
  tempDir,
} from './support.ts';

const dataDir = tempDir('usage-properties');
const HOUR = 3_600_000_000_000n;
const DAY = 24n * HOUR;
/** 2024-03-10T00:00:00Z; data spans five days from here. */
const START = 1_710_028_800_000_000_000n;
const SPAN = 5n * DAY;
const TENANTS = ['t-alpha', 't-beta', 't-gamma', 't-delta'];
const ROUTES = ['/a', '/b', '/c', '/d', '/e'];
const REGIONS = ['eu', 'us', 'ap'];
const HOSTS = ['host-1', 'host-2', 'host-3'];

/** Deterministic data (mulberry32): the properties below vary the queries. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface SumRow {
  tenant: string;
  metric: string;
  route: string;
  region: string;
  time: bigint;
  value: number;
}

const sums: SumRow[] = [];
const points: SeriesPoint[] = [];

function generate(): void {
  const next = random(20240310);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const time = (): bigint => {
    // One in eight rows exactly on an hour boundary (the bucket convention's edge case).
    const offset = BigInt(Math.floor(next() * Number(SPAN / 1_000_000n))) * 1_000_000n;
    return next() < 0.125 ? START + (offset / HOUR) * HOUR + HOUR : START + offset + 1n;
  };
  for (let i = 0; i < 6_000; i++) {
    const row: SumRow = {
      tenant: pick(TENANTS),
      metric: pick(['api.requests', 'bytes.out']),
      route: pick(ROUTES),
      region: pick(REGIONS),
      time: time(),
      value: Math.floor(next() * 1_000),
    };
    sums.push(row);
    points.push(
      sumPoint(row.value, {
        tenant: row.tenant,
        name: row.metric,
        time: row.time,
        start: row.time - 1n,
        attributes: { owner: row.tenant, route: row.route, region: row.region },
      }),
    );
  }
  // Gauges: distinct times everywhere (a tie has no defined winner), several series per tenant, each reported
  // by several sources — hosts and scope versions — with the same point attributes.
  const stride = SPAN / 2_000n;
  for (let i = 0; i < 2_000; i++) {
    const tenant = pick(TENANTS);
    const at = START + BigInt(i) * stride + BigInt(Math.floor(next() * Number(stride / 1_000n))) + 1n;
    const point = gaugePoint(Math.floor(next() * 100), {
      tenant,
      name: 'queue.depth',
      time: at,
      start: at,
      attributes: { owner: tenant, queue: pick(['q1', 'q2', 'q3']) },
    });
    points.push({
      ...point,
      resource: { 'service.name': 'checkout', 'host.name': pick(HOSTS) },
      scope: { name: 'queue-meter', version: pick(['1', '2']) },
    });
  }
  for (let i = 0; i < 1_500; i++) {
    const tenant = pick(TENANTS);
    const bounds = pick([
      [10, 100, 1_000],
      [5, 50],
    ]);
    const counts = Array.from({ length: bounds.length + 1 }, () => Math.floor(next() * 5));
    const at = time();
    points.push(
      histogramPoint(
        {
          count: counts.reduce((a, b) => a + b, 0),
          sum: Math.floor(next() * 10_000),
          bounds,
          bucketCounts: counts,
        },
        {
          tenant,
          name: 'http.duration',
          time: at,
          start: at - 1n,
          attributes: { owner: tenant, route: pick(ROUTES) },
        },
      ),
    );
  }
}

interface Sent {
  sql: string;
  params: Record<string, unknown> | undefined;
}

let connection: StorageConnection;
let sent: Sent[] = [];
let rollups: UsageReader;
let raw: UsageReader;

beforeAll(async () => {
  generate();
  const exporter = storeExporter(dataDir);
  for (let offset = 0; offset < points.length; offset += 1_000) {
    const result = await exporter.consumeBatch({
      id: `batch-${offset}`,
      points: points.slice(offset, offset + 1_000),
    });
    expect(result.ok).toBe(true);
  }
  await exporter.shutdown();
  connection = storeStorage(dataDir);
  rollups = new UsageReader(
    recordingConnection(connection, (sql, params) => sent.push({ sql, params })),
    'otel',
  );
  raw = new UsageReader(connection, 'otel', { useRollups: false });
}, 120_000);

afterAll(async () => {
  await connection.close();
});

const instant = fc.oneof(
  // Whole hours and days, and arbitrary nanoseconds, a day either side of the data.
  fc.integer({ min: -24, max: 24 * 6 }).map((hours) => START + BigInt(hours) * HOUR),
  fc.integer({ min: -1, max: 6 }).map((days) => START + BigInt(days) * DAY),
  fc.bigInt({ min: START - DAY, max: START + SPAN + DAY }),
);

const rangeArb: fc.Arbitrary<TimeRange> = fc
  .record({ from: fc.option(instant, { nil: undefined }), to: fc.option(instant, { nil: undefined }) })
  .map(({ from, to }) => ({
    ...(from === undefined ? {} : { fromUnixNano: from }),
    ...(to === undefined ? {} : { toUnixNano: to }),
  }));

const filterArb = fc.record(
  {
    routes: fc.subarray(ROUTES, { minLength: 1 }),
    region: fc.constantFrom(...REGIONS),
  },
  { requiredKeys: [] },
);

function attributesOf(filter: { routes?: string[]; region?: string }): Record<string, string | string[]> {
  const attributes: Record<string, string | string[]> = {};
  if (filter.routes !== undefined) attributes.route = filter.routes;
  if (filter.region !== undefined) attributes.region = filter.region;
  return attributes;
}

function modelTotal(
  tenant: string,
  metric: string,
  range: TimeRange,
  filter: { routes?: string[]; region?: string },
) {
  let total = 0;
  let rows = 0;
  for (const row of sums) {
    if (row.tenant !== tenant || row.metric !== metric) continue;
    if (range.fromUnixNano !== undefined && row.time <= range.fromUnixNano) continue;
    if (range.toUnixNano !== undefined && row.time > range.toUnixNano) continue;
    if (filter.routes !== undefined && !filter.routes.includes(row.route)) continue;
    if (filter.region !== undefined && row.region !== filter.region) continue;
    total += row.value;
    rows += 1;
  }
  return { total, rows };
}

/** A bounded range for time series (both ends, ordered). */
function seriesRange(range: TimeRange) {
  const a = range.fromUnixNano ?? START - HOUR;
  const b = range.toUnixNano ?? START + SPAN + HOUR;
  return a <= b ? { fromUnixNano: a, toUnixNano: b } : { fromUnixNano: b, toUnixNano: a };
}

type QueryName =
  | 'total'
  | 'sumTotals'
  | 'topN'
  | 'gaugeLatest'
  | 'gaugeLatestCombined'
  | 'percentiles'
  | 'sumSeries'
  | 'gaugeSeries'
  | 'gaugeSeriesCombined'
  | 'points';

async function ask(
  reader: UsageReader,
  name: QueryName,
  tenant: string,
  range: TimeRange,
  filter: UsageFilter,
  step: '1h' | '1d',
  combine: GaugeCombine = 'sum',
) {
  const metric = 'api.requests';
  switch (name) {
    case 'total':
      return reader.total(tenant, { ...filter, metric, range });
    case 'sumTotals':
      return reader.sumTotals(tenant, range);
    case 'topN':
      return reader.topN(tenant, { ...filter, metric, range, by: 'owner', limit: 10 });
    case 'gaugeLatest':
      return reader.gaugeLatest(tenant, { metric: 'queue.depth', range });
    case 'gaugeLatestCombined':
      return reader.gaugeLatest(tenant, { metric: 'queue.depth', range, combine });
    case 'percentiles':
      return reader.percentiles(tenant, { metric: 'http.duration', range, quantiles: [0.5, 0.99] });
    case 'sumSeries':
      return reader.timeSeries(tenant, {
        ...filter,
        metric,
        kind: 'sum',
        step,
        range: seriesRange(range),
        groupBy: 'owner',
      });
    case 'gaugeSeries':
      return reader.timeSeries(tenant, {
        metric: 'queue.depth',
        kind: 'gauge',
        step,
        range: seriesRange(range),
      });
    case 'gaugeSeriesCombined':
      return reader.timeSeries(tenant, {
        metric: 'queue.depth',
        kind: 'gauge',
        step,
        range: seriesRange(range),
        combine,
      });
    case 'points':
      return reader.points(tenant, 'sum', range);
  }
}

const QUERIES: QueryName[] = [
  'total',
  'sumTotals',
  'topN',
  'gaugeLatest',
  'gaugeLatestCombined',
  'percentiles',
  'sumSeries',
  'gaugeSeries',
  'gaugeSeriesCombined',
  'points',
];

describe('usage reads on random data', () => {
  it('never return another tenant’s rows, and every SQL sent carries and binds the tenant', async () => {
    let rollupReads = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TENANTS, 'not-a-tenant'),
        fc.constantFrom(...QUERIES),
        rangeArb,
        filterArb,
        fc.constantFrom('1h' as const, '1d' as const),
        async (tenant, name, range, filter, step) => {
          sent = [];
          const result = await ask(rollups, name, tenant, range, { attributes: attributesOf(filter) }, step);
          // (An empty range sends nothing.)
          for (const { sql, params } of sent) {
            if (sql.includes('tallyhouse_usage_')) rollupReads += 1;
            expect(sql).toContain(TENANT_PREDICATE);
            expect(() => assertTenantScoped(sql)).not.toThrow();
            expect(params?.tenant).toBe(tenant);
          }
          // Every row carries owner = its tenant: no owner but ours may appear anywhere in the answer.
          const owners = JSON.stringify(result, (_key, value) =>
            typeof value === 'bigint' ? value.toString() : value,
          ).match(/t-(alpha|beta|gamma|delta)/g);
          for (const owner of owners ?? []) expect(owner).toBe(tenant);
          if (name === 'total') {
            expect(result).toEqual(modelTotal(tenant, 'api.requests', range, filter));
          }
        },
      ),
      { numRuns: 60, seed: 7 },
    );
    expect(rollupReads).toBeGreaterThan(20);
  }, 120_000);

  it('rollups plus raw edges answer exactly as a raw scan, and totals match the rows written', async () => {
    /** The most sources seen behind one gauge line (the property must not hold vacuously for one source). */
    let mostSources = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TENANTS),
        rangeArb,
        filterArb,
        fc.constantFrom('1h' as const, '1d' as const),
        fc.constantFrom(...GAUGE_COMBINES),
        async (tenant, range, filter, step, combine) => {
          const attributes = { attributes: attributesOf(filter) };
          for (const name of QUERIES) {
            const fromRollups = await ask(rollups, name, tenant, range, attributes, step, combine);
            const fromRaw = await ask(raw, name, tenant, range, attributes, step, combine);
            expect(fromRollups, name).toEqual(fromRaw);
            if (name === 'gaugeSeriesCombined' && 'lines' in fromRaw) {
              for (const line of fromRaw.lines) mostSources = Math.max(mostSources, line.sources ?? 0);
            }
          }
          for (const metric of ['api.requests', 'bytes.out']) {
            expect(await rollups.total(tenant, { metric, range, ...attributes })).toEqual(
              modelTotal(tenant, metric, range, filter),
            );
          }
        },
      ),
      { numRuns: 25, seed: 11 },
    );
    expect(mostSources).toBeGreaterThan(1);
  }, 150_000);

  it('admin totals by tenant equal the per-tenant totals', async () => {
    const range = { fromUnixNano: START + 7n * HOUR + 1234n, toUnixNano: START + 3n * DAY + 5n };
    const admin = await rollups.adminTotalsByTenant({ range });
    for (const tenant of TENANTS) {
      const mine = admin.filter((row) => row.tenant === tenant).map(({ tenant: _t, ...rest }) => rest);
      expect(mine).toEqual(await raw.sumTotals(tenant, range));
    }
  });
});
