import {
  type ExponentialBuckets,
  type ExponentialHistogramValue,
  MIN_EXPONENTIAL_SCALE,
} from '@tallyhouse/model';
import { maxOf, minOf } from './histogram.ts';

/** The SDK's default maximum bucket count; a merge downscales further rather than grow past it. */
export const DEFAULT_MAX_EXPONENTIAL_BUCKETS = 160;

/**
 * Buckets -1 and 0 straddle 1 at every scale and never share a parent, so no limit below two can be met;
 * a smaller limit is read as two (the merge must end, whatever it is given).
 */
const MIN_BUCKET_LIMIT = 2;

/**
 * Index `index` at scale `s` is index `floor(index / 2^by)` at scale `s - by`.
 *
 * Computed on doubles, never with `>>`: an offset near the int32 limits plus a bucket count leaves int32, and
 * a shift would wrap it (the cause of ~2^31-slot allocations). Indices are integers well below 2^53 and the
 * divisor a power of two, so the division is exact. From 64 steps on every such index is -1 or 0 (and
 * `2 ** by` would reach Infinity past 1023, turning -1 into -0).
 */
function downscaleIndex(index: number, by: number): number {
  if (by >= 64) return index < 0 ? -1 : 0;
  return Math.floor(index / 2 ** by);
}

/** Re-buckets at a lower scale: index `i` at scale `s` is index `floor(i / 2^by)` at scale `s - by`. */
export function downscaleBuckets(buckets: ExponentialBuckets, by: number): ExponentialBuckets {
  if (!Number.isInteger(by) || by < 0) {
    throw new RangeError(`downscaleBuckets: by must be a non-negative integer, got ${by}`);
  }
  const counts = buckets.bucketCounts;
  if (by === 0 || counts.length === 0) return buckets;
  const offset = downscaleIndex(buckets.offset, by);
  // Never longer than the input: downscaling only merges buckets.
  const result = new Array<number>(downscaleIndex(buckets.offset + counts.length - 1, by) - offset + 1).fill(
    0,
  );
  for (let i = 0; i < counts.length; i++) {
    const index = downscaleIndex(buckets.offset + i, by) - offset;
    result[index] = (result[index] as number) + (counts[i] ?? 0);
  }
  return { offset, bucketCounts: result };
}

/** One side (positive or negative) of a histogram at `scale`, to be brought down `by` steps. */
interface Side {
  readonly buckets: ExponentialBuckets;
  readonly by: number;
}

/** How many buckets the union of `sides` spans once each is downscaled (0 when all are empty). */
function spanOf(sides: readonly Side[]): number {
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const { buckets, by } of sides) {
    if (buckets.bucketCounts.length === 0) continue;
    low = Math.min(low, downscaleIndex(buckets.offset, by));
    high = Math.max(high, downscaleIndex(buckets.offset + buckets.bucketCounts.length - 1, by));
  }
  return high >= low ? high - low + 1 : 0;
}

/** How many buckets one side of the union of `values` spans at `scale` (at or below each value's scale). */
function spanAt(values: readonly ExponentialHistogramValue[], side: 'positive' | 'negative', scale: number) {
  return spanOf(values.map((value) => ({ buckets: value[side], by: value.scale - scale })));
}

/**
 * The highest scale at or below every input's scale at which both sides of the union of `values` fit
 * `maxBuckets`. Only end points are looked at, so each step is O(1) whatever the offsets or widths.
 */
function scaleToFit(values: readonly ExponentialHistogramValue[], maxBuckets: number): number {
  const limit = Math.max(MIN_BUCKET_LIMIT, maxBuckets);
  let scale = Math.min(...values.map((value) => value.scale));
  // Ends: indices are below 2^53 in magnitude, so 64 steps below the lowest input scale leave only -1 and 0
  // on each side (`downscaleIndex`), which fit any limit.
  while (spanAt(values, 'positive', scale) > limit || spanAt(values, 'negative', scale) > limit) scale--;
  return scale;
}

/** The union of `sides` added bucket-wise, each downscaled by its `by`; allocates only the union's span. */
function addSides(sides: readonly Side[]): ExponentialBuckets {
  const present = sides.filter((side) => side.buckets.bucketCounts.length > 0);
  if (present.length === 0) return sides[sides.length - 1]!.buckets;
  if (present.length === 1 && present[0]!.by === 0) return present[0]!.buckets;
  let offset = Number.POSITIVE_INFINITY;
  for (const { buckets, by } of present) offset = Math.min(offset, downscaleIndex(buckets.offset, by));
  const bucketCounts = new Array<number>(spanOf(present)).fill(0);
  for (const { buckets, by } of present) {
    const counts = buckets.bucketCounts;
    for (let i = 0; i < counts.length; i++) {
      const index = downscaleIndex(buckets.offset + i, by) - offset;
      bucketCounts[index] = (bucketCounts[index] as number) + (counts[i] ?? 0);
    }
  }
  return { offset, bucketCounts };
}

function totalOf(buckets: ExponentialBuckets): number {
  let total = 0;
  for (const count of buckets.bucketCounts) total += count;
  return total;
}

/**
 * Adds two delta exponential histograms at the lower of their scales, lowering it further until the union
 * of buckets fits `maxBuckets` on each side (a single input wider than that is brought down too).
 *
 * Memory is bounded whatever the input: each side of the result holds at most `maxBuckets` (at least 2)
 * buckets, and nothing larger is allocated on the way. To get there the scale may have to go below
 * `MIN_EXPONENTIAL_SCALE` (only for indices no finite value can fall into); `canAddExponentialHistograms`
 * says whether the result stays in the OTLP range and every count exact — check it before storing a result.
 */
