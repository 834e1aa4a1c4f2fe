/**
 * What a point may hold to be stored, point by point. The ClickHouse row encoder runs these rules before it
 * writes a row; an edge that acknowledges points (the collector's OTLP decoders) runs the same function before
 * it answers. A point that passed the edge and failed here would be dead-lettered after the client was told it
 * had been taken.
 *
 * Fields are named as in OTLP/JSON, relative to the data point (`timeUnixNano`, `bucketCounts[2]`,
 * `positive.offset`), so an edge can put them into a field path.
 */
import { nonFiniteField } from './finite-values.ts';
import type {
  ExponentialBuckets,
  ExponentialHistogramValue,
  HistogramValue,
  PointKind,
  SummaryValue,
} from './series.ts';

/** Why a point cannot be stored; the dead-letter `ErrorCode` of a refused row. */
export type PointProblemCode = 'INVALID_TENANT' | 'NON_FINITE_SUM' | 'TIME_OUT_OF_RANGE' | 'INVALID_VALUE';

/**
 * The last nanosecond a `DateTime64(9)` column holds. Times are written as integer ticks (see row-encoding.ts)
 * and ClickHouse keeps them as Int64 without a range check: 2^63 and above would be stored wrapped, as dates
 * before 1970. OTLP times are unsigned, so the storable range is [0, 2^63 - 1] ns, up to
 * 2262-04-11T23:47:16.854775807Z (the documented 1900 lower end needs negative ticks, which OTLP cannot send).
 */
export const MAX_STORABLE_TIME_UNIX_NANO = 2n ** 63n - 1n;

/**
 * The last nanosecond of ClickHouse's `DateTime` (UInt32 seconds): 2106-02-07T06:28:15.999999999Z. The rollup
 * views bucket a row's time into a `DateTime` (they saturate at this second), and a configured TTL converts it
 * with `toDateTime` (it wraps modulo 2^32 s), so a later time is stored but counted in the wrong bucket, or
 * expired at once. Edges that can refuse a point before it is taken use this bound (see the collector).
 */
export const MAX_BUCKETED_TIME_UNIX_NANO = 4_294_967_295_999_999_999n;

export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

/** Why a point cannot be stored: the dead-letter code, the OTLP/JSON field (may be ''), and a reason. */
export interface PointProblem {
  readonly code: PointProblemCode;
  readonly field: string;
  readonly reason: string;
}

/**
 * Why storage would refuse a point with these times and this value, or `undefined` when it can be written.
 * Never throws, whatever shape `value` has (a buggy upstream's point is refused, not a crash).
 */
export function pointProblem(
  kind: PointKind,
  startTimeUnixNano: bigint,
  timeUnixNano: bigint,
  value: unknown,
): PointProblem | undefined {
  const start = timeProblem(startTimeUnixNano, 'startTimeUnixNano');
  if (start !== undefined) return start;
  const time = timeProblem(timeUnixNano, 'timeUnixNano');
  if (time !== undefined) return time;
  if (typeof value !== 'object' || value === null) return invalid('', 'the point has no value');
  switch (kind) {
    case 'sum': {
      const delta = (value as { value: unknown }).value;
      if (typeof delta !== 'number') return notANumber('value', delta);
      return nonFiniteProblem(kind, value);
    }
    case 'gauge': {
      const gauge = (value as { value: unknown }).value;
      return typeof gauge === 'number' ? undefined : notANumber('value', gauge);
    }
    case 'histogram':
      return histogramProblem(value as Partial<HistogramValue>) ?? nonFiniteProblem(kind, value);
    case 'exponentialHistogram':
      return (
        exponentialHistogramProblem(value as Partial<ExponentialHistogramValue>) ??
        nonFiniteProblem(kind, value)
      );
    case 'summary':
      return summaryProblem(value as Partial<SummaryValue>);
    default:
      return invalid('', `unknown point kind ${JSON.stringify(kind)}`);
  }
}

/** NaN and ±Inf where the shared rule (`nonFiniteField`) refuses them: they would poison every total. */
function nonFiniteProblem(kind: PointKind, value: unknown): PointProblem | undefined {
  const field = nonFiniteField(kind, value);
  if (field === undefined) return undefined;
  const number = (value as Record<string, unknown>)[field];
  return {
    code: 'NON_FINITE_SUM',
    field,
    reason: `a ${kind}'s ${field} must be finite, got ${String(number)}`,
  };
}

/** A start or observation time outside what `DateTime64(9)` holds. */
export function timeProblem(value: bigint, field: string): PointProblem | undefined {
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_STORABLE_TIME_UNIX_NANO) return undefined;
  return {
    code: 'TIME_OUT_OF_RANGE',
    field,
    reason: `${String(value)} is outside DateTime64(9), which holds 0..2^63 - 1 ns (to 2262-04-11T23:47:16.854775807Z)`,
  };
}

