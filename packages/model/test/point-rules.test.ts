/**
 * One rule for NaN and ±Inf, and the storage rules every path shares: what the OTLP decoders acknowledge, the
 * processor buffers and the row encoder writes is decided here, so no path accepts what another refuses.
 */
import { describe, expect, it } from 'vitest';
import { nonFiniteField, type PointKind, pointProblem } from '../src/index.ts';

const T = 1_700_000_000_000_000_000n;
const histogram = (sum: number) => ({
  count: 1,
  sum,
  bounds: [1],
  bucketCounts: [1, 0],
  min: Number.NEGATIVE_INFINITY,
  max: Number.POSITIVE_INFINITY,
});
const exponential = (sum: number) => ({
  count: 1,
  sum,
  scale: 0,
  zeroCount: 1,
  positive: { offset: 0, bucketCounts: [] },
  negative: { offset: 0, bucketCounts: [] },
  min: undefined,
  max: undefined,
});

describe('nonFiniteField: which numbers must be finite', () => {
  it.each<[PointKind, unknown, string | undefined]>([
    ['sum', { value: Number.NaN }, 'value'],
    ['sum', { value: Number.POSITIVE_INFINITY }, 'value'],
    ['sum', { value: -0 }, undefined],
    ['gauge', { value: Number.NaN }, undefined],
    ['gauge', { value: Number.NEGATIVE_INFINITY }, undefined],
    ['histogram', histogram(Number.NaN), 'sum'],
    ['histogram', histogram(1), undefined],
    ['exponentialHistogram', exponential(Number.POSITIVE_INFINITY), 'sum'],
    ['exponentialHistogram', exponential(0), undefined],
  ])('%s %j → %s', (kind, value, field) => {
    expect(nonFiniteField(kind, value)).toBe(field);
  });

  it('never throws on a value of the wrong shape', () => {
    expect(nonFiniteField('sum', null)).toBeUndefined();
    expect(nonFiniteField('histogram', 'x')).toBeUndefined();
  });
});

describe('pointProblem applies the same rule', () => {
  it('refuses a non-finite sum or histogram sum as NON_FINITE_SUM, naming the field', () => {
    expect(pointProblem('sum', T, T, { value: Number.NaN })).toMatchObject({
      code: 'NON_FINITE_SUM',
      field: 'value',
    });
    expect(pointProblem('histogram', T, T, histogram(Number.NaN))).toMatchObject({
      code: 'NON_FINITE_SUM',
      field: 'sum',
    });
    expect(pointProblem('exponentialHistogram', T, T, exponential(Number.NaN))).toMatchObject({
      code: 'NON_FINITE_SUM',
      field: 'sum',
    });
  });

  it('stores NaN and ±Inf gauges and infinite histogram extremes', () => {
    expect(pointProblem('gauge', T, T, { value: Number.NaN })).toBeUndefined();
    expect(pointProblem('gauge', T, T, { value: Number.POSITIVE_INFINITY })).toBeUndefined();
    expect(pointProblem('histogram', T, T, histogram(2))).toBeUndefined();
  });

  it('refuses times outside DateTime64(9)', () => {
    expect(pointProblem('gauge', T, 2n ** 63n, { value: 1 })).toMatchObject({
      code: 'TIME_OUT_OF_RANGE',
      field: 'timeUnixNano',
    });
  });
});

describe('summaries: readings kept as sent', () => {
  const summary = (over: Record<string, unknown> = {}) => ({
    count: 3,
    sum: 7.5,
    quantileValues: [
      { quantile: 0, value: 1 },
      { quantile: 0.5, value: 2.5 },
      { quantile: 1, value: 4 },
    ],
    ...over,
  });

  it('stores a summary, NaN and ±Inf sums and quantile values included (nothing adds them)', () => {
    expect(pointProblem('summary', T, T, summary())).toBeUndefined();
    expect(pointProblem('summary', T, T, summary({ sum: Number.NaN, quantileValues: [] }))).toBeUndefined();
    expect(
      pointProblem('summary', T, T, summary({ quantileValues: [{ quantile: 0.99, value: Infinity }] })),
    ).toBeUndefined();
    expect(nonFiniteField('summary', summary({ sum: Number.NaN }))).toBeUndefined();
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ count: -1 }, 'count', /not a count/],
    [{ count: 2 ** 53 }, 'count', /not a count/],
    [{ sum: '1' }, 'sum', /not a number/],
    [{ quantileValues: 'x' }, 'quantileValues', /not a list/],
    [{ quantileValues: [null] }, 'quantileValues[0]', /not a ValueAtQuantile/],
    [
      { quantileValues: [{ quantile: 1.5, value: 1 }] },
      'quantileValues[0].quantile',
      /1\.5 is not a quantile/,
    ],
    [
      { quantileValues: [{ quantile: Number.NaN, value: 1 }] },
      'quantileValues[0].quantile',
      /not a quantile/,
    ],
    [
      { quantileValues: [{ quantile: 0.5, value: 1 }, { quantile: 0.9 }] },
      'quantileValues[1].value',
      /not a number/,
    ],
  ])('refuses %j at %s', (over, field, reason) => {
    const problem = pointProblem('summary', T, T, summary(over));
    expect(problem).toMatchObject({ code: 'INVALID_VALUE', field });
    expect(problem?.reason).toMatch(reason);
  });
});
