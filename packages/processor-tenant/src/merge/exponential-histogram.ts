import type { ExponentialBuckets, ExponentialHistogramValue } from '../model.ts';
import { maxOf, minOf } from './histogram.ts';

/** The SDK's default maximum bucket count; a merge downscales further rather than grow past it. */
export const DEFAULT_MAX_EXPONENTIAL_BUCKETS = 160;

const EMPTY: ExponentialBuckets = { offset: 0, bucketCounts: [] };

/** Re-buckets at a lower scale: index `i` at scale `s` is index `i >> by` at scale `s - by`. */
export function downscaleBuckets(buckets: ExponentialBuckets, by: number): ExponentialBuckets {
  if (by === 0 || buckets.bucketCounts.length === 0) return buckets;
  const offset = buckets.offset >> by;
  const last = (buckets.offset + buckets.bucketCounts.length - 1) >> by;
  const bucketCounts = new Array<number>(last - offset + 1).fill(0);
  buckets.bucketCounts.forEach((count, i) => {
    const index = ((buckets.offset + i) >> by) - offset;
    bucketCounts[index] = (bucketCounts[index] ?? 0) + count;
  });
  return { offset, bucketCounts };
}

/** How many scale steps are needed so the union of `a` and `b` fits `maxBuckets`. */
function extraDownscale(a: ExponentialBuckets, b: ExponentialBuckets, maxBuckets: number): number {
  const spans = [a, b].filter((buckets) => buckets.bucketCounts.length > 0);
  if (spans.length === 0) return 0;
  const low = Math.min(...spans.map((s) => s.offset));
  const high = Math.max(...spans.map((s) => s.offset + s.bucketCounts.length - 1));
  // Indices are 32-bit, so 31 steps fold any range into two buckets (-1 and 0 never share one).
  let by = 0;
  while (by < 31 && (high >> by) - (low >> by) + 1 > maxBuckets) by++;
  return by;
}

function addBuckets(a: ExponentialBuckets, b: ExponentialBuckets): ExponentialBuckets {
  if (a.bucketCounts.length === 0) return b;
  if (b.bucketCounts.length === 0) return a;
  const offset = Math.min(a.offset, b.offset);
  const end = Math.max(a.offset + a.bucketCounts.length, b.offset + b.bucketCounts.length);
  const bucketCounts = new Array<number>(end - offset).fill(0);
  for (const buckets of [a, b]) {
    buckets.bucketCounts.forEach((count, i) => {
      const index = buckets.offset - offset + i;
      bucketCounts[index] = (bucketCounts[index] ?? 0) + count;
    });
  }
  return { offset, bucketCounts };
}

function atScale(value: ExponentialHistogramValue, scale: number): ExponentialHistogramValue {
  const by = value.scale - scale;
  if (by === 0) return value;
  return {
    ...value,
    scale,
    positive: downscaleBuckets(value.positive, by),
    negative: downscaleBuckets(value.negative, by),
  };
}

/**
 * Adds two delta exponential histograms at the lower of their scales, lowering it further when the
 * union of buckets would exceed `maxBuckets` on either side.
 */
export function addExponentialHistograms(
  held: ExponentialHistogramValue,
  incoming: ExponentialHistogramValue,
  maxBuckets = DEFAULT_MAX_EXPONENTIAL_BUCKETS,
): ExponentialHistogramValue {
  let scale = Math.min(held.scale, incoming.scale);
  let a = atScale(held, scale);
  let b = atScale(incoming, scale);
  const by = Math.max(
    extraDownscale(a.positive, b.positive, maxBuckets),
    extraDownscale(a.negative, b.negative, maxBuckets),
  );
  if (by > 0) {
    scale -= by;
    a = atScale(a, scale);
    b = atScale(b, scale);
  }
  return {
    count: a.count + b.count,
    sum: a.sum + b.sum,
    scale,
    zeroCount: a.zeroCount + b.zeroCount,
    positive: addBuckets(a.positive, b.positive),
    negative: addBuckets(a.negative, b.negative),
    min: minOf(a.min, b.min),
    max: maxOf(a.max, b.max),
  };
}

function subtractBuckets(
  current: ExponentialBuckets,
  previous: ExponentialBuckets,
): ExponentialBuckets | undefined {
  const result = addBuckets(current, EMPTY);
  const counts = [...result.bucketCounts];
  for (let i = 0; i < previous.bucketCounts.length; i++) {
    const count = previous.bucketCounts[i] ?? 0;
    if (count === 0) continue;
    const index = previous.offset + i - result.offset;
    const change = (counts[index] ?? 0) - count;
    if (index < 0 || index >= counts.length || change < 0) return undefined;
    counts[index] = change;
  }
  return { offset: result.offset, bucketCounts: counts };
}

/**
 * The change between two points of a cumulative exponential histogram (previous brought to the current
 * scale), or `undefined` on a reset: the scale went up, or any count went down.
 */
export function diffExponentialHistograms(
  previous: ExponentialHistogramValue,
  current: ExponentialHistogramValue,
): ExponentialHistogramValue | undefined {
  if (current.scale > previous.scale || current.count < previous.count) return undefined;
  if (current.zeroCount < previous.zeroCount) return undefined;
  const before = atScale(previous, current.scale);
  const positive = subtractBuckets(current.positive, before.positive);
  const negative = subtractBuckets(current.negative, before.negative);
  if (positive === undefined || negative === undefined) return undefined;
  return {
    count: current.count - before.count,
    sum: current.sum - before.sum,
    scale: current.scale,
    zeroCount: current.zeroCount - before.zeroCount,
    positive,
    negative,
    min: undefined,
    max: undefined,
  };
}
