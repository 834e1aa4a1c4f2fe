/**
 * Decoder-independent rules: which decoded points are accepted, and how a decoded OTLP `Metric` becomes an
 * `InputMetric`. The protobuf and JSON decoders both feed these, so both encodings accept and reject exactly
 * the same points with the same messages.
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
  InputMetric,
  InputPoint,
  PointKind,
  PointValue,
  SumValue,
  Temporality,
} from '@tallyhouse/model';
import {
  MAX_BUCKETED_TIME_UNIX_NANO,
  MAX_EXPONENTIAL_SCALE,
  MIN_EXPONENTIAL_SCALE,
  nonFiniteField,
  pointProblem,
} from '@tallyhouse/model';
import type { RejectionLog } from './decode-result.ts';

/** The `Metric.data` oneof, named as in OTLP/JSON. `summary` is decoded only to be rejected. */
export type DataKind = PointKind | 'summary';

/** Stand-in for an unsigned 64-bit count that does not fit a double exactly (> 2^53 - 1). */
export const UNSAFE_COUNT = -1;

/** `DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK`. */
export const FLAG_NO_RECORDED_VALUE = 1;

/** A point-level rejection: which point, which of its fields (may be ''), and why. */
export interface PointRejection {
  readonly index: number;
  readonly field: string;
  readonly reason: string;
}

/** One decoded `Metric` message before the acceptance rules ran on its metric-level fields. */
export interface MetricDraft {
  name: string;
  description: string;
  unit: string;
  /** `undefined` when the metric carries no data (nothing to accept or reject). */
  kind: DataKind | undefined;
  /** Raw `AggregationTemporality` enum value (0 unspecified, 1 delta, 2 cumulative). */
  temporality: number;
  monotonic: boolean;
  /** Points that passed the point rules, in order. */
  points: InputPoint[];
  /** Points that failed them; `undefined` (not `[]`) while there are none, to spare an allocation. */
  rejections: PointRejection[] | undefined;
  /** Every data point seen, accepted, rejected or without recorded value. */
  seenPoints: number;
}

export function newMetricDraft(): MetricDraft {
  return {
    name: '',
    description: '',
    unit: '',
    kind: undefined,
    temporality: 0,
    monotonic: false,
    points: [],
    rejections: undefined,
    seenPoints: 0,
  };
}

/** Switching the oneof (a later data field wins, as in protobuf) discards what the earlier one held. */
export function resetMetricData(draft: MetricDraft, kind: DataKind): void {
  draft.kind = kind;
  draft.temporality = 0;
  draft.monotonic = false;
  draft.points = [];
  draft.rejections = undefined;
  draft.seenPoints = 0;
}

export function rejectPoint(draft: MetricDraft, index: number, field: string, reason: string): void {
  const rejection = { index, field, reason };
  if (draft.rejections === undefined) draft.rejections = [rejection];
  else draft.rejections.push(rejection);
}

/** Point rule shared by every kind: a point must say when it was observed. */
export function isMissingTime(timeUnixNano: bigint): boolean {
  return timeUnixNano === 0n;
}

export const MISSING_TIME_REASON = 'missing (0); every data point needs its observation time';

/**
 * Times past the end of ClickHouse's `DateTime` (2106-02-07T06:28:15.999999999Z) are refused although
 * `DateTime64(9)` would hold them to 2262: the rollups bucket and the TTL expires a row by its time as a
 * `DateTime`, which saturates or wraps beyond it, so such a point would be counted in the wrong hour or
 * deleted at once.
 */
export function timeRangeProblem(value: bigint): string | undefined {
  if (value <= MAX_BUCKETED_TIME_UNIX_NANO) return undefined;
  return `${value} is past ${MAX_BUCKETED_TIME_UNIX_NANO} (2106-02-07T06:28:15.999999999Z), the last time storage can bucket`;
}

/** Reason a sum/gauge value is not accepted, or `undefined`; which values must be finite is the shared rule. */
export function numberValueProblem(
  kind: DataKind | undefined,
  hasValue: boolean,
  value: number,
): string | undefined {
  if (!hasValue) return 'the point has neither asDouble nor asInt';
  if (kind === 'sum' && nonFiniteField(kind, { value }) !== undefined) {
    return `${value} is not accepted; sum values must be finite`;
  }
  return undefined;
}

