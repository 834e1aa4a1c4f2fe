import type { HistogramValue } from '@tallyhouse/model';

export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Adds two delta histograms with equal bounds bucket-wise. Different bounds never reach here:
 * series identity keeps them apart. Check `canAddHistograms` first: this adds whatever it is given.
 */
export function addHistograms(held: HistogramValue, incoming: HistogramValue): HistogramValue {
  if (!sameBounds(held.bounds, incoming.bounds)) {
    throw new RangeError('addHistograms: bounds differ; such histograms are separate series');
  }
  // Equal bounds mean equal lengths for valid input; the longer array still loses no bucket if not.
  const length = Math.max(held.bucketCounts.length, incoming.bucketCounts.length);
  const bucketCounts: number[] = [];
  for (let i = 0; i < length; i++)
    bucketCounts.push((held.bucketCounts[i] ?? 0) + (incoming.bucketCounts[i] ?? 0));
  return {
    count: held.count + incoming.count,
    sum: held.sum + incoming.sum,
    bounds: held.bounds,
    bucketCounts,
    min: minOf(held.min, incoming.min),
    max: maxOf(held.max, incoming.max),
  };
}

/**
 * Whether `addHistograms` gives an exact, storable value: equal bounds, a finite sum, and the count and every
 * bucket at most 2^53 - 1 (past it a double no longer counts one by one). When not, the points stay apart.
 */
export function canAddHistograms(held: HistogramValue, incoming: HistogramValue): boolean {
  if (!sameBounds(held.bounds, incoming.bounds)) return false;
  if (!Number.isFinite(held.sum + incoming.sum)) return false;
  if (held.count + incoming.count > Number.MAX_SAFE_INTEGER) return false;
  const length = Math.max(held.bucketCounts.length, incoming.bucketCounts.length);
  for (let i = 0; i < length; i++) {
    if ((held.bucketCounts[i] ?? 0) + (incoming.bucketCounts[i] ?? 0) > Number.MAX_SAFE_INTEGER) return false;
  }
  return true;
}

/**
 * The change between two points of a cumulative histogram, or `undefined` when it was reset
 * (bounds or bucket count changed, the count or any bucket went down, or the change of the sum is too
 * large for a double). Min and max of an interval cannot be
 * derived from cumulative min/max, so the delta carries none.
 */
export function diffHistograms(
  previous: HistogramValue,
  current: HistogramValue,
): HistogramValue | undefined {
  if (!sameBounds(previous.bounds, current.bounds) || current.count < previous.count) return undefined;
  if (previous.bucketCounts.length !== current.bucketCounts.length) return undefined;
  const sum = current.sum - previous.sum;
  if (!Number.isFinite(sum)) return undefined;
  const bucketCounts: number[] = [];
  for (let i = 0; i < current.bucketCounts.length; i++) {
    const change = (current.bucketCounts[i] ?? 0) - (previous.bucketCounts[i] ?? 0);
    if (change < 0) return undefined;
    bucketCounts.push(change);
  }
  return {
    count: current.count - previous.count,
    sum,
    bounds: current.bounds,
    bucketCounts,
    min: undefined,
    max: undefined,
  };
}

export function minOf(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

export function maxOf(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
