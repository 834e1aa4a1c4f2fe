/**
 * Queries written for the OpenTelemetry Collector's `clickhouseexporter` tables — in the form Grafana's ClickHouse
 * query builder and the upstream docs produce them — run unchanged on Tallyhouse's tables (plus the `TenantId`
 * filter every Tallyhouse read carries) and return what was sent:
 *
 *   2 stock OTel SDK apps (delta protobuf, cumulative JSON) + one OTLP/JSON request with scope attributes,
 *   schema URLs, an exemplar and a summary ──OTLP/HTTP──► collector process ──► embedded chDB, or a ClickHouse server over HTTP ──► the
 *   queries below
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorProcess } from '../../packages/collector/test/support/collector-process.ts';
import { postJson } from '../../packages/collector/test/support/http-client.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { type AppSummary, METRICS } from '../fixtures/app-summary.ts';
import { runApp } from '../support/run-app.ts';
import type { StoredUsage } from '../support/stored-usage.ts';
import { STORE_KINDS, startStore, type TestStore } from '../support/stores.ts';

const TENANT = 'acme';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const NOW_NS = BigInt(Date.now()) * 1_000_000n;

/** A checkout service's latency histogram from a scope with attributes, with resource and scope schema URLs. */
const SCOPED_REQUEST = JSON.stringify({
  resourceMetrics: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scopeMetrics: [
        {
          scope: {
            name: 'checkout-instrumentation',
            version: '3.1.0',
            attributes: [{ key: 'pool', value: { stringValue: 'primary' } }],
          },
          schemaUrl: 'https://example.com/checkout-schema',
          metrics: [
            {
              name: 'checkout.latency',
              unit: 'ms',
              histogram: {
                aggregationTemporality: 1,
                dataPoints: [
                  {
                    attributes: [{ key: 'http.route', value: { stringValue: '/pay' } }],
                    startTimeUnixNano: String(NOW_NS - 10_000_000_000n),
                    timeUnixNano: String(NOW_NS),
                    count: '3',
                    sum: 61,
                    bucketCounts: ['1', '2', '0'],
                    explicitBounds: [10, 50],
                    exemplars: [
                      {
                        timeUnixNano: String(NOW_NS - 1_000_000_000n),
                        asDouble: 42,
                        traceId: TRACE_ID,
                        spanId: SPAN_ID,
                        filteredAttributes: [{ key: 'user.id', value: { stringValue: 'u-7' } }],
                      },
                    ],
                  },
                ],
              },
            },
            {
              name: 'checkout.queue.wait',
              unit: 's',
              summary: {
                dataPoints: [
                  {
                    attributes: [{ key: 'queue', value: { stringValue: 'payments' } }],
                    startTimeUnixNano: String(NOW_NS - 60_000_000_000n),
                    timeUnixNano: String(NOW_NS),
                    count: '40',
                    sum: 12.5,
                    quantileValues: [
                      { quantile: 0.5, value: 0.2 },
                      { quantile: 0.99, value: 1.5 },
                    ],
                  },
                ],
              },
            },
          ],
        },
      ],
    },
  ],
});

const tempDir = tempDirsRemovedAfterAll();
const tenant = { tenant: TENANT };

