import { describe, expect, it } from 'vitest';
import { cumulativeToDelta, type StreamState } from '../src/cumulative-to-delta.ts';
import { histogram, LATENCY, QUEUE_DEPTH, REQUESTS } from './helpers/builders.ts';

const state = (start: bigint, time: bigint, value: number): StreamState => ({
  startTimeUnixNano: start,
  timeUnixNano: time,
  value: { value },
  lastSeenMs: 0,
});
const point = (start: bigint, time: bigint, value: number) => ({
  startTimeUnixNano: start,
  timeUnixNano: time,
  value: { value },
});

describe('cumulativeToDelta', () => {
  it('counts the first point of a stream in full, over its own interval', () => {
    expect(cumulativeToDelta(REQUESTS, undefined, point(0n, 10n, 5))).toEqual({
      kind: 'first',
      delta: point(0n, 10n, 5),
    });
  });

  it('gives the change since the previous point, covering (previous time, time]', () => {
    expect(cumulativeToDelta(REQUESTS, state(0n, 10n, 5), point(0n, 20n, 12))).toEqual({
      kind: 'delta',
      delta: point(10n, 20n, 7),
    });
  });

  it('treats a changed start time as a reset and counts the new running total in full', () => {
    expect(cumulativeToDelta(REQUESTS, state(0n, 10n, 5), point(15n, 20n, 2))).toEqual({
      kind: 'reset',
      delta: point(15n, 20n, 2),
    });
  });

  it('treats a changed start time as a reset even when the value grew', () => {
    expect(cumulativeToDelta(REQUESTS, state(0n, 10n, 5), point(15n, 20n, 50))).toMatchObject({
      kind: 'reset',
      delta: { value: { value: 50 } },
    });
  });

  it('treats a decrease of a monotonic sum as a reset counted in full since the previous point', () => {
    expect(cumulativeToDelta(REQUESTS, state(0n, 10n, 5), point(0n, 20n, 2))).toEqual({
      kind: 'reset',
      delta: point(10n, 20n, 2),
    });
  });

  it('passes a decrease of a non-monotonic sum through as a negative delta', () => {
    expect(cumulativeToDelta(QUEUE_DEPTH, state(0n, 10n, 5), point(0n, 20n, 2))).toEqual({
      kind: 'delta',
      delta: point(10n, 20n, -3),
    });
  });

  it('ignores a point older than the last one', () => {
    expect(cumulativeToDelta(REQUESTS, state(0n, 20n, 9), point(0n, 10n, 5))).toEqual({ kind: 'stale' });
  });

  it('ignores an exact duplicate of the last point', () => {
    expect(cumulativeToDelta(REQUESTS, state(0n, 20n, 9), point(0n, 20n, 9))).toEqual({ kind: 'stale' });
  });

  it('compares times exactly at nanosecond resolution', () => {
    const t = 1_700_000_000_000_000_001n;
    expect(cumulativeToDelta(REQUESTS, state(0n, t, 9), point(0n, t + 1n, 10))).toEqual({
      kind: 'delta',
      delta: point(t, t + 1n, 1),
    });
  });

  it('converts cumulative histograms and resets on a bucket decrease', () => {
    const previous: StreamState = {
      startTimeUnixNano: 0n,
      timeUnixNano: 10n,
      value: histogram([1], [1, 1], 2),
      lastSeenMs: 0,
    };
    const grown = { startTimeUnixNano: 0n, timeUnixNano: 20n, value: histogram([1], [3, 1], 4) };
    expect(cumulativeToDelta(LATENCY, previous, grown)).toMatchObject({
      kind: 'delta',
      delta: { startTimeUnixNano: 10n, value: { count: 2, bucketCounts: [2, 0], sum: 2 } },
    });
    const shrunk = { startTimeUnixNano: 0n, timeUnixNano: 20n, value: histogram([1], [0, 3], 4) };
    expect(cumulativeToDelta(LATENCY, previous, shrunk)).toMatchObject({
      kind: 'reset',
      delta: { startTimeUnixNano: 10n, value: shrunk.value },
    });
  });
});
