/**
 * Which decoded data points are accepted, point by point. The protobuf and JSON decoders both feed these, so
 * both encodings accept and reject exactly the same points with the same messages.
 *
 * Every point is checked here before the request is answered, last of all with the storage's own rules
 * (`pointProblem` of `@tallyhouse/model`, the function the ClickHouse row encoder runs): a point acknowledged in
 * the answer must never be refused when it is written.
 */
import type {
  Attributes,
  ExponentialBuckets,
  ExponentialHistogramValue,
  HistogramValue,
  InputPoint,
  PointValue,
  QuantileValue,
  SummaryValue,
  SumValue,
} from '@tallyhouse/model';
import {
  bucketShapeProblem,
  MAX_BUCKETED_TIME_UNIX_NANO,
  MAX_EXPONENTIAL_SCALE,
  MIN_EXPONENTIAL_SCALE,
  nonFiniteField,
  pointProblem,
} from '@tallyhouse/model';
import { keptExemplars, type PointExemplars } from './exemplar-acceptance.ts';
import { type DataKind, type MetricDraft, recordExemplarDrops, rejectPoint } from './metric-assembly.ts';

/** Stand-in for an unsigned 64-bit count that does not fit a double exactly (> 2^53 - 1). */
export const UNSAFE_COUNT = -1;

/** `DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK`. */
const FLAG_NO_RECORDED_VALUE = 1;

const MISSING_TIME_REASON = 'missing (0); every data point needs its observation time';

const TOO_LARGE_COUNT = 'exceeds 2^53 - 1 and cannot be counted exactly';

/**
 * OTLP makes a histogram's sum optional (absent when negative values were recorded). The model needs a
 * number; 0 is what the SDK adapter of processor-tenant uses too, so both edges agree.
 */
const ABSENT_SUM = 0;

export const EMPTY_BUCKETS: ExponentialBuckets = Object.freeze({
  offset: 0,
  bucketCounts: Object.freeze([]),
});

/** What every data point carries besides its value, read by either decoder. */
export interface PointFrame {
  readonly attributes: Attributes;
  readonly start: bigint;
  readonly time: bigint;
  readonly flags: number;
}

/** The fields both histogram kinds share (`sum`, `min` and `max` are optional in OTLP). */
export interface DistributionFields {
  readonly count: number;
  readonly sum: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
}

/** Why a decoded value is not accepted: the field, relative to the data point (may be ''), and the reason. */
export interface PointRejectionDetail {
  readonly field: string;
  readonly reason: string;
}

/**
 * Times past the end of ClickHouse's `DateTime` (2106-02-07T06:28:15.999999999Z) are refused although
 * `DateTime64(9)` would hold them to 2262: the rollups bucket and the TTL expires a row by its time as a
 * `DateTime`, which saturates or wraps beyond it, so such a point would be counted in the wrong hour or
 * deleted at once.
 */
function timeRangeProblem(value: bigint): string | undefined {
  if (value <= MAX_BUCKETED_TIME_UNIX_NANO) return undefined;
  return `${value} is past ${MAX_BUCKETED_TIME_UNIX_NANO} (2106-02-07T06:28:15.999999999Z), the last time storage can bucket`;
}

/**
 * The checks both encodings apply to every decoded point before its value: "no recorded value" points are
 * skipped (counted in `skipped`), a missing time rejects the point. False: the point is done with.
 */
