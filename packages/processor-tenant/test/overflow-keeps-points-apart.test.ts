import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ExponentialHistogramValue, HistogramValue, InputBatch, SeriesPoint } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Accumulator } from '../src/accumulator.ts';
import { TenantProcessor } from '../src/index.ts';
import { CollectingConsumer } from './collecting-consumer.ts';
import {
  batch,
  CHECKOUT,
  EXPO_LATENCY,
  expoHistogram,
  inputMetric,
  LATENCY,
  point,
  REQUESTS,
  sumPoint,
} from './helpers/builders.ts';

// A merge that would overflow (a sum past ±1.8e308, a count past 2^53) keeps the points apart as rows of
// one series instead of writing ±Inf or an inexact count that storage refuses after the client got its 200.

const TENANT = { 'tenant.id': 'acme' };

const deltaSums = (...values: number[]): InputBatch =>
  batch(CHECKOUT, [
    inputMetric(
      REQUESTS,
      'delta',
      values.map((value, i) => sumPoint(TENANT, BigInt(i), BigInt(i + 1), value)),
    ),
  ]);

const sumValues = (points: readonly SeriesPoint[]) => points.map((p) => (p.value as { value: number }).value);

/** Exact value of a finite double as a fraction over 2^1074: sums of these never round. */
const exact = (value: number): bigint => {
  if (value === 0) return 0n;
  const buffer = new DataView(new ArrayBuffer(8));
  buffer.setFloat64(0, value);
  const bits = buffer.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const mantissa = bits & ((1n << 52n) - 1n);
  const magnitude = exponent === 0 ? mantissa : (mantissa | (1n << 52n)) << BigInt(exponent - 1);
  return value < 0 ? -magnitude : magnitude;
};

describe('a merge that would overflow keeps the points apart', () => {
  it('a delta sum of 1e308 sent twice for one series is handed on as two finite rows', () => {
    const accumulator = new Accumulator({ now: () => 0 });
    accumulator.consume(deltaSums(1e308));
    accumulator.consume(deltaSums(1e308));
    const rows = accumulator.take();
    expect(sumValues(rows)).toStrictEqual([1e308, 1e308]);
    expect(rows.every((row) => row.attributes === rows[0]!.attributes && row.tenant === 'acme')).toBe(true);
    expect(exact(1e308) * 2n).toBe(rows.reduce((sum, row) => sum + exact(sumValues([row])[0]!), 0n));
    expect(accumulator.stats()).toMatchObject({ keptApartPoints: 1, acceptedPoints: 2 });
  });

  it('keeps merging later points into the held row once one was kept apart', () => {
    const accumulator = new Accumulator({ now: () => 0 });
    accumulator.consume(deltaSums(1e308, 1e308, -1e308, 5));
    // 1e308 + 1e308 overflows: the second is kept apart; -1e308 and 5 merge into the held one.
    expect(sumValues(accumulator.take())).toStrictEqual([5, 1e308]);
  });

  it('counts a kept-apart row as held, and hands it off and takes it back like any other', () => {
    const accumulator = new Accumulator({ now: () => 0 });
    accumulator.consume(deltaSums(1e308, 1e308));
    expect(accumulator.count()).toBe(2);
    const taken = accumulator.take();
    expect(accumulator.count()).toBe(2);
    // The next stage fails both; another 1e308 arrives meanwhile; the failed rows merge back as earlier arrivals.
    accumulator.consume(deltaSums(1e308));
    accumulator.settle(taken.length, taken);
    const rows = accumulator.take();
    expect(sumValues(rows)).toStrictEqual([1e308, 1e308, 1e308]);
    expect(rows.map((row) => row.startTimeUnixNano)).toStrictEqual([0n, 0n, 1n]);
  });

  it('keeps histograms apart when their count would pass 2^53 - 1, each row exact and storable', () => {
    const big = 2 ** 52 + 2 ** 51; // 1.5 · 2^52: one fits, two do not
    const value: HistogramValue = {
      count: big,
      sum: 1,
      bounds: [10],
      bucketCounts: [big, 0],
      min: undefined,
      max: undefined,
    };
    const accumulator = new Accumulator({ now: () => 0 });
    accumulator.consume(batch(CHECKOUT, [inputMetric(LATENCY, 'delta', [point(TENANT, 0n, 1n, value)])]));
    accumulator.consume(batch(CHECKOUT, [inputMetric(LATENCY, 'delta', [point(TENANT, 1n, 2n, value)])]));
    const rows = accumulator.take().map((row) => row.value as HistogramValue);
    expect(rows.map((row) => row.count)).toStrictEqual([big, big]);
    expect(rows.every((row) => row.bucketCounts.every(Number.isSafeInteger))).toBe(true);
  });

  it('keeps exponential histograms apart when their sum would overflow', () => {
    const value = expoHistogram(0, { offset: 0, bucketCounts: [1] }, { sum: 1.5e308 });
    const accumulator = new Accumulator({ now: () => 0 });
    for (const t of [0n, 1n])
      accumulator.consume(
        batch(CHECKOUT, [inputMetric(EXPO_LATENCY, 'delta', [point(TENANT, t, t + 1n, value)])]),
      );
    const rows = accumulator.take().map((row) => row.value as ExponentialHistogramValue);
    expect(rows.map((row) => row.sum)).toStrictEqual([1.5e308, 1.5e308]);
  });

  it('keeps apart points at offsets 0 and 2147483647 of one series rather than merging below scale -10', () => {
    const low = expoHistogram(0, { offset: 0, bucketCounts: [1] });
    const high = expoHistogram(0, { offset: 2 ** 31 - 1, bucketCounts: [1, 1] });
    const accumulator = new Accumulator({ now: () => 0 });
    accumulator.consume(
      batch(CHECKOUT, [
        inputMetric(EXPO_LATENCY, 'delta', [point(TENANT, 0n, 1n, low), point(TENANT, 1n, 2n, high)]),
      ]),
    );
    const rows = accumulator.take().map((row) => row.value as ExponentialHistogramValue);
    expect(rows).toStrictEqual([low, high]);
  });

  it('rejects an exponential histogram with a scale outside -10..20 before it could reach storage', () => {
    const accumulator = new Accumulator({ now: () => 0 });
    const report = accumulator.consume(
      batch(CHECKOUT, [
        inputMetric(EXPO_LATENCY, 'delta', [
          point(TENANT, 0n, 1n, expoHistogram(21, { offset: 0, bucketCounts: [1] })),
        ]),
      ]),
    );
    expect(report).toMatchObject({ acceptedPoints: 0, rejectedByReason: { invalid_value: 1 } });
    expect(report.rejectionMessages[0]).toMatch(
      /rpc\.latency: tenant "acme" sent an exponential histogram with scale 21/,
    );
  });

  it('brings a point wider than maxExponentialBuckets down to the limit on arrival', () => {
    const wide = expoHistogram(20, { offset: 2 ** 31 - 100, bucketCounts: new Array(1000).fill(1) });
    const accumulator = new Accumulator({ now: () => 0, maxExponentialBuckets: 160 });
    accumulator.consume(
      batch(CHECKOUT, [inputMetric(EXPO_LATENCY, 'cumulative', [point(TENANT, 0n, 1n, wide)])]),
    );
    const [row] = accumulator.take();
    const value = row!.value as ExponentialHistogramValue;
    expect(value.positive.bucketCounts.length).toBeLessThanOrEqual(160);
    expect(value.count).toBe(1000);
  });

  it('keeps apart in the SDK path too: two exports of 1e308 reach the next exporter as two finite rows', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    const exportOnce = (end: number) =>
      new Promise<void>((resolve) =>
        processor.export(sdkDeltaSum(1e308, end), (result) => {
          expect(result.code).toBe(0);
          resolve();
        }),
      );
    await exportOnce(1);
    await exportOnce(2);
    await processor.flush();
    expect(sumValues(next.points())).toStrictEqual([1e308, 1e308]);
    await processor.shutdown();
  });
});

