/**
 * Usage lands in the period it happened in, through the whole in-app path: SDK collections (the `ResourceMetrics`
 * a metric reader hands its exporter, timestamps spread over three days around a month end) → `TenantProcessor`
 * → a next stage that fails random batches and random parts of batches → `ClickHouseMetricExporter` → the real
 * engine, embedded (chDB) and as a ClickHouse server over HTTP (the test endpoint). Flushes come at random moments between collections, so failed points merge back into
 * batches holding newer data.
 *
 * Checked against the input itself: per quarter hour, the stored rows whose `TimeUnix` falls in it sum to exactly
 * the input points whose time does (delta points by their time, cumulative ones by the time of the point whose
 * change they carry); hence per UTC hour and day and per day in zones at +05:45 and −03:30; and the hourly and
 * daily rollup tables equal the raw rows per bucket.
 */
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  ClickHouseMetricExporter,
  openEmbeddedConnection,
  openStorageConnection,
  resolveExporterConfig,
  type StorageConnection,
} from '@tallyhouse/exporter-clickhouse';
import type { ConsumeResult, SeriesBatch, SeriesBatchConsumer, SeriesPoint } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import { TenantProcessor } from '@tallyhouse/processor-tenant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../packages/collector/test/support/seeded-random.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { STORE_KINDS, startStore, type TestStore } from '../support/stores.ts';

const SECOND = 1_000_000_000n;
const QUARTER_HOUR = 900n * SECOND;
const HOUR = 3_600n * SECOND;
const DAY = 24n * HOUR;
/** 2027-01-31T00:00:00Z: the data covers 30 January to 1 February, two day and one month boundary. */
const FIRST_DAY = 1_801_699_200n * SECOND - DAY;
const ZONES = { 'Asia/Kathmandu': 20_700n * SECOND, 'America/St_Johns': -12_600n * SECOND } as const;
const TENANTS = ['acme', '0', 'globex'] as const;
const ROUTES = ['/a', '/b'] as const;

/** The index of the quarter hour `(k·15 min, (k+1)·15 min]` holding `time`: the rollups' bucket convention. */
const quarterOf = (time: bigint) => (time - 1n) / QUARTER_HOUR;

const hrTime = (nanos: bigint): [number, number] => [Number(nanos / SECOND), Number(nanos % SECOND)];

/** What the input put in each quarter hour, per tenant and metric: `tenant/metric/quarter` → total. */
class Truth {
  readonly byQuarter = new Map<string, number>();

  add(tenant: string, metric: string, time: bigint, value: number) {
    const key = JSON.stringify([tenant, metric, String(quarterOf(time))]);
    this.byQuarter.set(key, (this.byQuarter.get(key) ?? 0) + value);
  }

  /** Totals per `[tenant, metric, bucket]`, the bucket of a quarter hour given by `bucketOf`. */
  per(bucketOf: (quarter: bigint) => bigint): Record<string, number> {
    const totals: Record<string, number> = {};
    for (const [key, value] of this.byQuarter) {
      const [tenant, metric, quarter] = JSON.parse(key) as [string, string, string];
      const bucket = JSON.stringify([tenant, metric, String(bucketOf(BigInt(quarter)))]);
      totals[bucket] = (totals[bucket] ?? 0) + value;
    }
    return withoutZeros(totals);
  }
}

function withoutZeros(totals: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(totals).filter(([, value]) => value !== 0));
}

/** Collections as the SDK's reader hands them over, and the truth they carry. */
class Traffic {
  readonly truth = new Truth();
  private readonly runningTotals = new Map<string, { start: bigint; total: number }>();
  private readonly random: () => number;

  constructor(random: () => number) {
    this.random = random;
  }

