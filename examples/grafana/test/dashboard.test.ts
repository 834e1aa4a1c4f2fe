/**
 * The Grafana dashboard (`tallyhouse.json`) cannot rot: every ClickHouse query in it — panels and variables — is
 * expanded as Grafana and the ClickHouse plugin would (`grafana-macros.ts`) and run on the real engine (embedded
 * chDB) over usage written through the real exporter, and its answers are checked against what was written and
 * against the exporter's `UsageReader`. (Its Prometheus panels: `dashboard-prometheus.test.ts`.)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClickHouseMetricExporter,
  openStorageConnection,
  resolveExporterConfig,
  type StorageConnection,
  UsageReader,
} from '@tallyhouse/exporter-clickhouse';
import type { SeriesPoint } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Expansion, expandQuery } from './grafana-macros.ts';

interface Target {
  readonly refId: string;
  readonly datasource: { readonly type: string };
  readonly rawSql?: string;
  readonly expr?: string;
}
interface Panel {
  readonly title: string;
  readonly type: string;
  readonly targets?: readonly Target[];
}
interface Variable {
  readonly name: string;
  readonly query: string;
  readonly datasource: { readonly type: string };
}
interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

const CLICKHOUSE = 'grafana-clickhouse-datasource';
const dashboard = JSON.parse(
  readFileSync(new URL('../tallyhouse.json', import.meta.url), 'utf8'),
) as Dashboard;
const panel = (title: string) => {
  const found = dashboard.panels.find((p) => p.title === title);
  if (found === undefined) throw new Error(`no panel ${JSON.stringify(title)}`);
  return found;
};
const sqlOf = (title: string) => panel(title).targets?.[0]?.rawSql ?? '';

const MS = 1_000_000n;
const HOUR_MS = 3_600_000;
/** Three days of usage from 2026-03-01T00:00Z; the dashboard's range is the middle 36 hours. */
const START = Date.parse('2026-03-01T00:00:00Z');
const RANGE = { fromMs: START + 18 * HOUR_MS, toMs: START + 54 * HOUR_MS };
const TENANTS = ['0', 'acme', "o'brien"];
const METRICS = ['api.requests', 'storage.bytes'];

let exporter: ClickHouseMetricExporter;
let connection: StorageConnection;
let reader: UsageReader;
/** tenant → metric → hour start (ms) → usage in (hour, hour + 1 h]. */
const truth = new Map<string, Map<string, Map<number, number>>>();

function record(tenant: string, metric: string, timeMs: number, value: number): void {
  const metrics = truth.get(tenant) ?? new Map<string, Map<number, number>>();
  truth.set(tenant, metrics);
  const hours = metrics.get(metric) ?? new Map<number, number>();
  metrics.set(metric, hours);
  const hour = Math.ceil(timeMs / HOUR_MS) * HOUR_MS - HOUR_MS; // the bucket b with b < t <= b + 1 h
  hours.set(hour, (hours.get(hour) ?? 0) + value);
}

/** The truth over the dashboard's range (whole hours). */
function usage(tenant: string, metric: string): number {
  let total = 0;
  for (const [hour, value] of truth.get(tenant)?.get(metric) ?? [])
    if (hour >= RANGE.fromMs && hour < RANGE.toMs) total += value;
  return total;
}

async function run(sql: string, variables: Expansion['variables']): Promise<Record<string, unknown>[]> {
  const expanded = expandQuery(sql, { ...RANGE, intervalSeconds: 3600, variables });
  return connection.queryRows<Record<string, unknown>>(expanded, {});
}

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tallyhouse-grafana-'));
  exporter = new ClickHouseMetricExporter({ dataDir });
  await exporter.start();
  // Every 23 minutes for three days, tenants and metrics taking turns; some points exactly on the hour (they
  // close the hour before), a gauge from two hosts.
  const points: SeriesPoint[] = [];
  let i = 0;
  for (let t = START + 23 * 60_000; t < START + 72 * HOUR_MS; t += 23 * 60_000) {
    const tenant = TENANTS[i % TENANTS.length]!;
    const metric = METRICS[Math.floor(i / 3) % METRICS.length]!;
    const time = (i % 11 === 0 ? Math.ceil(t / HOUR_MS) * HOUR_MS : t) * 1;
    const value = (i % 5) + 1 + (tenant === 'acme' ? 10 : 0);
    points.push(sumPoint(tenant, metric, time, value, { route: i % 2 === 0 ? '/a' : '/b' }));
    record(tenant, metric, time, value);
    i++;
  }
  for (const host of ['web-1', 'web-2']) {
    points.push(gaugePoint('acme', 'disk.used', START + 30 * HOUR_MS, host === 'web-1' ? 5 : 7, host));
  }
  expect((await exporter.consumeBatch({ id: 'grafana-data', points })).ok).toBe(true);
  await exporter.forceFlush();
  connection = openStorageConnection(resolveExporterConfig({ dataDir, env: {} }));
  reader = new UsageReader(connection, 'otel');
}, 60_000);

afterAll(async () => {
  await exporter?.shutdown();
});

function sumPoint(
  tenant: string,
  name: string,
  timeMs: number,
  value: number,
  attributes: Record<string, string>,
): SeriesPoint {
  const time = BigInt(timeMs) * MS;
  return {
    tenant,
    resource: { 'service.name': 'api' },
    scope: { name: 'grafana-test', version: '1' },
    metric: { name, description: '', unit: '1', kind: 'sum', monotonic: true },
    attributes,
    startTimeUnixNano: time - MS,
    timeUnixNano: time,
    value: { value },
  };
}