function sdkDeltaSum(value: number, endSeconds: number): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    scopeMetrics: [
      {
        scope: { name: 'app' },
        metrics: [
          {
            descriptor: { name: 'bytes', description: '', unit: 'By', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.DELTA,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: [
              {
                startTime: [endSeconds - 1, 0],
                endTime: [endSeconds, 0],
                attributes: { 'tenant.id': 'acme' },
                value,
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('property: merging never writes a non-finite value and loses nothing', () => {
  // Values from one random "unit" (1, 2^999 or 2^1000) times integers: every finite sum of them is exact,
  // so the rows handed off must add up to exactly the inputs' total, however they were kept apart.
  const unitArb = fc.constantFrom(1, 2 ** 999, 2 ** 1000);
  const stepsArb = fc.array(
    fc.oneof(
      {
        weight: 5,
        arbitrary: fc.array(fc.integer({ min: -(2 ** 23), max: 2 ** 23 }), { minLength: 1, maxLength: 5 }),
      },
      { weight: 1, arbitrary: fc.constantFrom('take-fail' as const, 'take-ok' as const) },
    ),
    { maxLength: 25 },
  );

  it('random huge finite deltas of one series: every row finite, the rows add up to the inputs exactly', () => {
    fc.assert(
      fc.property(unitArb, stepsArb, (unit, steps) => {
        const accumulator = new Accumulator({ now: () => 0 });
        let expected = 0n;
        let handedOff = 0n;
        const check = (rows: readonly SeriesPoint[]) => {
          for (const value of sumValues(rows)) expect(Number.isFinite(value)).toBe(true);
        };
        for (const step of steps) {
          if (typeof step === 'string') {
            const rows = accumulator.take();
            check(rows);
            if (step === 'take-fail') accumulator.settle(rows.length, rows);
            else {
              accumulator.settle(rows.length, []);
              for (const value of sumValues(rows)) handedOff += exact(value);
            }
            continue;
          }
          const values = step.map((k) => k * unit);
          for (const value of values) expected += exact(value);
          accumulator.consume(deltaSums(...values));
        }
        const rows = accumulator.take();
        check(rows);
        for (const value of sumValues(rows)) handedOff += exact(value);
        expect(handedOff).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary finite doubles, extremes included: no row is ever non-finite', () => {
    const valueArb = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE, 1e308, -1e308),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(valueArb, { minLength: 1, maxLength: 6 }), { maxLength: 10 }),
        (inputs) => {
          const accumulator = new Accumulator({ now: () => 0 });
          for (const values of inputs) accumulator.consume(deltaSums(...values));
          const rows = accumulator.take();
          for (const value of sumValues(rows)) expect(Number.isFinite(value)).toBe(true);
          expect(rows.length).toBeLessThanOrEqual(inputs.flat().length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
