import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ExponentialBuckets, MIN_EXPONENTIAL_SCALE } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addExponentialHistograms,
  canAddExponentialHistograms,
  DEFAULT_MAX_EXPONENTIAL_BUCKETS,
  diffExponentialHistograms,
  downscaleBuckets,
  fitExponentialHistogram,
} from '../src/merge/exponential-histogram.ts';
import { expoHistogram } from './helpers/builders.ts';

const total = (buckets: ExponentialBuckets) => buckets.bucketCounts.reduce((a, b) => a + b, 0);

describe('downscaleBuckets', () => {
  it('returns the same buckets when the scale does not change', () => {
    const buckets = { offset: 3, bucketCounts: [1, 2] };
    expect(downscaleBuckets(buckets, 0)).toBe(buckets);
  });

  it('folds pairs of positive indices into one bucket per scale step', () => {
    expect(downscaleBuckets({ offset: 0, bucketCounts: [1, 2, 3, 4, 5] }, 1)).toStrictEqual({
      offset: 0,
      bucketCounts: [3, 7, 5],
    });
  });

  it('starts the pairs at even indices when the offset is odd', () => {
    // Indices 1,2,3 → 0,1,1.
    expect(downscaleBuckets({ offset: 1, bucketCounts: [1, 2, 3] }, 1)).toStrictEqual({
      offset: 0,
      bucketCounts: [1, 5],
    });
  });

  it('floors negative indices (index -3 at scale s is index -2 at scale s-1, not -1)', () => {
    // Indices -3,-2,-1,0 → -2,-1,-1,0.
    expect(downscaleBuckets({ offset: -3, bucketCounts: [1, 1, 1, 1] }, 1)).toStrictEqual({
      offset: -2,
      bucketCounts: [1, 2, 1],
    });
  });

  it('divides by a power of two for several steps at once, flooring negative indices', () => {
    // Indices -5..-1 at 2 steps: -5 → -2, -4..-1 → -1.
    expect(downscaleBuckets({ offset: -5, bucketCounts: [1, 2, 3, 4, 5] }, 2)).toStrictEqual({
      offset: -2,
      bucketCounts: [1, 14],
    });
  });

  it('leaves empty buckets empty', () => {
    expect(downscaleBuckets({ offset: -7, bucketCounts: [] }, 3).bucketCounts).toEqual([]);
  });

  it('keeps every count and agrees with downscaling one step at a time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1000, max: 1000 }),
        fc.array(fc.nat({ max: 50 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        (offset, bucketCounts, by) => {
          const buckets = { offset, bucketCounts };
          const direct = downscaleBuckets(buckets, by);
          let stepwise: ExponentialBuckets = buckets;
          for (let i = 0; i < by; i++) stepwise = downscaleBuckets(stepwise, 1);
          expect(direct).toStrictEqual(stepwise);
          expect(total(direct)).toBe(total(buckets));
          if (bucketCounts.length > 0) expect(direct.offset).toBe(Math.floor(offset / 2 ** by));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('addExponentialHistograms', () => {
  it('adds buckets at the same scale over the union of their ranges', () => {
    const result = addExponentialHistograms(
      expoHistogram(0, { offset: 2, bucketCounts: [1, 1] }, { zeroCount: 2, sum: 10, min: 0, max: 8 }),
      expoHistogram(0, { offset: 0, bucketCounts: [5] }, { zeroCount: 1, sum: 5, min: 0.5, max: 1 }),
    );
    expect(result).toStrictEqual({
      count: 10,
      sum: 15,
      scale: 0,
      zeroCount: 3,
      positive: { offset: 0, bucketCounts: [5, 0, 1, 1] },
      negative: { offset: 0, bucketCounts: [] },
      min: 0,
      max: 8,
    });
  });

  it('brings the finer histogram down to the coarser scale, whichever side holds it', () => {
    const fine = expoHistogram(2, { offset: 4, bucketCounts: [1, 1, 1, 1] });
    const coarse = expoHistogram(1, { offset: 2, bucketCounts: [3] });
    const expected = { scale: 1, count: 7, positive: { offset: 2, bucketCounts: [5, 2] } };
    expect(addExponentialHistograms(fine, coarse)).toMatchObject(expected);
    expect(addExponentialHistograms(coarse, fine)).toMatchObject(expected);
  });

  it('downscales further when the negative side would exceed the bucket limit', () => {
    const result = addExponentialHistograms(
      expoHistogram(3, { offset: 0, bucketCounts: [1] }, { negative: { offset: -4, bucketCounts: [1, 1] } }),
      expoHistogram(3, { offset: 0, bucketCounts: [] }, { negative: { offset: -2, bucketCounts: [1, 1] } }),
      2,
    );
    expect(result).toMatchObject({
      scale: 2,
      count: 5,
      positive: { offset: 0, bucketCounts: [1] },
      negative: { offset: -2, bucketCounts: [2, 2] },
    });
  });

  it('does not downscale when the union fits the limit exactly', () => {
    const result = addExponentialHistograms(
      expoHistogram(4, { offset: -2, bucketCounts: [1] }),
      expoHistogram(4, { offset: 1, bucketCounts: [1] }),
      4,
    );
    expect(result).toMatchObject({ scale: 4, positive: { offset: -2, bucketCounts: [1, 0, 0, 1] } });
  });

  it('uses the SDK default of 160 buckets per side', () => {
    expect(DEFAULT_MAX_EXPONENTIAL_BUCKETS).toBe(160);
    const result = addExponentialHistograms(
      expoHistogram(5, { offset: 0, bucketCounts: [1] }),
      expoHistogram(5, { offset: 160, bucketCounts: [1] }),
    );
    expect(result.scale).toBe(4);
    expect(result.positive).toStrictEqual({ offset: 0, bucketCounts: [1, ...new Array(79).fill(0), 1] });
  });

  it('keeps every count and stays within the bucket limit for any pair', () => {
    const buckets = fc.record({
      offset: fc.integer({ min: -300, max: 300 }),
      bucketCounts: fc.array(fc.nat({ max: 9 }), { maxLength: 30 }),
    });
    const value = fc
      .record({
        scale: fc.integer({ min: -2, max: 8 }),
        positive: buckets,
        negative: buckets,
        zeroCount: fc.nat(5),
      })
      .map(({ scale, positive, negative, zeroCount }) =>
        expoHistogram(scale, positive, { negative, zeroCount }),
      );
    fc.assert(
      fc.property(value, value, fc.integer({ min: 2, max: 40 }), (a, b, maxBuckets) => {
        const result = addExponentialHistograms(a, b, maxBuckets);
        expect(result.scale).toBeLessThanOrEqual(Math.min(a.scale, b.scale));
        expect(result.count).toBe(a.count + b.count);
        expect(total(result.positive)).toBe(total(a.positive) + total(b.positive));
        expect(total(result.negative)).toBe(total(a.negative) + total(b.negative));
        expect(result.zeroCount).toBe(a.zeroCount + b.zeroCount);
        // The limit binds merges only: a single input wider than the limit is not required to shrink.
        const widest = Math.max(
          a.positive.bucketCounts.length,
          b.positive.bucketCounts.length,
          a.negative.bucketCounts.length,
          b.negative.bucketCounts.length,
        );
        if (widest <= maxBuckets) {
          expect(result.positive.bucketCounts.length).toBeLessThanOrEqual(maxBuckets);
          expect(result.negative.bucketCounts.length).toBeLessThanOrEqual(maxBuckets);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('addExponentialHistograms with a limit of one bucket', () => {
  // Buckets -1 and 0 share no parent at any scale (1 is a boundary at every scale), so no downscale can fit
  // them into one bucket. The merge must still end; it runs in a child process because a hang would stall
  // the whole test worker.
  it('terminates when buckets on both sides of 1 must fit into one', () => {
    const module = fileURLToPath(new URL('../src/merge/exponential-histogram.ts', import.meta.url));
    const script = `
      import { addExponentialHistograms } from ${JSON.stringify(module)};
      const none = { offset: 0, bucketCounts: [] };
      const at = (offset) => ({ count: 1, sum: 0, scale: 0, zeroCount: 0, positive: { offset, bucketCounts: [1] },
        negative: none, min: undefined, max: undefined });
      const merged = addExponentialHistograms(at(-1), at(0), 1);
      process.stdout.write(JSON.stringify({ count: merged.count, scale: merged.scale }));`;
    const child = spawnSync(
      process.execPath,
      ['--conditions=@tallyhouse/source', '--input-type=module', '-e', script],
      {
        timeout: 3_000,
        encoding: 'utf8',
      },
    );
    expect(child.signal, 'addExponentialHistograms(…, maxBuckets = 1) did not return within 3 s').toBeNull();
    expect(JSON.parse(child.stdout)).toMatchObject({ count: 2 });
  });
});

describe('diffExponentialHistograms', () => {
  it('gives the bucket-wise change at the same scale, without min and max', () => {
    const previous = expoHistogram(
      0,
      { offset: 0, bucketCounts: [1, 2] },
      { zeroCount: 1, sum: 5, min: 0, max: 3 },
    );
    const current = expoHistogram(
      0,
      { offset: -1, bucketCounts: [1, 1, 3, 1] },
      { zeroCount: 3, sum: 20, min: 0, max: 9 },
    );
    expect(diffExponentialHistograms(previous, current)).toStrictEqual({
      count: 5,
      sum: 15,
      scale: 0,
      zeroCount: 2,
      positive: { offset: -1, bucketCounts: [1, 0, 1, 1] },
      negative: { offset: 0, bucketCounts: [] },
      min: undefined,
      max: undefined,
    });
  });

  it('brings the previous point down when the source lowered its scale', () => {
    const previous = expoHistogram(1, { offset: 0, bucketCounts: [1, 1] });
    const current = expoHistogram(0, { offset: 0, bucketCounts: [3, 1] });
    expect(diffExponentialHistograms(previous, current)).toMatchObject({
      scale: 0,
      count: 2,
      positive: { offset: 0, bucketCounts: [1, 1] },
    });
  });

  it('subtracts negative buckets with negative offsets', () => {
    const previous = expoHistogram(
      0,
      { offset: 0, bucketCounts: [] },
      { negative: { offset: -2, bucketCounts: [1] } },
    );
    const current = expoHistogram(
      0,
      { offset: 0, bucketCounts: [] },
      { negative: { offset: -3, bucketCounts: [2, 4] } },
    );
    expect(diffExponentialHistograms(previous, current)).toMatchObject({
      count: 5,
      negative: { offset: -3, bucketCounts: [2, 3] },
    });
  });

  it('reports a reset when the scale went up (a fresh histogram)', () => {
    const previous = expoHistogram(0, { offset: 0, bucketCounts: [1] });
    const current = expoHistogram(1, { offset: 0, bucketCounts: [5] });
    expect(diffExponentialHistograms(previous, current)).toBeUndefined();
  });

  it('reports a reset when one bucket went down although the count grew', () => {
    const previous = expoHistogram(0, { offset: 0, bucketCounts: [2, 1] });
    const current = expoHistogram(0, { offset: 0, bucketCounts: [1, 5] });
    expect(diffExponentialHistograms(previous, current)).toBeUndefined();
  });

  it('reports a reset when a previous bucket lies outside the current range', () => {
    const previous = expoHistogram(0, { offset: 5, bucketCounts: [1] });
    const current = expoHistogram(0, { offset: 0, bucketCounts: [9] });
    expect(diffExponentialHistograms(previous, current)).toBeUndefined();
  });

  it('reports a reset when the zero count went down', () => {
    const previous = expoHistogram(0, { offset: 0, bucketCounts: [1] }, { zeroCount: 3 });
    const current = expoHistogram(0, { offset: 0, bucketCounts: [5] }, { zeroCount: 1 });
    expect(diffExponentialHistograms(previous, current)).toBeUndefined();
  });

  it('adding the diff back to the previous point gives the current counts', () => {
    const previous = expoHistogram(2, { offset: -3, bucketCounts: [1, 0, 2] }, { zeroCount: 1 });
    const current = expoHistogram(1, { offset: -2, bucketCounts: [2, 4, 1] }, { zeroCount: 4 });
    const change = diffExponentialHistograms(previous, current);
    expect(change).toBeDefined();
    if (change === undefined) return;
    const rebuilt = addExponentialHistograms(previous, change);
    expect(rebuilt.scale).toBe(1);
    expect(rebuilt.positive).toStrictEqual(current.positive);
    expect(rebuilt.zeroCount).toBe(current.zeroCount);
    expect(rebuilt.count).toBe(current.count);
  });
});

describe('exponential histogram index arithmetic at the int32 limits', () => {
  const INT32_MAX = 2 ** 31 - 1;
  const INT32_MIN = -(2 ** 31);

  it('merging offsets 0 and 2147483647 at scale 0 stays within maxExponentialBuckets', () => {
    // offset + length - 1 = 2^31 leaves int32; a `>>` wrapped it and the merge asked for ~2^31 slots (heap OOM).
    const low = expoHistogram(0, { offset: 0, bucketCounts: [1] });
    const high = expoHistogram(0, { offset: INT32_MAX, bucketCounts: [2, 3] });
    for (const [a, b] of [
      [low, high],
      [high, low],
    ] as const) {
      const merged = addExponentialHistograms(a, b, 160);
      expect(merged.positive.bucketCounts.length).toBeLessThanOrEqual(160);
      expect(total(merged.positive)).toBe(6);
      expect(merged.count).toBe(6);
      expect(Number.isInteger(merged.positive.offset)).toBe(true);
      // Only a scale far below the OTLP range holds both: such points are kept apart, not merged.
      expect(merged.scale).toBeLessThan(MIN_EXPONENTIAL_SCALE);
      expect(canAddExponentialHistograms(a, b, 160)).toBe(false);
    }
  });

  it('merging scale 0 offset 2147483647 with scale -1 offset 0 does not throw "Invalid array length"', () => {
    const high = expoHistogram(0, { offset: INT32_MAX, bucketCounts: [1, 1] });
    const coarse = expoHistogram(-1, { offset: 0, bucketCounts: [4] });
    const merged = addExponentialHistograms(high, coarse, 160);
    expect(merged.positive.bucketCounts.length).toBeLessThanOrEqual(160);
    expect(total(merged.positive)).toBe(6);
  });

  it('merging offset -2147483648 with offset 0 floors the lowest index exactly', () => {
    const lowest = expoHistogram(0, { offset: INT32_MIN, bucketCounts: [5] });
    const zero = expoHistogram(0, { offset: 0, bucketCounts: [7] });
    const merged = addExponentialHistograms(lowest, zero, 4);
    expect(merged.positive.bucketCounts.length).toBeLessThanOrEqual(4);
    // -2^31 / 2^k stays an exact power of two: the first bucket holds the 5, the last the 7.
    expect(merged.positive.offset).toBe(Math.floor(INT32_MIN / 2 ** (0 - merged.scale)));
    expect(merged.positive.bucketCounts[0]).toBe(5);
    expect(merged.positive.bucketCounts.at(-1)).toBe(7);
  });

  it('downscales an index past int32 to its exact parent instead of wrapping it negative', () => {
    // Indices 2^31 - 1 and 2^31 → 2^30 - 1 and 2^30; `2 ** 31 >> 1` would be -2^30.
    expect(downscaleBuckets({ offset: INT32_MAX, bucketCounts: [1, 2] }, 1)).toStrictEqual({
      offset: 2 ** 30 - 1,
      bucketCounts: [1, 2],
    });
    expect(downscaleBuckets({ offset: INT32_MIN, bucketCounts: [1, 2] }, 31)).toStrictEqual({
      offset: -1,
      bucketCounts: [3],
    });
  });

  it('downscales by more steps than a double has exponent bits without turning -1 into -0', () => {
    expect(downscaleBuckets({ offset: -3, bucketCounts: [1, 1, 1, 1] }, 2000)).toStrictEqual({
      offset: -1,
      bucketCounts: [3, 1],
    });
  });

  it('refuses to upscale', () => {
    expect(() => downscaleBuckets({ offset: 0, bucketCounts: [1] }, -1)).toThrow(RangeError);
  });

  it('brings a single point wider than the limit down to it', () => {
    const wide = expoHistogram(20, { offset: INT32_MAX - 500, bucketCounts: new Array(1000).fill(3) });
    const fitted = fitExponentialHistogram(wide, 160);
    expect(fitted.positive.bucketCounts.length).toBeLessThanOrEqual(160);
    expect(total(fitted.positive)).toBe(3000);
    expect(fitted.scale).toBeLessThan(20);
    expect(fitExponentialHistogram(fitted, 160)).toBe(fitted);
  });

  it('keeps a point as it came when no scale in the OTLP range fits it within the limit', () => {
    const wide = expoHistogram(MIN_EXPONENTIAL_SCALE, { offset: 0, bucketCounts: new Array(200).fill(1) });
    expect(fitExponentialHistogram(wide, 160)).toBe(wide);
  });

  it('diffs a cumulative point across the int32 limit at a lower scale exactly', () => {
    const previous = expoHistogram(1, { offset: INT32_MAX, bucketCounts: [1, 1] });
    const current = expoHistogram(0, { offset: 2 ** 30 - 1, bucketCounts: [2, 3] });
    expect(diffExponentialHistograms(previous, current)).toMatchObject({
      scale: 0,
      count: 3,
      positive: { offset: 2 ** 30 - 1, bucketCounts: [1, 2] },
    });
  });

  it('diffs points at opposite int32 limits as a reset, allocating nothing of their distance', () => {
    const previous = expoHistogram(0, { offset: INT32_MIN, bucketCounts: [1] });
    const current = expoHistogram(0, { offset: INT32_MAX, bucketCounts: [1, 1] });
    expect(diffExponentialHistograms(previous, current)).toBeUndefined();
  });

  it('cannot add counts past 2^53 - 1 or sums past the largest double', () => {
    const big = expoHistogram(0, { offset: 0, bucketCounts: [2 ** 52] }, { sum: 1 });
    expect(canAddExponentialHistograms(big, big)).toBe(false);
    const huge = expoHistogram(0, { offset: 0, bucketCounts: [1] }, { sum: 1e308 });
    expect(canAddExponentialHistograms(huge, huge)).toBe(false);
    const fine = expoHistogram(0, { offset: 0, bucketCounts: [2 ** 51] }, { sum: 1e307 });
    expect(canAddExponentialHistograms(fine, fine)).toBe(true);
  });

  it('reports a reset when the change of the sum is too large for a double', () => {
    const previous = expoHistogram(0, { offset: 0, bucketCounts: [1] }, { sum: -1e308 });
    const current = expoHistogram(0, { offset: 0, bucketCounts: [2] }, { sum: 1e308 });
    expect(diffExponentialHistograms(previous, current)).toBeUndefined();
  });
});