  /**
   * One collection at `time`: delta request counts and histograms, and a cumulative byte counter, for three
   * distinct series (an SDK reports each series once per collection).
   */
  collection(time: bigint): ResourceMetrics {
    const series = TENANTS.flatMap((tenant) => ROUTES.map((route) => ({ tenant, route })));
    const requests: DataPoint<number>[] = [];
    const latency: DataPoint<Histogram>[] = [];
    const bytes: DataPoint<number>[] = [];
    for (let i = 0; i < 3; i++) {
      const [{ tenant, route }] = series.splice(Math.floor(this.random() * series.length), 1) as [
        (typeof series)[number],
      ];
      const attributes = { 'tenant.id': tenant, route };
      // A delta point's interval may begin in an earlier quarter hour: only its time places it.
      const start = time - BigInt(1 + Math.floor(this.random() * 120)) * SECOND;
      const count = Math.floor(this.random() * 50);
      requests.push({ startTime: hrTime(start), endTime: hrTime(time), attributes, value: count });
      this.truth.add(tenant, 'requests', time, count);
      const counts = [
        Math.floor(this.random() * 5),
        Math.floor(this.random() * 5),
        Math.floor(this.random() * 5),
      ];
      const observations = counts[0]! + counts[1]! + counts[2]!;
      latency.push({
        startTime: hrTime(start),
        endTime: hrTime(time),
        attributes,
        value: { buckets: { boundaries: [10, 100], counts }, count: observations, sum: observations * 7 },
      });
      this.truth.add(tenant, 'latency.count', time, observations);
      const stream = JSON.stringify(attributes);
      const previous = this.runningTotals.get(stream);
      const increment = Math.floor(this.random() * 1_000);
      const total = (previous?.total ?? 0) + increment;
      const streamStart = previous?.start ?? FIRST_DAY - HOUR;
      this.runningTotals.set(stream, { start: streamStart, total });
      bytes.push({ startTime: hrTime(streamStart), endTime: hrTime(time), attributes, value: total });
      // A stream's first point counts in full; later ones count their change, at their own time.
      this.truth.add(tenant, 'bytes', time, previous === undefined ? total : increment);
    }
    const descriptor = (name: string, unit: string) => ({
      name,
      description: '',
      unit,
      valueType: ValueType.INT,
    });
    return {
      resource: resourceFromAttributes({ 'service.name': 'periods' }),
      scopeMetrics: [
        {
          scope: { name: 'period-attribution' },
          metrics: [
            {
              descriptor: descriptor('requests', '{request}'),
              aggregationTemporality: AggregationTemporality.DELTA,
              dataPointType: DataPointType.SUM,
              isMonotonic: true,
              dataPoints: requests,
            },
            {
              descriptor: descriptor('latency', 'ms'),
              aggregationTemporality: AggregationTemporality.DELTA,
              dataPointType: DataPointType.HISTOGRAM,
              dataPoints: latency,
            },
            {
              descriptor: descriptor('bytes', 'By'),
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.SUM,
              isMonotonic: true,
              dataPoints: bytes,
            },
          ] as MetricData[],
        },
      ],
    };
  }
}

/** The real exporter behind a stage that fails whole batches or random parts of them, at random. */
class FlakyStage implements SeriesBatchConsumer {
  failedBatches = 0;
  private readonly exporter: ClickHouseMetricExporter;
  private readonly random: () => number;

  constructor(exporter: ClickHouseMetricExporter, random: () => number) {
    this.exporter = exporter;
    this.random = random;
  }

  async consumeBatch(batch: SeriesBatch): Promise<ConsumeResult> {
    const roll = this.random();
    if (roll < 0.2) {
      this.failedBatches++;
      return { ok: false, error: new Error('injected: storage unavailable'), failed: batch.points };
    }
    if (roll < 0.4) {
      const failed: SeriesPoint[] = [];
      const taken: SeriesPoint[] = [];
      for (const point of batch.points) (this.random() < 0.5 ? failed : taken).push(point);
      const result = await this.exporter.consumeBatch({ id: `${batch.id}/taken`, points: taken });
      if (!result.ok) throw result.error;
      this.failedBatches++;
      return { ok: false, error: new Error('injected: part of the batch failed'), failed };
    }
    return this.exporter.consumeBatch(batch);
  }

  forceFlush() {
    return this.exporter.forceFlush();
  }

  shutdown() {
    return this.exporter.shutdown();
  }
}

const tempDir = tempDirsRemovedAfterAll();
/** The store of the running `describe`: what the helpers below read. */
let storage: StorageConnection;

/** `[tenant, metric, bucket]` → total, from SQL giving `TenantId`, `Metric`, `Bucket` and `Total`. */
async function totals(sql: string): Promise<Record<string, number>> {
  const rows = await storage.queryRows<{ TenantId: string; Metric: string; Bucket: string; Total: number }>(
    sql,
  );
  const result: Record<string, number> = {};
  for (const row of rows)
    result[JSON.stringify([row.TenantId, row.Metric, String(row.Bucket)])] = Number(row.Total);
  return withoutZeros(result);
}