describe.each(STORE_KINDS)('on the %s store', (kind) => {
  const dataDir = tempDir(`upstream-queries-${kind}`);
  let summaries: AppSummary[];
  let store: TestStore;
  let stored: StoredUsage;

  beforeAll(async () => {
    store = await startStore(kind, tempDir(`upstream-queries-store-${kind}`));
    const collector = await startCollectorProcess({
      dataDir,
      env: { TALLYHOUSE_LOG_LEVEL: 'warn', ...store.collectorEnv },
    });
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
      const answer = await postJson(collector.metricsUrl, TENANT, SCOPED_REQUEST);
      expect(answer.status, answer.body).toBe(200);
    } finally {
      expect(await collector.stop()).toBe(0);
    }
    stored = store.open(dataDir);
  });

  afterAll(async () => {
    await stored?.close();
    await store?.close();
  });

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

    it('key discovery on ResourceAttributes and ScopeAttributes (the query builder fills its pickers so)', async () => {
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
      expect(await keys('ScopeAttributes', 'otel_metrics_histogram')).toEqual(['pool']);
    });

    it('schema URLs and scope columns as upstream names them', async () => {
      const rows = await stored.rows<Record<string, string>>(
        `SELECT ResourceSchemaUrl, ScopeName, ScopeVersion, ScopeSchemaUrl, ScopeAttributes['pool'] AS pool
       FROM otel.otel_metrics_histogram WHERE TenantId = {tenant:String} AND MetricName = 'checkout.latency'`,
        tenant,
      );
      expect(rows).toEqual([
        {
          ResourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
          ScopeName: 'checkout-instrumentation',
          ScopeVersion: '3.1.0',
          ScopeSchemaUrl: 'https://example.com/checkout-schema',
          pool: 'primary',
        },
      ]);
    });
  });

  /** The rewrites docs/upstream-compatibility.md tells a dashboard to make, run as written there. */
  describe('exemplars and summaries as upstream stores them', () => {
    it('exemplar trace ids with ARRAY JOIN Exemplars (a dashboard linking a latency to its trace)', async () => {
      const rows = await stored.rows<Record<string, unknown>>(
        `SELECT Exemplars.TraceId AS traceId, Exemplars.SpanId AS spanId, Exemplars.Value AS value,
                Exemplars.FilteredAttributes['user.id'] AS user
         FROM otel.otel_metrics_histogram ARRAY JOIN Exemplars
         WHERE TenantId = {tenant:String} AND MetricName = 'checkout.latency'`,
        tenant,
      );
      expect(rows).toEqual([{ traceId: TRACE_ID, spanId: SPAN_ID, value: 42, user: 'u-7' }]);
    });

    it('summary quantiles with ARRAY JOIN ValueAtQuantiles, as sent', async () => {
      const rows = await stored.rows<Record<string, unknown>>(
        `SELECT Attributes['queue'] AS queue, Count, Sum, ValueAtQuantiles.Quantile AS quantile,
                ValueAtQuantiles.Value AS value
         FROM otel.otel_metrics_summary ARRAY JOIN ValueAtQuantiles
         WHERE TenantId = {tenant:String} AND MetricName = 'checkout.queue.wait' ORDER BY quantile`,
        tenant,
      );
      expect(rows).toEqual([
        { queue: 'payments', Count: '40', Sum: 12.5, quantile: 0.5, value: 0.2 },
        { queue: 'payments', Count: '40', Sum: 12.5, quantile: 0.99, value: 1.5 },
      ]);
    });
  });

  describe('pointing an existing dashboard at Tallyhouse', () => {
    it('a counter increase per minute is sum(Value): it adds up to what the apps recorded', async () => {
      const rows = await stored.rows<{ t: string; increase: number }>(
        `SELECT toStartOfInterval(TimeUnix, INTERVAL 1 minute) AS t, sum(Value) AS increase
       FROM otel.otel_metrics_sum
       WHERE TenantId = {tenant:String} AND MetricName = '${METRICS.requests}' GROUP BY Attributes, t`,
        tenant,
      );
      const recorded = summaries.reduce((total, summary) => total + summary.sums[METRICS.requests]!, 0);
      expect(rows.reduce((total, row) => total + row.increase, 0)).toBe(recorded);
    });

    it('gauges across instances: the latest value of each source, then combined', async () => {
      const rows = await stored.rows<{ total: number }>(
        `SELECT sum(latest) AS total FROM (
         SELECT argMax(Value, TimeUnix) AS latest FROM otel.otel_metrics_gauge
         WHERE TenantId = {tenant:String} AND MetricName = '${METRICS.storage}'
         GROUP BY ResourceAttributes, ScopeName, ScopeVersion, Attributes)`,
        tenant,
      );
      const latest = summaries.flatMap((summary) => Object.values(summary.gauges[METRICS.storage] ?? {}));
      expect(latest).toHaveLength(2);
      expect(rows).toEqual([{ total: latest[0]! + latest[1]! }]);
    });
  });
});