export function admitPoint(
  draft: MetricDraft,
  index: number,
  frame: PointFrame,
  skipped: { noRecordedValue: number },
): boolean {
  draft.seenPoints++;
  if ((frame.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
    skipped.noRecordedValue++;
    return false;
  }
  // Every data point must say when it was observed.
  if (frame.time === 0n) {
    rejectPoint(draft, index, 'timeUnixNano', MISSING_TIME_REASON);
    return false;
  }
  const late = timeRangeProblem(frame.start) ?? timeRangeProblem(frame.time);
  if (late !== undefined) {
    rejectPoint(
      draft,
      index,
      frame.start > MAX_BUCKETED_TIME_UNIX_NANO ? 'startTimeUnixNano' : 'timeUnixNano',
      late,
    );
    return false;
  }
  return true;
}

/**
 * Keeps an admitted point, or rejects it with the reason its value builder gave, or the reason storage would
 * refuse it (checked last, so the OTLP rules name the problem when both apply).
 */
export function keepPoint(
  draft: MetricDraft,
  index: number,
  frame: PointFrame,
  value: PointValue | PointRejectionDetail,
  exemplars?: PointExemplars,
): void {
  if ('reason' in value) {
    rejectPoint(draft, index, value.field, value.reason);
    return;
  }
  const kind = draft.kind;
  const refused = kind === undefined ? undefined : pointProblem(kind, frame.start, frame.time, value);
  if (refused !== undefined) {
    rejectPoint(draft, index, refused.field, `storage refuses it: ${refused.reason}`);
    return;
  }
  const point: InputPoint = {
    attributes: frame.attributes,
    startTimeUnixNano: frame.start,
    timeUnixNano: frame.time,
    value,
  };
  if (exemplars === undefined) {
    draft.points.push(point);
    return;
  }
  // A rejected point takes its exemplars with it: only a kept point's drops are worth a warning.
  recordExemplarDrops(draft, index, exemplars.dropped, exemplars.drops);
  const kept = keptExemplars(exemplars);
  draft.points.push(kept === undefined ? point : { ...point, exemplars: kept });
}

/**
 * A sum or gauge value, or why it is rejected; `field` names where the value came from. Which values must be
 * finite is the shared rule (`nonFiniteField`).
 */
export function numberValue(
  kind: DataKind | undefined,
  hasValue: boolean,
  value: number,
  field: string,
): SumValue | PointRejectionDetail {
  if (!hasValue) return { field, reason: 'the point has neither asDouble nor asInt' };
  if (kind === 'sum' && nonFiniteField(kind, { value }) !== undefined) {
    return { field, reason: `${value} is not accepted; sum values must be finite` };
  }
  return { value };
}

/** A histogram's sum, when present, must be finite: the shared rule (`nonFiniteField`). */
function sumProblem(sum: number | undefined): PointRejectionDetail | undefined {
  if (sum === undefined || nonFiniteField('histogram', { sum }) === undefined) return undefined;
  return { field: 'sum', reason: `${sum} is not accepted; the sum must be finite` };
}

/**
 * Builds a histogram value, or returns why the point is rejected.
 * No buckets and no bounds means one bucket holding everything (`bucketCounts = [count]`).
 */
export function histogramValue(
  fields: DistributionFields,
  bounds: readonly number[],
  bucketCounts: number[],
): HistogramValue | PointRejectionDetail {
  const { count, sum, min, max } = fields;
  if (count === UNSAFE_COUNT) return { field: 'count', reason: TOO_LARGE_COUNT };
  const badSum = sumProblem(sum);
  if (badSum !== undefined) return badSum;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i]!;
    if (!Number.isFinite(bound))
      return { field: `explicitBounds[${i}]`, reason: `${bound} is not a finite bound` };
    if (i > 0 && !(bound > bounds[i - 1]!)) {
      return { field: `explicitBounds[${i}]`, reason: 'bounds must be strictly increasing' };
    }
  }
  let counts = bucketCounts;
  if (bounds.length === 0 && counts.length === 0) counts = [count];
  else {
    const shape = bucketShapeProblem(bounds, counts);
    if (shape !== undefined) return { field: shape.field, reason: shape.reason };
  }
  const bad = counts.indexOf(UNSAFE_COUNT);
  if (bad >= 0) return { field: `bucketCounts[${bad}]`, reason: TOO_LARGE_COUNT };
  return { count, sum: sum ?? ABSENT_SUM, bounds, bucketCounts: counts, min, max };
}

/** Builds an exponential histogram value, or returns why the point is rejected. */
export function exponentialHistogramValue(
  fields: DistributionFields,
  scale: number,
  zeroCount: number,
  positive: ExponentialBuckets,
  negative: ExponentialBuckets,
): ExponentialHistogramValue | PointRejectionDetail {
  const { count, sum, min, max } = fields;
  if (count === UNSAFE_COUNT) return { field: 'count', reason: TOO_LARGE_COUNT };
  if (zeroCount === UNSAFE_COUNT) return { field: 'zeroCount', reason: TOO_LARGE_COUNT };
  const badSum = sumProblem(sum);
  if (badSum !== undefined) return badSum;
  if (scale < MIN_EXPONENTIAL_SCALE || scale > MAX_EXPONENTIAL_SCALE) {
    return {
      field: 'scale',
      reason: `${scale} is outside the range ${MIN_EXPONENTIAL_SCALE}..${MAX_EXPONENTIAL_SCALE} OTLP defines`,
    };
  }
  const badPositive = positive.bucketCounts.indexOf(UNSAFE_COUNT);
  if (badPositive >= 0) return { field: `positive.bucketCounts[${badPositive}]`, reason: TOO_LARGE_COUNT };
  const badNegative = negative.bucketCounts.indexOf(UNSAFE_COUNT);
  if (badNegative >= 0) return { field: `negative.bucketCounts[${badNegative}]`, reason: TOO_LARGE_COUNT };
  return { count, sum: sum ?? ABSENT_SUM, scale, zeroCount, positive, negative, min, max };
}

/**
 * Builds a summary value, or returns why the point is rejected. OTLP requires the sum, count and quantiles, and
 * gives each its default when absent; the shared rules (`pointProblem`) check the quantiles' range after this.
 */
export function summaryValue(
  count: number,
  sum: number,
  quantileValues: readonly QuantileValue[],
): SummaryValue | PointRejectionDetail {
  if (count === UNSAFE_COUNT) return { field: 'count', reason: TOO_LARGE_COUNT };
  return { count, sum, quantileValues };
}
