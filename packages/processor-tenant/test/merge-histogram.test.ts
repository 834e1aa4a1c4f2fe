import { describe, expect, it } from 'vitest';
import { addHistograms, diffHistograms, maxOf, minOf, sameBounds } from '../src/merge/histogram.ts';
import { histogram } from './helpers/builders.ts';

const BOUNDS = [0, 10, 100];

describe('addHistograms', () => {
  it('adds count, sum and every bucket of histograms with equal bounds', () => {
    const result = addHistograms(histogram(BOUNDS, [1, 0, 2, 3], 500), histogram(BOUNDS, [0, 4, 1, 0], 60));
    expect(result).toStrictEqual({
      count: 11,
      sum: 560,
      bounds: BOUNDS,
      bucketCounts: [1, 4, 3, 3],
      min: undefined,
      max: undefined,
    });
  });

  it('keeps the min of the mins and the max of the maxes', () => {
    const result = addHistograms(
      histogram(BOUNDS, [1, 1, 0, 0], 6, -1, 5),
      histogram(BOUNDS, [0, 1, 1, 0], 30, 4, 25),
    );
    expect([result.min, result.max]).toEqual([-1, 25]);
  });

  it('keeps the known min and max when one side recorded none', () => {
    const result = addHistograms(
      histogram(BOUNDS, [0, 1, 0, 0], 4),
      histogram(BOUNDS, [0, 1, 1, 0], 30, 4, 25),
    );
    expect([result.min, result.max]).toEqual([4, 25]);
  });

  it('refuses histograms with different bounds instead of merging them silently', () => {
    expect(() => addHistograms(histogram([1, 2], [1, 1, 1], 3), histogram([1, 3], [1, 1, 1], 3))).toThrow(
      RangeError,
    );
    expect(() => addHistograms(histogram([1, 2], [1, 1, 1], 3), histogram([1], [1, 1], 3))).toThrow(
      /bounds differ/,
    );
  });

  it('does not modify its inputs', () => {
    const held = histogram(BOUNDS, [1, 0, 2, 3], 500, 0, 200);
    const copy = structuredClone(held);
    addHistograms(held, histogram(BOUNDS, [1, 1, 1, 1], 1, -5, 500));
    expect(held).toStrictEqual(copy);
  });
});

describe('diffHistograms', () => {
  it('gives the bucket-wise change of a cumulative histogram, without min and max', () => {
    const previous = histogram(BOUNDS, [1, 2, 0, 0], 20, 1, 9);
    const current = histogram(BOUNDS, [1, 5, 2, 1], 400, 1, 300);
    expect(diffHistograms(previous, current)).toStrictEqual({
      count: 6,
      sum: 380,
      bounds: BOUNDS,
      bucketCounts: [0, 3, 2, 1],
      min: undefined,
      max: undefined,
    });
  });

  it('reports a reset when the count goes down', () => {
    expect(
      diffHistograms(histogram(BOUNDS, [1, 2, 0, 0], 20), histogram(BOUNDS, [1, 1, 0, 0], 20)),
    ).toBeUndefined();
  });

  it('reports a reset when one bucket goes down although the count grows', () => {
    expect(
      diffHistograms(histogram(BOUNDS, [1, 2, 0, 0], 20), histogram(BOUNDS, [0, 2, 5, 0], 20)),
    ).toBeUndefined();
  });

  it('reports a reset when the bounds change', () => {
    expect(diffHistograms(histogram([1, 2], [1, 1, 1], 3), histogram([1, 5], [2, 2, 2], 9))).toBeUndefined();
  });

  it('gives an empty change for a repeated point', () => {
    const value = histogram(BOUNDS, [1, 2, 3, 4], 99, 0, 50);
    expect(diffHistograms(value, value)).toMatchObject({ count: 0, sum: 0, bucketCounts: [0, 0, 0, 0] });
  });
});

describe('sameBounds, minOf, maxOf', () => {
  it('compares bounds element by element', () => {
    expect(sameBounds([1, 2], [1, 2])).toBe(true);
    expect(sameBounds([1, 2], [1, 2, 3])).toBe(false);
    expect(sameBounds([1, 2], [2, 1])).toBe(false);
    expect(sameBounds([], [])).toBe(true);
  });

  it('treats undefined as unknown, not as zero', () => {
    expect(minOf(undefined, 3)).toBe(3);
    expect(minOf(3, undefined)).toBe(3);
    expect(minOf(undefined, undefined)).toBeUndefined();
    expect(maxOf(-3, undefined)).toBe(-3);
    expect(minOf(2, -1)).toBe(-1);
    expect(maxOf(2, -1)).toBe(2);
  });
});