/** Raw rows' totals per bucket of `bucketNs`, shifted by a zone offset: the `(b, b + step]` convention. */
function rawTotals(bucketNs: bigint, offsetNs = 0n): Promise<Record<string, number>> {
  const bucket = `intDiv(toUnixTimestamp64Nano(TimeUnix) - 1 + (${offsetNs}), ${bucketNs})`;
  return totals(`
    SELECT TenantId, MetricName AS Metric, ${bucket} AS Bucket, sum(Value) AS Total
    FROM otel.otel_metrics_sum GROUP BY TenantId, Metric, Bucket
    UNION ALL
    SELECT TenantId, concat(MetricName, '.count') AS Metric, ${bucket} AS Bucket, sum(Count) AS Total
    FROM otel.otel_metrics_histogram GROUP BY TenantId, Metric, Bucket`);
}

/** The rollup tables' totals per bucket (as the index of the bucket, like `rawTotals`). */
function rollupTotals(grain: '1h' | '1d'): Promise<Record<string, number>> {
  const seconds = grain === '1h' ? 3_600 : 86_400;
  const bucket = `intDiv(toUnixTimestamp(BucketStart), ${seconds})`;
  return totals(`
    SELECT TenantId, MetricName AS Metric, ${bucket} AS Bucket, sum(Value) AS Total
    FROM otel.tallyhouse_usage_sum_${grain} GROUP BY TenantId, Metric, Bucket
    UNION ALL
    SELECT TenantId, concat(MetricName, '.count') AS Metric, ${bucket} AS Bucket, sum(Count) AS Total
    FROM otel.tallyhouse_usage_histogram_${grain} GROUP BY TenantId, Metric, Bucket`);
}

describe.each(STORE_KINDS)(
  'period attribution through SDK collections, failures and retries (%s store)',
  (kind) => {
    let store: TestStore;
    let exporter: ClickHouseMetricExporter;

    beforeAll(async () => {
      const dataDir = tempDir(`periods-${kind}`);
      store = await startStore(kind, tempDir(`periods-store-${kind}`));
      const env = { TALLYHOUSE_DATA_DIR: dataDir, ...store.collectorEnv };
      // Embedded: the exporter and the reads share one engine (a data directory binds to one per process).
      const connection = kind === 'embedded' ? openEmbeddedConnection(dataDir) : undefined;
      exporter = new ClickHouseMetricExporter({
        env,
        logger: silentLogger,
        ...(connection ? { connection } : {}),
      });
      storage = openStorageConnection(resolveExporterConfig({ env, ...(connection ? { connection } : {}) }));
    });

    afterAll(async () => {
      await storage?.close();
      await store?.close();
    });

    it('stores every quarter hour, hour and day (UTC and zoned) exactly as the input, and the rollups agree', async () => {
      const seed = Number(process.env.PERIOD_SEED ?? Date.now() % 100_000);
      console.log(`period-attribution seed ${seed}`);
      const random = seededRandom(seed);
      const traffic = new Traffic(random);
      const stage = new FlakyStage(exporter, random);
      const processor = new TenantProcessor({
        next: stage,
        logger: silentLogger,
        flushIntervalMs: 3_600_000,
      });

      // Collections 1 s to 20 min apart over three days; one in ten exactly on the next quarter-hour boundary.
      let time = FIRST_DAY - 10n * SECOND;
      while (time < FIRST_DAY + 3n * DAY) {
        if (random() < 0.1) time += QUARTER_HOUR - (time % QUARTER_HOUR);
        else time += BigInt(1 + Math.floor(random() * 1_200)) * SECOND;
        const exported = await new Promise<{ code: number }>((resolve) =>
          processor.export(traffic.collection(time), resolve),
        );
        expect(exported.code).toBe(0);
        if (random() < 0.3) await processor.flush();
      }
      // The stage recovers: everything left merges into what follows and drains.
      for (let round = 0; processor.count() > 0; round++) {
        if (round > 50) throw new Error('the processor does not drain');
        await processor.flush();
      }
      await exporter.forceFlush();
      expect(stage.failedBatches).toBeGreaterThan(0);

      const { truth } = traffic;
      expect(await rawTotals(QUARTER_HOUR)).toEqual(truth.per((quarter) => quarter));
      expect(await rawTotals(HOUR)).toEqual(truth.per((quarter) => quarter / 4n));
      expect(await rawTotals(DAY)).toEqual(truth.per((quarter) => quarter / 96n));
      for (const offset of Object.values(ZONES)) {
        // Local days begin on quarter-hour boundaries, so each quarter hour lies in one local day.
        const zoneDay = (quarter: bigint) => (quarter + offset / QUARTER_HOUR) / 96n;
        expect(await rawTotals(DAY, offset)).toEqual(truth.per(zoneDay));
      }
      expect(await rollupTotals('1h')).toEqual(await rawTotals(HOUR));
      expect(await rollupTotals('1d')).toEqual(await rawTotals(DAY));
      await processor.shutdown();
    }, 120_000);
  },
);
