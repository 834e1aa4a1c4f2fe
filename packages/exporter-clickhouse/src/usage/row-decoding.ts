/**
 * Stored values back to what was written: Float64s as JSONEachRow writes them, and whole rows back to series
 * points (`UsageReader.points`).
 */
import type { PointKind, SeriesPoint } from '@tallyhouse/model';

/** A Float64 as JSONEachRow writes it (non-finite values quoted: `nan`, `inf`, `-inf`). */
export function decodeFloat(value: unknown): number {
  if (typeof value === 'number') return value;
  switch (value) {
    case 'nan':
    case '-nan':
      return Number.NaN;
    case 'inf':
    case '+inf':
      return Number.POSITIVE_INFINITY;
    case '-inf':
      return Number.NEGATIVE_INFINITY;
    default:
      return Number(value);
  }
}

function decodeOptional(value: unknown): number | undefined {
  const number = decodeFloat(value);
  return Number.isNaN(number) ? undefined : number;
}

function decodeInts(value: unknown): number[] {
  return (value as unknown[]).map((item) => Number(item));
}

/** One stored row back to a series point (see `points`); times are read as `<column>Nano` decimal strings. */
export function decodeRow(kind: PointKind, row: Record<string, unknown>): SeriesPoint {
  const common = {
    tenant: row.TenantId as string,
    resource: row.ResourceAttributes as Record<string, string>,
    scope: { name: row.ScopeName as string, version: row.ScopeVersion as string },
    attributes: row.Attributes as Record<string, string>,
    startTimeUnixNano: BigInt(row.StartTimeUnixNano as string),
    timeUnixNano: BigInt(row.TimeUnixNano as string),
  };
  const info = {
    name: row.MetricName as string,
    description: row.MetricDescription as string,
    unit: row.MetricUnit as string,
  };
  switch (kind) {
    case 'sum':
      return {
        ...common,
        metric: { ...info, kind, monotonic: row.IsMonotonic === true || row.IsMonotonic === 'true' },
        value: { value: decodeFloat(row.Value) },
      };
    case 'gauge':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: { value: decodeFloat(row.Value) },
      };
    case 'histogram':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: {
          count: Number(row.Count),
          sum: decodeFloat(row.Sum),
          bounds: (row.ExplicitBounds as unknown[]).map(decodeFloat),
          bucketCounts: decodeInts(row.BucketCounts),
          min: decodeOptional(row.Min),
          max: decodeOptional(row.Max),
        },
      };
    case 'exponentialHistogram':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: {
          count: Number(row.Count),
          sum: decodeFloat(row.Sum),
          scale: Number(row.Scale),
          zeroCount: Number(row.ZeroCount),
          positive: {
            offset: Number(row.PositiveOffset),
            bucketCounts: decodeInts(row.PositiveBucketCounts),
          },
          negative: {
            offset: Number(row.NegativeOffset),
            bucketCounts: decodeInts(row.NegativeBucketCounts),
          },
          min: decodeOptional(row.Min),
          max: decodeOptional(row.Max),
        },
      };
  }
}