function histogramProblem(value: Partial<HistogramValue>): PointProblem | undefined {
  const { bounds, bucketCounts } = value;
  return (
    countProblem(value.count, 'count') ??
    numberProblem(value.sum, 'sum') ??
    (Array.isArray(bounds) ? undefined : invalid('explicitBounds', 'is not a list')) ??
    (Array.isArray(bucketCounts) ? undefined : invalid('bucketCounts', 'is not a list')) ??
    bucketShapeProblem(bounds as readonly unknown[], bucketCounts as readonly unknown[]) ??
    countsProblem(bucketCounts as readonly unknown[], 'bucketCounts') ??
    boundsProblem(bounds as readonly unknown[]) ??
    optionalNumberProblem(value.min, 'min') ??
    optionalNumberProblem(value.max, 'max')
  );
}

/** Explicit histograms hold one bucket more than bounds (the last is above every bound). */
export function bucketShapeProblem(
  bounds: readonly unknown[],
  bucketCounts: readonly unknown[],
): PointProblem | undefined {
  if (bucketCounts.length === bounds.length + 1) return undefined;
  return invalid(
    'bucketCounts',
    `has ${bucketCounts.length} entries for ${bounds.length} explicit bounds; expected ${bounds.length + 1}`,
  );
}

function boundsProblem(bounds: readonly unknown[]): PointProblem | undefined {
  for (let i = 0; i < bounds.length; i++) {
    if (typeof bounds[i] !== 'number') return notANumber(`explicitBounds[${i}]`, bounds[i]);
  }
  return undefined;
}

function exponentialHistogramProblem(value: Partial<ExponentialHistogramValue>): PointProblem | undefined {
  return (
    countProblem(value.count, 'count') ??
    numberProblem(value.sum, 'sum') ??
    int32Problem(value.scale, 'scale') ??
    countProblem(value.zeroCount, 'zeroCount') ??
    bucketsProblem(value.positive, 'positive') ??
    bucketsProblem(value.negative, 'negative') ??
    optionalNumberProblem(value.min, 'min') ??
    optionalNumberProblem(value.max, 'max')
  );
}

/**
 * A summary is a reading kept as sent, like a gauge: its sum and quantile values may be NaN or ±Inf (nothing adds
 * them). Its count must be a count and each quantile a number in [0, 1], as OTLP defines it.
 */
function summaryProblem(value: Partial<SummaryValue>): PointProblem | undefined {
  const { quantileValues } = value;
  const listed =
    countProblem(value.count, 'count') ??
    numberProblem(value.sum, 'sum') ??
    (Array.isArray(quantileValues) ? undefined : invalid('quantileValues', 'is not a list'));
  if (listed !== undefined) return listed;
  const list = quantileValues as readonly unknown[];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as Partial<{ quantile: unknown; value: unknown }> | null;
    const field = `quantileValues[${i}]`;
    if (typeof entry !== 'object' || entry === null) return invalid(field, 'is not a ValueAtQuantile');
    const q = entry.quantile;
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
      return invalid(`${field}.quantile`, `${String(q)} is not a quantile (a number in [0, 1])`);
    }
    if (typeof entry.value !== 'number') return notANumber(`${field}.value`, entry.value);
  }
  return undefined;
}

function bucketsProblem(buckets: ExponentialBuckets | undefined, side: string): PointProblem | undefined {
  if (typeof buckets !== 'object' || buckets === null) return invalid(side, 'is missing');
  if (!Array.isArray(buckets.bucketCounts)) return invalid(`${side}.bucketCounts`, 'is not a list');
  return (
    int32Problem(buckets.offset, `${side}.offset`) ??
    countsProblem(buckets.bucketCounts, `${side}.bucketCounts`)
  );
}

function countsProblem(counts: readonly unknown[], field: string): PointProblem | undefined {
  // The field name is built only for a bad count: this runs for every bucket of every point.
  for (let i = 0; i < counts.length; i++) {
    if (!isCount(counts[i])) return notACount(`${field}[${i}]`, counts[i]);
  }
  return undefined;
}

/** UInt64 columns written from doubles: exact only for integers 0..2^53 - 1. */
function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function countProblem(value: unknown, field: string): PointProblem | undefined {
  return isCount(value) ? undefined : notACount(field, value);
}

function notACount(field: string, value: unknown): PointProblem {
  return invalid(field, `${String(value)} is not a count (an integer 0..2^53 - 1)`);
}

function int32Problem(value: unknown, field: string): PointProblem | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) {
    return undefined;
  }
  return invalid(field, `${String(value)} is not an Int32 (${INT32_MIN}..${INT32_MAX})`);
}

function numberProblem(value: unknown, field: string): PointProblem | undefined {
  return typeof value === 'number' ? undefined : notANumber(field, value);
}

/** Min/max the source did not record are `undefined` (stored as NaN). */
function optionalNumberProblem(value: unknown, field: string): PointProblem | undefined {
  return value === undefined ? undefined : numberProblem(value, field);
}

function notANumber(field: string, value: unknown): PointProblem {
  return invalid(field, `${String(value)} is not a number`);
}

function invalid(field: string, reason: string): PointProblem {
  return { code: 'INVALID_VALUE', field, reason };
}
