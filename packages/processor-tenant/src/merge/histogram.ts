import type { HistogramValue } from '../model.ts';

export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Adds two delta histograms with equal bounds bucket-wise. Different bounds never reach here:
 * series identity keeps them apart.
 */
export function addHistograms(held: HistogramValue, incoming: HistogramValue): HistogramValue {
  if (!sameBounds(held.bounds, incoming.bounds)) {
    throw new RangeError('addHistograms: bounds differ; such histograms are separate series');
  }
  const bucketCounts = held.bucketCounts.map((count, i) => count + (incoming.bucketCounts[i] ?? 0));
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
 * The change between two points of a cumulative histogram, or `undefined` when it was reset
 * (bounds changed, or the count or any bucket went down). Min and max of an interval cannot be
 * derived from cumulative min/max, so the delta carries none.
 */
export function diffHistograms(
  previous: HistogramValue,
  current: HistogramValue,
): HistogramValue | undefined {
  if (!sameBounds(previous.bounds, current.bounds) || current.count < previous.count) return undefined;
  const bucketCounts: number[] = [];
  for (let i = 0; i < current.bucketCounts.length; i++) {
    const change = (current.bucketCounts[i] ?? 0) - (previous.bucketCounts[i] ?? 0);
    if (change < 0) return undefined;
    bucketCounts.push(change);
  }
  return {
    count: current.count - previous.count,
    sum: current.sum - previous.sum,
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
