/**
 * Percentiles of an explicit-bucket histogram from its merged bucket counts (pure; unit-tested alone).
 *
 * Bucket `i` holds values in `(bounds[i-1], bounds[i]]`; the first is `(-inf, bounds[0]]`, the last
 * `(bounds[n-1], +inf)`. The rank of quantile `q` is `q · count`; the answer lies in the first bucket whose
 * cumulative count reaches the rank (for `q = 0`: the first non-empty bucket).
 *
 * - `upper-bound`: that bucket's upper bound — an upper estimate, never below the true value (except in the last
 *   bucket).
 * - `linear` (default; Prometheus `histogram_quantile`): linear interpolation between the bucket's lower and upper
 *   bound by the rank's position inside the bucket; the first bucket's lower bound is 0 when its upper bound is
 *   positive, else the upper bound itself.
 *
 * Both: a rank in the last, unbounded bucket answers `bounds[n-1]` (the highest finite bound, as Prometheus);
 * no bounds, or no observations, answers `undefined`.
 */
export type PercentileMethod = 'linear' | 'upper-bound';

export function histogramQuantile(
  quantile: number,
  bounds: readonly number[],
  bucketCounts: readonly number[],
  method: PercentileMethod = 'linear',
): number | undefined {
  if (!(quantile >= 0 && quantile <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${quantile}`);
  if (bounds.length === 0) return undefined;
  const total = bucketCounts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return undefined;
  const rank = quantile * total;
  let below = 0;
  for (let index = 0; index < bucketCounts.length; index++) {
    const count = bucketCounts[index] ?? 0;
    if (count === 0 || below + count < rank) {
      below += count;
      continue;
    }
    if (index >= bounds.length) return bounds[bounds.length - 1];
    const upper = bounds[index] as number;
    if (method === 'upper-bound') return upper;
    const lower = index === 0 ? Math.min(0, upper) : (bounds[index - 1] as number);
    return lower + (upper - lower) * ((rank - below) / count);
  }
  return bounds[bounds.length - 1];
}
