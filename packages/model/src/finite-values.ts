import type { PointKind } from './series.ts';

/**
 * The one rule for NaN and ±Inf, applied wherever a point enters (the OTLP decoders, the processor, the row
 * encoder), so no path accepts what another refuses:
 * - a sum's value and a histogram's sum must be finite: one NaN or ±Inf added into a total poisons every
 *   total of that tenant for good;
 * - a gauge or a summary is a reading kept as sent, NaN and ±Inf included: only its latest value counts,
 *   nothing adds it.
 * Returns the OTLP/JSON field at fault (`value` for sums, `sum` for histograms), or `undefined`.
 */
export function nonFiniteField(kind: PointKind, value: unknown): 'value' | 'sum' | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  switch (kind) {
    case 'sum': {
      const number = (value as { value?: unknown }).value;
      return typeof number === 'number' && !Number.isFinite(number) ? 'value' : undefined;
    }
    case 'histogram':
    case 'exponentialHistogram': {
      const sum = (value as { sum?: unknown }).sum;
      return typeof sum === 'number' && !Number.isFinite(sum) ? 'sum' : undefined;
    }
    default:
      return undefined;
  }
}