/** What every data point carries besides its value, read by either decoder. */
export interface PointFrame {
  readonly attributes: Attributes;
  readonly start: bigint;
  readonly time: bigint;
  readonly flags: number;
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
  if (isMissingTime(frame.time)) {
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
): void {
  if ('reason' in value) {
    rejectPoint(draft, index, value.field, value.reason);
    return;
  }
  const kind = draft.kind;
  const refused =
    kind === undefined || kind === 'summary' ? undefined : pointProblem(kind, frame.start, frame.time, value);
  if (refused !== undefined) {
    rejectPoint(draft, index, refused.field, `storage refuses it: ${refused.reason}`);
    return;
  }
  draft.points.push({
    attributes: frame.attributes,
    startTimeUnixNano: frame.start,
    timeUnixNano: frame.time,
    value,
  } satisfies InputPoint);
}

/** A sum or gauge value, or why it is rejected; `field` names where the value came from. */
export function numberValue(
  kind: DataKind | undefined,
  hasValue: boolean,
  value: number,
  field: string,
): SumValue | PointRejectionDetail {
  const reason = numberValueProblem(kind, hasValue, value);
  return reason === undefined ? { value } : { field, reason };
}

/**
 * Builds a histogram value, or returns why the point is rejected.
 * No buckets and no bounds means one bucket holding everything (`bucketCounts = [count]`).
 */
export function histogramValue(
  count: number,
  sum: number | undefined,
  bounds: readonly number[],
  bucketCounts: number[],
  min: number | undefined,
  max: number | undefined,
): HistogramValue | PointRejectionDetail {
  if (count === UNSAFE_COUNT) return { field: 'count', reason: TOO_LARGE_COUNT };
  if (sum !== undefined && nonFiniteField('histogram', { sum }) !== undefined)
    return { field: 'sum', reason: `${sum} is not accepted; the sum must be finite` };
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
  else if (counts.length !== bounds.length + 1) {
    return {
      field: 'bucketCounts',
      reason: `has ${counts.length} entries for ${bounds.length} explicit bounds; expected ${bounds.length + 1}`,
    };
  }
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === UNSAFE_COUNT) return { field: `bucketCounts[${i}]`, reason: TOO_LARGE_COUNT };
  }
  return { count, sum: sum ?? ABSENT_SUM, bounds, bucketCounts: counts, min, max };
}

export const EMPTY_BUCKETS: ExponentialBuckets = Object.freeze({
  offset: 0,
  bucketCounts: Object.freeze([]),
});

/** Builds an exponential histogram value, or returns why the point is rejected. */
export function exponentialHistogramValue(
  count: number,
  sum: number | undefined,
  scale: number,
  zeroCount: number,
  positive: ExponentialBuckets,
  negative: ExponentialBuckets,
  min: number | undefined,
  max: number | undefined,
): ExponentialHistogramValue | PointRejectionDetail {
  if (count === UNSAFE_COUNT) return { field: 'count', reason: TOO_LARGE_COUNT };
  if (zeroCount === UNSAFE_COUNT) return { field: 'zeroCount', reason: TOO_LARGE_COUNT };
  if (sum !== undefined && nonFiniteField('histogram', { sum }) !== undefined)
    return { field: 'sum', reason: `${sum} is not accepted; the sum must be finite` };
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

export interface PointRejectionDetail {
  readonly field: string;
  readonly reason: string;
}

const TOO_LARGE_COUNT = 'exceeds 2^53 - 1 and cannot be counted exactly';
/**
 * OTLP makes a histogram's sum optional (absent when negative values were recorded). The model needs a
 * number; 0 is what the SDK adapter of processor-tenant uses too, so both edges agree.
 */
const ABSENT_SUM = 0;

/**
 * Applies the metric-level rules to a finished draft and logs its rejections. Returns the `InputMetric`
 * holding the accepted points, or `undefined` when none remain. `path` builds the metric's field path
 * (e.g. `resourceMetrics[0].scopeMetrics[1].metrics[2]`) and is called only when something is rejected.
 */
export function finishMetric(
  draft: MetricDraft,
  path: () => string,
  log: RejectionLog,
): InputMetric | undefined {
  const kind = draft.kind;
  if (kind === undefined || draft.seenPoints === 0) return undefined;
  const accepted = draft.points.length;
  const label = `metric ${JSON.stringify(draft.name)}`;

  let metricProblem: string | undefined;
  let temporality: Temporality = 'cumulative';
  if (kind === 'summary') {
    metricProblem = 'Summary metrics are not supported; send a histogram instead';
  } else if (draft.name === '') {
    metricProblem = 'the metric name is empty';
  } else if (kind !== 'gauge') {
    if (draft.temporality === 1) temporality = 'delta';
    else if (draft.temporality === 2) temporality = 'cumulative';
    else if (draft.temporality === 0) {
      metricProblem = 'aggregationTemporality is UNSPECIFIED (0); it must be DELTA (1) or CUMULATIVE (2)';
    } else {
      metricProblem = `aggregationTemporality ${draft.temporality} is unknown; it must be DELTA (1) or CUMULATIVE (2)`;
    }
  }

  if (metricProblem !== undefined) {
    // The whole metric goes, including points that would have been rejected anyway.
    // Summary points are only counted, never judged one by one.
    const rejected = kind === 'summary' ? draft.seenPoints : accepted + (draft.rejections?.length ?? 0);
    const noun = rejected === 1 ? 'point' : 'points';
    log.reject(rejected, `${path()}.${kind}: ${label}: ${rejected} data ${noun} rejected: ${metricProblem}`);
    return undefined;
  }

  if (draft.rejections !== undefined) {
    const base = `${path()}.${kind}.dataPoints`;
    for (const rejection of draft.rejections) {
      const field = rejection.field === '' ? '' : `.${rejection.field}`;
      log.reject(1, `${base}[${rejection.index}]${field}: ${label}: ${rejection.reason}`);
    }
  }
  if (accepted === 0) return undefined;
  return {
    metric: {
      name: draft.name,
      description: draft.description,
      unit: draft.unit,
      kind,
      monotonic: kind === 'sum' && draft.monotonic,
    },
    temporality,
    points: draft.points,
  } as InputMetric;
}
