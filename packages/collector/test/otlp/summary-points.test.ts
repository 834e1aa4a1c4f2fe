/**
 * Summary points in both encodings alike: kept as sent (a reading, NaN and ±Inf included), rejected point by point
 * by the rules every kind shares, naming the field.
 */
import { describe, expect, it } from 'vitest';
import { ENCODINGS, type RawMetric, type RawPoint } from './raw-requests.ts';

const T1 = 1_700_000_010_000_000_000n;

const summaryPoint = (
  fields: Partial<Extract<RawPoint['value'], { type: 'summary' }>>,
  point: Partial<RawPoint> = {},
): RawPoint => ({
  start: T1 - 10n,
  time: T1,
  flags: 0,
  value: { type: 'summary', count: 3n, sum: 7.5, quantiles: [], ...fields },
  ...point,
});

const summary = (name: string, ...points: RawPoint[]): RawMetric => ({
  name,
  kind: 'summary',
  temporality: 0,
  points,
});

describe.each(Object.keys(ENCODINGS) as (keyof typeof ENCODINGS)[])('in %s', (encoding) => {
  const decode = ENCODINGS[encoding];

  it('keeps summary points as sent: count, sum and quantiles in order, NaN and ±Inf readings included', () => {
    const result = decode([
      summary(
        'latency',
        summaryPoint({
          sum: Number.NaN,
          quantiles: [
            { quantile: 1, value: Number.POSITIVE_INFINITY },
            { quantile: 0, value: -2 },
            { quantile: 0.5, value: Number.NaN },
          ],
        }),
        summaryPoint({ count: 0n, sum: undefined }),
      ),
    ]);
    expect(result).toMatchObject({ acceptedDataPoints: 2, rejectedDataPoints: 0 });
    const [metric] = result.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    expect(metric).toMatchObject({
      metric: { name: 'latency', kind: 'summary', monotonic: false },
      temporality: 'cumulative',
    });
    expect(metric?.points).toEqual([
      {
        attributes: { route: '/pay' },
        startTimeUnixNano: T1 - 10n,
        timeUnixNano: T1,
        value: {
          count: 3,
          sum: Number.NaN,
          quantileValues: [
            { quantile: 1, value: Number.POSITIVE_INFINITY },
            { quantile: 0, value: -2 },
            { quantile: 0.5, value: Number.NaN },
          ],
        },
      },
      // An absent sum is 0, as OTLP's default.
      {
        attributes: { route: '/pay' },
        startTimeUnixNano: T1 - 10n,
        timeUnixNano: T1,
        value: { count: 0, sum: 0, quantileValues: [] },
      },
    ]);
  });

  it('rejects a summary point with a bad quantile, an inexact count or no time, naming the field', () => {
    const result = decode([
      summary(
        'q',
        summaryPoint({
          quantiles: [
            { quantile: 0.5, value: 1 },
            { quantile: 1.5, value: 2 },
          ],
        }),
        summaryPoint({ quantiles: [{ quantile: Number.NaN, value: 1 }] }),
        summaryPoint({ count: 2n ** 53n }),
        summaryPoint({}, { time: 0n }),
        summaryPoint({}),
      ),
    ]);
    expect(result).toMatchObject({ acceptedDataPoints: 1, rejectedDataPoints: 4 });
    const base = 'resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints';
    expect(result.rejectionMessages).toEqual([
      `${base}[0].quantileValues[1].quantile: metric "q": storage refuses it: 1.5 is not a quantile (a number in [0, 1])`,
      `${base}[1].quantileValues[0].quantile: metric "q": storage refuses it: NaN is not a quantile (a number in [0, 1])`,
      `${base}[2].count: metric "q": exceeds 2^53 - 1 and cannot be counted exactly`,
      `${base}[3].timeUnixNano: metric "q": missing (0); every data point needs its observation time`,
    ]);
  });

  it('drops a summary point flagged "no recorded value" unreported, and rejects a summary without a name whole', () => {
    const result = decode([
      summary('stale', summaryPoint({}, { flags: 1 }), summaryPoint({})),
      summary('', summaryPoint({}), summaryPoint({})),
    ]);
    expect(result).toMatchObject({
      acceptedDataPoints: 1,
      rejectedDataPoints: 2,
      noRecordedValueDataPoints: 1,
    });
    expect(result.rejectionMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[1].summary: metric "": 2 data points rejected: the metric name is empty',
    ]);
  });
});
