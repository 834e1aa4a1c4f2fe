import { describe, expect, it } from 'vitest';
import { diffValues, type HeldPoint, mergeEarlierArrival, mergeLaterArrival } from '../src/merge/index.ts';
import { histogram, LATENCY, metricInfo, QUEUE_DEPTH, REQUESTS, TEMPERATURE } from './helpers/builders.ts';

const held = (start: bigint, time: bigint, value: number): HeldPoint => ({
  startTimeUnixNano: start,
  timeUnixNano: time,
  value: { value },
});
const timed = (start: bigint, time: bigint, value: number) => ({
  startTimeUnixNano: start,
  timeUnixNano: time,
  value: { value },
});

describe('mergeLaterArrival', () => {
  it('adds sums and widens the covered interval to both ends', () => {
    const point = held(10n, 20n, 3);
    mergeLaterArrival('sum', point, timed(5n, 30n, 4), 160);
    expect(point).toEqual(held(5n, 30n, 7));
  });

  it('keeps the held interval when the arrival lies inside it', () => {
    const point = held(0n, 100n, 3);
    mergeLaterArrival('sum', point, timed(10n, 20n, 4), 160);
    expect(point).toEqual(held(0n, 100n, 7));
  });

  it('replaces a gauge by a later arrival with an equal timestamp', () => {
    const point = held(0n, 20n, 1);
    mergeLaterArrival('gauge', point, timed(5n, 20n, 2), 160);
    expect(point).toEqual(held(5n, 20n, 2));
  });

  it('keeps a gauge when the later arrival is older', () => {
    const point = held(0n, 20n, 1);
    mergeLaterArrival('gauge', point, timed(0n, 19n, 2), 160);
    expect(point).toEqual(held(0n, 20n, 1));
  });

  it('adds histograms bucket-wise', () => {
    const point: HeldPoint = { startTimeUnixNano: 0n, timeUnixNano: 10n, value: histogram([1], [1, 0], 0.5) };
    mergeLaterArrival(
      'histogram',
      point,
      { startTimeUnixNano: 10n, timeUnixNano: 20n, value: histogram([1], [2, 3], 9) },
      160,
    );
    expect(point.value).toMatchObject({ count: 6, bucketCounts: [3, 3], sum: 9.5 });
    expect(point.timeUnixNano).toBe(20n);
  });
});

describe('mergeEarlierArrival', () => {
  it('adds sums of a failed batch back and widens the interval', () => {
    const point = held(10n, 20n, 3);
    mergeEarlierArrival('sum', point, timed(0n, 10n, 4), 160);
    expect(point).toEqual(held(0n, 20n, 7));
  });

  it('keeps the held gauge on equal timestamps, because it arrived later', () => {
    const point = held(0n, 20n, 1);
    mergeEarlierArrival('gauge', point, timed(0n, 20n, 2), 160);
    expect(point).toEqual(held(0n, 20n, 1));
  });

  it('lets an earlier arrival with a newer timestamp replace the gauge', () => {
    const point = held(0n, 20n, 1);
    mergeEarlierArrival('gauge', point, timed(0n, 21n, 2), 160);
    expect(point).toEqual(held(0n, 21n, 2));
  });
});

describe('diffValues', () => {
  it('dispatches monotonic sums to a reset on decrease', () => {
    expect(diffValues(REQUESTS, { value: 5 }, { value: 3 })).toBeUndefined();
    expect(diffValues(REQUESTS, { value: 5 }, { value: 8 })).toEqual({ value: 3 });
  });

  it('lets non-monotonic sums go down', () => {
    expect(diffValues(QUEUE_DEPTH, { value: 5 }, { value: 3 })).toEqual({ value: -2 });
  });

  it('diffs histograms', () => {
    expect(diffValues(LATENCY, histogram([1], [1, 1], 2), histogram([1], [2, 1], 3))).toMatchObject({
      count: 1,
      bucketCounts: [1, 0],
    });
  });

  it('returns the current gauge value unchanged', () => {
    const current = { value: 7 };
    expect(diffValues(TEMPERATURE, { value: 9 }, current)).toBe(current);
  });

  it('distinguishes monotonic from non-monotonic only through the metric', () => {
    const counter = metricInfo('sum', 'c', { monotonic: true });
    const upDown = metricInfo('sum', 'c', { monotonic: false });
    expect(diffValues(counter, { value: 1 }, { value: 0 })).toBeUndefined();
    expect(diffValues(upDown, { value: 1 }, { value: 0 })).toEqual({ value: -1 });
  });
});