export function addExponentialHistograms(
  held: ExponentialHistogramValue,
  incoming: ExponentialHistogramValue,
  maxBuckets = DEFAULT_MAX_EXPONENTIAL_BUCKETS,
): ExponentialHistogramValue {
  const scale = scaleToFit([held, incoming], maxBuckets);
  const side = (name: 'positive' | 'negative') =>
    addSides([
      { buckets: held[name], by: held.scale - scale },
      { buckets: incoming[name], by: incoming.scale - scale },
    ]);
  return {
    count: held.count + incoming.count,
    sum: held.sum + incoming.sum,
    scale,
    zeroCount: held.zeroCount + incoming.zeroCount,
    positive: side('positive'),
    negative: side('negative'),
    min: minOf(held.min, incoming.min),
    max: maxOf(held.max, incoming.max),
  };
}

/**
 * Whether `addExponentialHistograms(held, incoming, maxBuckets)` gives a value that is exact and storable: the
 * sum stays finite, every count (count, zero count, each bucket) stays ≤ 2^53 - 1, and the union fits
 * `maxBuckets` at a scale no lower than `MIN_EXPONENTIAL_SCALE` (or the inputs' own). When it does not, the
 * two points are kept apart instead of merged.
 */
export function canAddExponentialHistograms(
  held: ExponentialHistogramValue,
  incoming: ExponentialHistogramValue,
  maxBuckets = DEFAULT_MAX_EXPONENTIAL_BUCKETS,
): boolean {
  if (!Number.isFinite(held.sum + incoming.sum)) return false;
  if (held.count + incoming.count > Number.MAX_SAFE_INTEGER) return false;
  if (held.zeroCount + incoming.zeroCount > Number.MAX_SAFE_INTEGER) return false;
  // Downscaling only merges buckets, so a side's total bounds every bucket the merge can make.
  if (totalOf(held.positive) + totalOf(incoming.positive) > Number.MAX_SAFE_INTEGER) return false;
  if (totalOf(held.negative) + totalOf(incoming.negative) > Number.MAX_SAFE_INTEGER) return false;
  const floor = Math.min(MIN_EXPONENTIAL_SCALE, held.scale, incoming.scale);
  return scaleToFit([held, incoming], maxBuckets) >= floor;
}

/**
 * `value` brought down until each side fits `maxBuckets`, as a merge would; `value` itself when it fits
 * already, or when fitting would need a scale below `MIN_EXPONENTIAL_SCALE` (such a point is kept as sent:
 * it is no larger than what arrived, and it is never merged).
 */
export function fitExponentialHistogram(
  value: ExponentialHistogramValue,
  maxBuckets = DEFAULT_MAX_EXPONENTIAL_BUCKETS,
): ExponentialHistogramValue {
  const limit = Math.max(MIN_BUCKET_LIMIT, maxBuckets);
  if (value.positive.bucketCounts.length <= limit && value.negative.bucketCounts.length <= limit)
    return value;
  const scale = scaleToFit([value], maxBuckets);
  if (scale < Math.min(MIN_EXPONENTIAL_SCALE, value.scale)) return value;
  const by = value.scale - scale;
  return {
    ...value,
    scale,
    positive: downscaleBuckets(value.positive, by),
    negative: downscaleBuckets(value.negative, by),
  };
}

/**
 * `current` minus `previous` brought to `current`'s scale (`by` steps down), or `undefined` when a previous
 * bucket falls outside `current` or would go negative. Allocates `current`'s length only, never the distance
 * between the two offsets.
 */
function subtractBuckets(
  current: ExponentialBuckets,
  previous: ExponentialBuckets,
  by: number,
): ExponentialBuckets | undefined {
  const counts = [...current.bucketCounts];
  for (let i = 0; i < previous.bucketCounts.length; i++) {
    const count = previous.bucketCounts[i] ?? 0;
    if (count === 0) continue;
    const index = downscaleIndex(previous.offset + i, by) - current.offset;
    if (index < 0 || index >= counts.length) return undefined;
    const change = (counts[index] as number) - count;
    if (change < 0) return undefined;
    counts[index] = change;
  }
  return { offset: current.offset, bucketCounts: counts };
}

/**
 * The change between two points of a cumulative exponential histogram (previous brought to the current
 * scale), or `undefined` on a reset: the scale went up, any count went down, or the change of the sum is
 * too large for a double.
 */
export function diffExponentialHistograms(
  previous: ExponentialHistogramValue,
  current: ExponentialHistogramValue,
): ExponentialHistogramValue | undefined {
  if (current.scale > previous.scale || current.count < previous.count) return undefined;
  if (current.zeroCount < previous.zeroCount) return undefined;
  const sum = current.sum - previous.sum;
  if (!Number.isFinite(sum)) return undefined;
  const by = previous.scale - current.scale;
  const positive = subtractBuckets(current.positive, previous.positive, by);
  if (positive === undefined) return undefined;
  const negative = subtractBuckets(current.negative, previous.negative, by);
  if (negative === undefined) return undefined;
  return {
    count: current.count - previous.count,
    sum,
    scale: current.scale,
    zeroCount: current.zeroCount - previous.zeroCount,
    positive,
    negative,
    min: undefined,
    max: undefined,
  };
}
