import type { PointKind } from '@tallyhouse/model';
import { INT32_MAX, INT32_MIN, MAX_STORABLE_TIME_UNIX_NANO, pointProblem } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeRow, float } from '../src/row-encoding.ts';
import { deduplicationToken } from '../src/table-part.ts';
import { expHistogramPoint, gaugePoint, histogramPoint, sumPoint } from './support.ts';

const options = { tenantAttribute: 'tenant.id' };

describe('row encoding', () => {
  it('puts the tenant first and leaves the tenant attribute out of Attributes', () => {
    const row = JSON.parse(
      encodeRow(sumPoint(1, { tenant: '0', attributes: { 'tenant.id': '0', b: 'x', a: 'y' } }), options),
    );
    expect(row[0]).toBe('0');
    expect(row[8]).toEqual({ a: 'y', b: 'x' });
    expect(Object.keys(row[8])).toEqual(['a', 'b']);
  });

  it('writes times as exact integer nanoseconds', () => {
    const line = encodeRow(
      gaugePoint(1, { start: 1_700_000_000_123_456_789n, time: 9_223_372_036_854_775_807n }),
      options,
    );
    expect(line).toContain(',1700000000123456789,9223372036854775807,');
  });

  it('writes sums as deltas with their monotonicity', () => {
    const row = JSON.parse(encodeRow(sumPoint(2.5), options));
    expect(row.slice(-3)).toEqual([2.5, 1, true]);
  });

  it('writes Float64 so ClickHouse reads back the same double, including -0, NaN and ±Inf', () => {
    expect(float(0.1)).toBe('0.1');
    expect(float(-0)).toBe('-0');
    expect(float(1e300)).toBe('1e+300');
    expect(float(Number.NaN)).toBe('"nan"');
    expect(float(Number.POSITIVE_INFINITY)).toBe('"inf"');
    expect(float(Number.NEGATIVE_INFINITY)).toBe('"-inf"');
  });

  it('stores an unrecorded histogram min/max as NaN', () => {
    const row = JSON.parse(encodeRow(histogramPoint({ min: undefined, max: undefined }), options));
    expect(row.slice(-2)).toEqual(['nan', 'nan']);
  });

  it.each([
    ['a non-finite sum delta', sumPoint(Number.NaN), 'NON_FINITE_SUM'],
    ['an empty tenant', sumPoint(1, { tenant: '' }), 'INVALID_TENANT'],
    ['a tenant with a control character', sumPoint(1, { tenant: 'a\nb' }), 'INVALID_TENANT'],
    ['a negative time', gaugePoint(1, { time: -1n }), 'TIME_OUT_OF_RANGE'],
    ['a time past 2262', gaugePoint(1, { time: 2n ** 63n }), 'TIME_OUT_OF_RANGE'],
    ['a start time past 2262', gaugePoint(1, { start: 2n ** 64n - 1n }), 'TIME_OUT_OF_RANGE'],
    ['a fractional count', histogramPoint({ count: 1.5 }), 'INVALID_VALUE'],
    ['mismatched buckets', histogramPoint({ bucketCounts: [1] }), 'INVALID_VALUE'],
  ])('rejects %s (it goes to the dead letters)', (_name, point, code) => {
    const { tables, rejected } = encodeBatch([point], options);
    expect(tables).toEqual([]);
    expect(rejected.map((r) => r.code)).toEqual([code]);
  });

  it('writes exponential offsets and scales over the whole Int32 range, -2147483648 included', () => {
    const point = expHistogramPoint({
      positive: { offset: INT32_MIN, bucketCounts: [1] },
      negative: { offset: INT32_MAX, bucketCounts: [2] },
    });
    const row = JSON.parse(encodeRow(point, options));
    expect(row.slice(15, 19)).toEqual([INT32_MIN, [1], INT32_MAX, [2]]);
    expect(encodeBatch([point], options).rejected).toEqual([]);
  });

  it.each([
    ['below', INT32_MIN - 1],
    ['above', INT32_MAX + 1],
  ])('rejects an exponential offset one %s Int32', (_side, offset) => {
    const { rejected } = encodeBatch(
      [expHistogramPoint({ positive: { offset, bucketCounts: [1] } })],
      options,
    );
    expect(rejected.map((r) => [r.code, r.message])).toEqual([
      [
        'INVALID_VALUE',
        `exponentialHistogram "test.exponentialHistogram" of tenant "acme": positive.offset ${offset} is not an Int32 (-2147483648..2147483647)`,
      ],
    ]);
  });

  it.each([
    ['an attribute value', gaugePoint(1, { attributes: { route: 'a\ud800' } }), 'an attribute ("route")'],
    ['an attribute key', gaugePoint(1, { attributes: { '\udc00': 'x' } }), 'an attribute ("\\udc00")'],
    [
      'a resource attribute',
      gaugePoint(1, { service: 'svc\udbff' }),
      'a resource attribute ("service.name")',
    ],
    ['the metric name', gaugePoint(1, { name: 'm\ud800' }), 'metric name'],
  ])(
    'rejects a point whose %s holds an unpaired surrogate (ClickHouse would fail the whole insert)',
    (_what, point, field) => {
      const { tables, rejected } = encodeBatch([gaugePoint(2), point, gaugePoint(3)], options);
      expect(rejected.map((r) => r.code)).toEqual(['INVALID_VALUE']);
      expect(rejected[0]?.message).toContain(`${field} holds an unpaired UTF-16 surrogate`);
      expect(tables.map((t) => t.lines.length)).toEqual([2]);
    },
  );

  it('writes a surrogate pair, a literal backslash-u text and a lone surrogate nested in a value (canonical JSON escapes it)', () => {
    const point = gaugePoint(1, {
      attributes: { emoji: '\ud83d\ude00', text: '\\ud800', nested: ['\ud800'] },
    });
    const row = JSON.parse(encodeRow(point, options));
    expect(row[8]).toEqual({ emoji: '\u{1f600}', nested: '["\\ud800"]', text: '\\ud800' });
  });

  it('rejects a malformed point instead of throwing', () => {
    const malformed = { ...sumPoint(1), value: undefined } as unknown as Parameters<typeof encodeRow>[0];
    const { rejected } = encodeBatch([malformed], options);
    expect(rejected.map((r) => r.code)).toEqual(['INVALID_VALUE']);
  });

  it('groups points by table in a fixed table order', () => {
    const { tables } = encodeBatch([histogramPoint(), sumPoint(1), gaugePoint(1), sumPoint(2)], options);
    expect(tables.map((t) => [t.table, t.lines.length])).toEqual([
      ['otel_metrics_sum', 2],
      ['otel_metrics_gauge', 1],
      ['otel_metrics_histogram', 1],
    ]);
  });

  it('derives the deduplication token from batch id, table and rows', () => {
    const token = deduplicationToken('b1', 'otel_metrics_sum', '[1]\n');
    expect(deduplicationToken('b1', 'otel_metrics_sum', '[1]\n')).toBe(token);
    expect(deduplicationToken('b2', 'otel_metrics_sum', '[1]\n')).not.toBe(token);
    expect(deduplicationToken('b1', 'otel_metrics_gauge', '[1]\n')).not.toBe(token);
    expect(deduplicationToken('b1', 'otel_metrics_sum', '[2]\n')).not.toBe(token);
  });
});

