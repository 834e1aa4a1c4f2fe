import {
  type ExponentialBuckets,
  type ExponentialHistogramValue,
  type HistogramValue,
  MAX_EXPONENTIAL_SCALE,
  MIN_EXPONENTIAL_SCALE,
} from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addExponentialHistograms,
  canAddExponentialHistograms,
  diffExponentialHistograms,
  downscaleBuckets,
  fitExponentialHistogram,
} from '../src/merge/exponential-histogram.ts';
import { addHistograms, canAddHistograms, diffHistograms } from '../src/merge/histogram.ts';
import { addSums, canAddSums } from '../src/merge/sum.ts';
import { valueProblem } from '../src/point-validation.ts';

// Property tests over the edges of what the OTLP decoder accepts: offsets anywhere in int32 (with buckets
// reaching past it), scales -10..20, counts up to 2^53 - 1. The merge must never throw, never allocate more
// than the bucket limit, and either give exact counts or say it cannot.

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const bigTotal = (counts: readonly number[]) => counts.reduce((sum, count) => sum + BigInt(count), 0n);
const isInt32 = (value: number) => Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;

const offsetArb = fc.oneof(
  fc.constantFrom(INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX),
  fc.integer({ min: INT32_MIN, max: INT32_MAX }),
  fc.integer({ min: -300, max: 300 }),
);
const scaleArb = fc.oneof(
  fc.constantFrom(MIN_EXPONENTIAL_SCALE, MAX_EXPONENTIAL_SCALE, 0),
  fc.integer({ min: MIN_EXPONENTIAL_SCALE, max: MAX_EXPONENTIAL_SCALE }),
);
// Up to 2^45 per bucket and 200 buckets per side keeps a point's own total below 2^53, as intake requires;
// two such points can still pass it together.
const countArb = fc.oneof(fc.nat(9), fc.constantFrom(0, 2 ** 45), fc.integer({ min: 0, max: 2 ** 45 }));
const bucketsArb: fc.Arbitrary<ExponentialBuckets> = fc.record({
  offset: offsetArb,
  bucketCounts: fc.array(countArb, { maxLength: 200 }),
});
const sumArb = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, 0),
);
const expoArb: fc.Arbitrary<ExponentialHistogramValue> = fc
  .record({ scale: scaleArb, positive: bucketsArb, negative: bucketsArb, zeroCount: countArb, sum: sumArb })
  .map(({ scale, positive, negative, zeroCount, sum }) => ({
    count: Number(bigTotal(positive.bucketCounts) + bigTotal(negative.bucketCounts) + BigInt(zeroCount)),
    sum,
    scale,
    zeroCount,
    positive,
    negative,
    min: undefined,
    max: undefined,
  }));
const limitArb = fc.oneof(fc.constantFrom(2, 160), fc.integer({ min: 2, max: 250 }));

function expectSidesWithin(value: ExponentialHistogramValue, limit: number) {
  expect(value.positive.bucketCounts.length).toBeLessThanOrEqual(limit);
  expect(value.negative.bucketCounts.length).toBeLessThanOrEqual(limit);
  expect(isInt32(value.positive.offset) && isInt32(value.negative.offset)).toBe(true);
}

