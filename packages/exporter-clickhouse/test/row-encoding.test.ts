import { describe, expect, it } from 'vitest';
import { deduplicationToken, encodeBatch, encodeRow, float } from '../src/index.ts';
import { gaugePoint, histogramPoint, sumPoint } from './support.ts';

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
    ['a fractional count', histogramPoint({ count: 1.5 }), 'INVALID_VALUE'],
    ['mismatched buckets', histogramPoint({ bucketCounts: [1] }), 'INVALID_VALUE'],
  ])('rejects %s (it goes to the dead letters)', (_name, point, code) => {
    const { tables, rejected } = encodeBatch([point], options);
    expect(tables).toEqual([]);
    expect(rejected.map((r) => r.code)).toEqual([code]);
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