describe("pointProblem: the storage rules the row encoder and the collector's decoders share", () => {
  const T = 1_700_000_000_000_000_000n;
  const histogram = histogramPoint().value;
  const exponential = expHistogramPoint().value;

  it.each<[string, PointKind, bigint, bigint, unknown, string | undefined]>([
    ['the last DateTime64(9) nanosecond', 'gauge', 0n, MAX_STORABLE_TIME_UNIX_NANO, { value: 1 }, undefined],
    ['a time of 2^63', 'gauge', 0n, 2n ** 63n, { value: 1 }, 'TIME_OUT_OF_RANGE timeUnixNano'],
    ['a negative start', 'gauge', -1n, T, { value: 1 }, 'TIME_OUT_OF_RANGE startTimeUnixNano'],
    ['a NaN gauge (stored as nan)', 'gauge', T, T, { value: Number.NaN }, undefined],
    ['a gauge without a number', 'gauge', T, T, { value: '1' }, 'INVALID_VALUE value'],
    ['an infinite sum delta', 'sum', T, T, { value: Number.NEGATIVE_INFINITY }, 'NON_FINITE_SUM value'],
    ['no value at all', 'sum', T, T, undefined, 'INVALID_VALUE '],
    [
      'one bucket too many',
      'histogram',
      T,
      T,
      { ...histogram, bucketCounts: [1, 2, 3, 0] },
      'INVALID_VALUE bucketCounts',
    ],
    [
      'a negative bucket count',
      'histogram',
      T,
      T,
      { ...histogram, bucketCounts: [1, -1, 2] },
      'INVALID_VALUE bucketCounts[1]',
    ],
    ['a count past 2^53 - 1', 'histogram', T, T, { ...histogram, count: 2 ** 53 }, 'INVALID_VALUE count'],
    [
      'a bound that is not a number',
      'histogram',
      T,
      T,
      { ...histogram, bounds: [1, '2'] },
      'INVALID_VALUE explicitBounds[1]',
    ],
    ['a min that is not a number', 'histogram', T, T, { ...histogram, min: null }, 'INVALID_VALUE min'],
    [
      'a fractional scale',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, scale: 0.5 },
      'INVALID_VALUE scale',
    ],
    [
      'a scale past Int32',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, scale: 2 ** 31 },
      'INVALID_VALUE scale',
    ],
    [
      'a fractional zero count',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, zeroCount: 1.5 },
      'INVALID_VALUE zeroCount',
    ],
    [
      'missing negative buckets',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, negative: undefined },
      'INVALID_VALUE negative',
    ],
    [
      'an unsafe bucket count',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, negative: { offset: 0, bucketCounts: [2 ** 60] } },
      'INVALID_VALUE negative.bucketCounts[0]',
    ],
    [
      'offsets at both Int32 ends',
      'exponentialHistogram',
      T,
      T,
      {
        ...exponential,
        positive: { offset: INT32_MIN, bucketCounts: [] },
        negative: { offset: INT32_MAX, bucketCounts: [] },
      },
      undefined,
    ],
  ])('%s', (_name, kind, start, time, value, expected) => {
    const problem = pointProblem(kind, start, time, value);
    expect(problem === undefined ? undefined : `${problem.code} ${problem.field}`).toBe(expected);
  });
});