function gaugePoint(tenant: string, name: string, timeMs: number, value: number, host: string): SeriesPoint {
  const time = BigInt(timeMs) * MS;
  return {
    tenant,
    resource: { 'service.name': 'storage', 'host.name': host },
    scope: { name: 'grafana-test', version: '1' },
    metric: { name, description: '', unit: 'By', kind: 'gauge', monotonic: false },
    attributes: {},
    startTimeUnixNano: time,
    timeUnixNano: time,
    value: { value },
  };
}

describe('the dashboard’s ClickHouse queries on the real engine', () => {
  it('every query expands and runs (a wrong column or a syntax error fails here)', async () => {
    const queries = [
      ...dashboard.templating.list.filter((v) => v.datasource.type === CLICKHOUSE).map((v) => v.query),
      ...dashboard.panels.flatMap((p) =>
        (p.targets ?? []).filter((t) => t.datasource.type === CLICKHOUSE).map((t) => t.rawSql ?? ''),
      ),
    ];
    expect(queries.length).toBeGreaterThanOrEqual(6);
    for (const sql of queries) {
      await expect(run(sql, { metric: ['api.requests'], tenant: TENANTS }), sql).resolves.toBeDefined();
    }
    // The check can fail: a column the tables do not have is refused by the engine.
    await expect(
      run(sqlOf('Top tenants').replace('TenantId AS', 'TenantName AS'), { metric: ['x'] }),
    ).rejects.toThrow();
  });

  it('the variables list the metrics and, for a metric, its tenants', async () => {
    const [metric, tenant] = dashboard.templating.list;
    expect((await run(metric!.query, {})).map((row) => row.MetricName)).toEqual(METRICS);
    const tenants = await run(tenant!.query, { metric: ['storage.bytes'] });
    expect(tenants.map((row) => row.TenantId)).toEqual([...TENANTS].sort());
  });

  it('usage per tenant: each hour of each chosen tenant, as written', async () => {
    const rows = await run(sqlOf('Usage per tenant'), { metric: ['api.requests'], tenant: ['0', "o'brien"] });
    expect(new Set(rows.map((row) => row.tenant))).toEqual(new Set(['0', "o'brien"]));
    for (const row of rows) {
      const hour = Date.parse(`${String(row.time).replace(' ', 'T')}Z`);
      expect(hour).toBeGreaterThanOrEqual(RANGE.fromMs);
      expect(hour).toBeLessThan(RANGE.toMs);
      expect(Number(row.usage)).toBe(truth.get(String(row.tenant))?.get('api.requests')?.get(hour));
    }
    const hours = [...(truth.get('0')?.get('api.requests')?.keys() ?? [])].filter(
      (hour) => hour >= RANGE.fromMs && hour < RANGE.toMs,
    );
    expect(rows.filter((row) => row.tenant === '0')).toHaveLength(hours.length);
  });

  it('top tenants and per-tenant totals equal the truth and the exporter’s reader', async () => {
    const range = { fromUnixNano: BigInt(RANGE.fromMs) * MS, toUnixNano: BigInt(RANGE.toMs) * MS };
    const top = await run(sqlOf('Top tenants'), { metric: ['api.requests'] });
    const expected = TENANTS.map((tenant) => ({ tenant, usage: usage(tenant, 'api.requests') })).sort(
      (a, b) => b.usage - a.usage || (a.tenant < b.tenant ? -1 : 1),
    );
    expect(top.map((row) => ({ tenant: row.tenant, usage: Number(row.usage) }))).toEqual(expected);
    for (const { tenant, usage: total } of expected) {
      expect((await reader.total(tenant, { metric: 'api.requests', range })).total).toBe(total);
    }
    const totals = await run(sqlOf('Totals per tenant and metric'), { tenant: TENANTS });
    expect(totals).toHaveLength(TENANTS.length * METRICS.length);
    for (const row of totals) expect(Number(row.usage)).toBe(usage(String(row.tenant), String(row.metric)));
  });

  it('gauges: the latest value per source', async () => {
    const rows = await run(sqlOf('Gauges, latest value per source'), { tenant: ['acme'] });
    expect(rows.map((row) => [row.gauge, row.host, Number(row.value)])).toEqual([
      ['disk.used', 'web-1', 5],
      ['disk.used', 'web-2', 7],
    ]);
  });
});

describe('the expander', () => {
  const expansion = {
    fromMs: 1_000_500,
    toMs: 2_000_000,
    intervalSeconds: 60,
    variables: { t: ["o'b", 'x\\y'] },
  };

  it('writes the plugin’s macros and Grafana’s singlequote format', () => {
    expect(expandQuery('$__timeFilter(TimeUnix) AND $__fromTime_ms < $__toTime', expansion)).toBe(
      'TimeUnix >= toDateTime(1000) AND TimeUnix <= toDateTime(2000) AND fromUnixTimestamp64Milli(1000500) < toDateTime(2000)',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
    expect(expandQuery('IN (${t:singlequote}) $__timeInterval(x) $__interval_s', expansion)).toBe(
      "IN ('o\\'b','x\\\\y') toStartOfInterval(toDateTime(x), INTERVAL 60 second) 60",
    );
  });

  it('refuses what it does not know', () => {
    expect(() => expandQuery('$__adHocFilters', expansion)).toThrow(/macro this expander does not know/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
    expect(() => expandQuery('${nope}', expansion)).toThrow(/variable the dashboard does not define/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
    expect(() => expandQuery('${t:csv}', expansion)).toThrow(/format this expander does not know/);
  });
});
