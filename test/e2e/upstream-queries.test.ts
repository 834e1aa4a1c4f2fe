/**
 * Queries written for the OpenTelemetry Collector's `clickhouseexporter` tables — in the form Grafana's ClickHouse
 * query builder and the upstream docs produce them — run unchanged on Tallyhouse's tables (plus the `TenantId`
 * filter every Tallyhouse read carries) and return what was sent:
 *
 *   2 stock OTel SDK apps (delta protobuf, cumulative JSON) ──OTLP/HTTP──► collector process ──► embedded chDB
 *   ──► the queries below
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess } from '../../packages/collector/test/support/collector-process.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { type AppSummary, METRICS } from '../fixtures/app-summary.ts';
import { runApp } from '../support/run-app.ts';
import { openStoredUsage, type StoredUsage } from '../support/stored-usage.ts';

const TENANT = 'acme';
const dataDir = tempDirsRemovedAfterAll()('upstream-queries');
let summaries: AppSummary[];
let stored: StoredUsage;

beforeAll(async () => {
  const collector = await startCollectorProcess({ dataDir, env: { TALLYHOUSE_LOG_LEVEL: 'warn' } });
  try {
    summaries = await Promise.all([
      runApp(collector.metricsUrl, {
        tenant: TENANT,
        instance: '1',
        temporality: 'delta',
        encoding: 'protobuf',
      }),
      runApp(collector.metricsUrl, {
        tenant: TENANT,
        instance: '2',
        temporality: 'cumulative',
        encoding: 'json',
      }),
    ]);
  } finally {
    expect(await collector.stop()).toBe(0);
  }
  stored = openStoredUsage(dataDir);
});

afterAll(async () => {
  await stored?.close();
});

const tenant = { tenant: TENANT };

describe('queries written for the upstream clickhouseexporter tables', () => {
  it('time series of sum(Value) by ServiceName (Grafana query builder, 1 min interval)', async () => {
    const rows = await stored.rows<{ time: string; ServiceName: string; value: number }>(
      `SELECT toStartOfInterval("TimeUnix", INTERVAL 1 minute) AS time, "ServiceName", sum("Value") AS value
       FROM "otel"."otel_metrics_sum"
       WHERE TenantId = {tenant:String}
         AND ( time >= now() - INTERVAL 1 DAY AND time <= now() + INTERVAL 1 DAY )
         AND ( "MetricName" = '${METRICS.requests}' )
       GROUP BY "ServiceName", time
       ORDER BY time ASC
       LIMIT 1000`,
      tenant,
    );
    const perService: Record<string, number> = {};
    for (const row of rows) perService[row.ServiceName] = (perService[row.ServiceName] ?? 0) + row.value;
    expect(perService).toEqual(
      Object.fromEntries(summaries.map((summary) => [summary.service, summary.sums[METRICS.requests]])),
    );
  });

  it('a gauge filtered by an Attributes[...] key: the latest value per instance', async () => {
    for (const summary of summaries) {
      const [instance, value] = Object.entries(summary.gauges[METRICS.storage] ?? {})[0]!;
      const rows = await stored.rows<{ TimeUnix: string; Value: number }>(
        `SELECT TimeUnix, Value FROM otel.otel_metrics_gauge
         WHERE TenantId = {tenant:String} AND MetricName = '${METRICS.storage}' AND Attributes['instance'] = {instance:String}
         ORDER BY TimeUnix DESC LIMIT 1`,
        { ...tenant, instance },
      );
      expect(rows.map((row) => row.Value)).toEqual([value]);
    }
  });

  it('histogram bucket sums with sumForEach(BucketCounts) per ExplicitBounds', async () => {
    const rows = await stored.rows<{ ExplicitBounds: number[]; buckets: string[]; count: string }>(
      `SELECT ExplicitBounds, sumForEach(BucketCounts) AS buckets, sum(Count) AS count
       FROM otel.otel_metrics_histogram
       WHERE TenantId = {tenant:String} AND MetricName = '${METRICS.duration}'
       GROUP BY ExplicitBounds`,
      tenant,
    );
    const recorded = summaries.reduce(
      (total, summary) => total + summary.histograms[METRICS.duration]!.count,
      0,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.buckets.map(Number).reduce((a, b) => a + b, 0)).toBe(recorded);
    expect(Number(rows[0]!.count)).toBe(recorded);
  });

  it('key discovery on ResourceAttributes (the query builder fills its pickers so)', async () => {
    const keys = async (column: string, table: string) =>
      (
        await stored.rows<{ key: string }>(
          `SELECT DISTINCT arrayJoin(mapKeys(${column})) AS key FROM otel.${table}
           WHERE TenantId = {tenant:String} ORDER BY key LIMIT 1000`,
          tenant,
        )
      ).map((row) => row.key);
    // Sums keep service.name only (merged across instances); gauges keep their whole source.
    expect(await keys('ResourceAttributes', 'otel_metrics_sum')).toEqual(['service.name']);
    expect(await keys('ResourceAttributes', 'otel_metrics_gauge')).toEqual([
      'service.instance.id',
      'service.name',
    ]);
  });
});