describe('exponential histogram merge over extreme inputs', () => {
  it('never throws, never exceeds the bucket limit, and either keeps every count exactly or says it cannot', () => {
    fc.assert(
      fc.property(expoArb, expoArb, limitArb, (a, b, limit) => {
        const merged = addExponentialHistograms(a, b, limit);
        expectSidesWithin(merged, limit);
        expect(merged.scale).toBeLessThanOrEqual(Math.min(a.scale, b.scale));
        if (!canAddExponentialHistograms(a, b, limit)) return;
        expect(merged.scale).toBeGreaterThanOrEqual(MIN_EXPONENTIAL_SCALE);
        expect(Number.isFinite(merged.sum)).toBe(true);
        for (const side of ['positive', 'negative'] as const) {
          expect(bigTotal(merged[side].bucketCounts)).toBe(
            bigTotal(a[side].bucketCounts) + bigTotal(b[side].bucketCounts),
          );
          for (const count of merged[side].bucketCounts) expect(count).toBeLessThanOrEqual(MAX_SAFE);
        }
        expect(BigInt(merged.zeroCount)).toBe(BigInt(a.zeroCount) + BigInt(b.zeroCount));
        expect(BigInt(merged.count)).toBe(BigInt(a.count) + BigInt(b.count));
        expect(merged.count).toBeLessThanOrEqual(MAX_SAFE);
      }),
      { numRuns: 400 },
    );
  });

  it('fits a single point to the limit whenever a scale in the OTLP range can, keeping every count', () => {
    fc.assert(
      fc.property(expoArb, limitArb, (value, limit) => {
        const fitted = fitExponentialHistogram(value, limit);
        if (fitted === value) {
          // Left as it came: it fitted already, or no scale down to -10 holds it.
          const fits =
            value.positive.bucketCounts.length <= limit && value.negative.bucketCounts.length <= limit;
          if (!fits)
            expect(addExponentialHistograms(value, value, limit).scale).toBeLessThan(MIN_EXPONENTIAL_SCALE);
          return;
        }
        expectSidesWithin(fitted, limit);
        expect(fitted.scale).toBeGreaterThanOrEqual(MIN_EXPONENTIAL_SCALE);
        expect(bigTotal(fitted.positive.bucketCounts)).toBe(bigTotal(value.positive.bucketCounts));
        expect(bigTotal(fitted.negative.bucketCounts)).toBe(bigTotal(value.negative.bucketCounts));
      }),
      { numRuns: 300 },
    );
  });

  it('downscaling never makes a bucket array longer, at any offset and any number of steps', () => {
    fc.assert(
      fc.property(bucketsArb, fc.integer({ min: 0, max: 80 }), (buckets, by) => {
        const result = downscaleBuckets(buckets, by);
        expect(result.bucketCounts.length).toBeLessThanOrEqual(buckets.bucketCounts.length);
        expect(bigTotal(result.bucketCounts)).toBe(bigTotal(buckets.bucketCounts));
        if (buckets.bucketCounts.length > 0) expect(isInt32(result.offset)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a cumulative diff of previous + delta gives back the delta exactly, allocating no more than the current point', () => {
    fc.assert(
      fc.property(expoArb, expoArb, limitArb, (previous, delta, limit) => {
        const earlier = { ...previous, sum: 0 };
        const change = { ...delta, sum: 0 };
        if (!canAddExponentialHistograms(earlier, change, limit)) return;
        const current = addExponentialHistograms(earlier, change, limit);
        const diff = diffExponentialHistograms(earlier, current);
        expect(diff).toBeDefined();
        if (diff === undefined) return;
        expectSidesWithin(diff, limit);
        expect(diff.positive.bucketCounts.length).toBe(current.positive.bucketCounts.length);
        expect(bigTotal(diff.positive.bucketCounts)).toBe(bigTotal(change.positive.bucketCounts));
        expect(bigTotal(diff.negative.bucketCounts)).toBe(bigTotal(change.negative.bucketCounts));
        expect(diff.zeroCount).toBe(change.zeroCount);
        expect(diff.count).toBe(change.count);
      }),
      { numRuns: 300 },
    );
  });

  it('a cumulative diff of unrelated extreme points never throws and stays within the current point', () => {
    fc.assert(
      fc.property(expoArb, expoArb, (previous, current) => {
        const diff = diffExponentialHistograms(previous, current);
        if (diff === undefined) return;
        expect(diff.positive.bucketCounts.length).toBe(current.positive.bucketCounts.length);
        expect(diff.negative.bucketCounts.length).toBe(current.negative.bucketCounts.length);
        expect(Number.isFinite(diff.sum)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

const BOUNDS = [1, 10, 100];
const histogramArb = (length: fc.Arbitrary<number>): fc.Arbitrary<HistogramValue> =>
  fc
    .record({
      counts: length.chain((n) =>
        fc.array(fc.oneof(fc.nat(9), fc.integer({ min: 0, max: 2 ** 51 })), { minLength: n, maxLength: n }),
      ),
      sum: sumArb,
    })
    .map(({ counts, sum }) => ({
      count: Number(bigTotal(counts)),
      sum,
      bounds: BOUNDS,
      bucketCounts: counts,
      min: undefined,
      max: undefined,
    }));

describe('explicit histogram and sum merge over extreme inputs', () => {
  it('adds histograms exactly whenever it says it can, and never drops a bucket of a longer array', () => {
    fc.assert(
      fc.property(histogramArb(fc.constant(4)), histogramArb(fc.integer({ min: 0, max: 6 })), (a, b) => {
        const merged = addHistograms(a, b);
        expect(merged.bucketCounts.length).toBe(Math.max(a.bucketCounts.length, b.bucketCounts.length));
        if (!canAddHistograms(a, b)) return;
        expect(bigTotal(merged.bucketCounts)).toBe(bigTotal(a.bucketCounts) + bigTotal(b.bucketCounts));
        expect(Number.isFinite(merged.sum)).toBe(true);
        expect(merged.count).toBeLessThanOrEqual(MAX_SAFE);
        for (const count of merged.bucketCounts) expect(count).toBeLessThanOrEqual(MAX_SAFE);
        expect(BigInt(merged.count)).toBe(BigInt(a.count) + BigInt(b.count));
      }),
      { numRuns: 300 },
    );
  });

  it('says a histogram cannot be added once a count would pass 2^53 - 1', () => {
    const half = (extra: number): HistogramValue => ({
      count: 2 ** 52 + extra,
      sum: 1,
      bounds: [],
      bucketCounts: [2 ** 52 + extra],
      min: undefined,
      max: undefined,
    });
    expect(canAddHistograms(half(0), half(-1))).toBe(true);
    expect(canAddHistograms(half(0), half(0))).toBe(false);
  });

  it('a diff of histograms with bucket arrays of different lengths is a reset, not a silent truncation', () => {
    const previous: HistogramValue = {
      count: 1,
      sum: 1,
      bounds: BOUNDS,
      bucketCounts: [1, 0, 0],
      min: undefined,
      max: undefined,
    };
    const current = { ...previous, count: 2, bucketCounts: [1, 0, 0, 1] };
    expect(diffHistograms(previous, current)).toBeUndefined();
  });

  it('adds two finite sums exactly when the result is finite, and says so otherwise', () => {
    fc.assert(
      fc.property(sumArb, sumArb, (a, b) => {
        const can = canAddSums({ value: a }, { value: b });
        expect(can).toBe(Number.isFinite(addSums({ value: a }, { value: b }).value));
      }),
      { numRuns: 300 },
    );
  });
});

describe('valueProblem: what intake rejects before it could reach storage', () => {
  const expo = (fields: Partial<ExponentialHistogramValue>): ExponentialHistogramValue => ({
    count: 1,
    sum: 1,
    scale: 0,
    zeroCount: 0,
    positive: { offset: 0, bucketCounts: [1] },
    negative: { offset: 0, bucketCounts: [] },
    min: undefined,
    max: undefined,
    ...fields,
  });

  it('accepts exponential histograms at both int32 offset limits and both scale limits', () => {
    for (const offset of [INT32_MIN, INT32_MAX])
      for (const scale of [MIN_EXPONENTIAL_SCALE, MAX_EXPONENTIAL_SCALE])
        expect(
          valueProblem('exponentialHistogram', expo({ scale, positive: { offset, bucketCounts: [1] } })),
        ).toBeUndefined();
  });

  it('rejects scales outside -10..20, offsets outside int32 and counts that are not exact integers', () => {
    const problems = [
      expo({ scale: 21 }),
      expo({ scale: -11 }),
      expo({ scale: 0.5 }),
      expo({ positive: { offset: 2 ** 31, bucketCounts: [1] } }),
      expo({ negative: { offset: INT32_MIN - 1, bucketCounts: [1] } }),
      expo({ zeroCount: -1 }),
      expo({ count: 1.5 }),
      expo({ positive: { offset: 0, bucketCounts: [MAX_SAFE + 1] } }),
      expo({ positive: { offset: 0, bucketCounts: [MAX_SAFE, 1] } }),
    ].map((value) => valueProblem('exponentialHistogram', value)?.reason);
    expect(problems).toStrictEqual(new Array(9).fill('invalid_value'));
  });

  it('rejects explicit histograms whose bucket counts do not match their bounds', () => {
    const value: HistogramValue = {
      count: 2,
      sum: 1,
      bounds: [1],
      bucketCounts: [1, 1, 0],
      min: undefined,
      max: undefined,
    };
    expect(valueProblem('histogram', value)).toMatchObject({ reason: 'invalid_value' });
    expect(valueProblem('histogram', { ...value, bucketCounts: [1, 1] })).toBeUndefined();
  });

  it('reports non-finite sums and histogram sums as non_finite_value, and lets gauges be anything', () => {
    expect(valueProblem('sum', { value: Number.POSITIVE_INFINITY })?.reason).toBe('non_finite_value');
    expect(valueProblem('exponentialHistogram', expo({ sum: Number.NaN }))?.reason).toBe('non_finite_value');
    expect(valueProblem('gauge', { value: Number.NaN })).toBeUndefined();
  });
});
