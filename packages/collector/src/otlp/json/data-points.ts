/**
 * The data points of OTLP/JSON: `NumberDataPoint`, `HistogramDataPoint` and `ExponentialHistogramDataPoint`.
 * The fields they share are read by `pointFrame` (and, for the histogram kinds, `distributionFields`), in the
 * order errors are reported.
 */
import type { ExponentialBuckets } from '@tallyhouse/model';
import type { MetricDraft } from '../metric-assembly.ts';
import {
  admitPoint,
  type DistributionFields,
  EMPTY_BUCKETS,
  exponentialHistogramValue,
  histogramValue,
  keepPoint,
  numberValue,
  type PointFrame,
} from '../point-acceptance.ts';
import { decodeAttributes } from './common.ts';
import type { JsonDecoder, TimeCache } from './json-decoder.ts';
import {
  asObject,
  countArrayField,
  countField,
  doubleArrayField,
  field,
  get,
  int32Field,
  type JsonObject,
  optionalDoubleField,
  parseDouble,
  parseIntNumber,
  parseUint64,
  uint32Field,
  withPath,
} from './json-values.ts';

/** A fixed64 time; `cache` spares parsing the text again when the previous point had the same. */
function timeField(point: JsonObject, camel: string, snake: string, cache: TimeCache): bigint {
  const value = get(point, camel, snake);
  if (value === undefined) return 0n;
  if (typeof value === 'string' && value === cache.text) return cache.value;
  const n = withPath(value, camel, parseUint64);
  if (typeof value === 'string') {
    cache.text = value;
    cache.value = n;
  }
  return n;
}

/** The fields every point kind shares. */
function pointFrame(d: JsonDecoder, point: JsonObject): PointFrame {
  return {
    attributes: decodeAttributes(point),
    start: timeField(point, 'startTimeUnixNano', 'start_time_unix_nano', d.startTimes),
    time: timeField(point, 'timeUnixNano', 'time_unix_nano', d.times),
    flags: uint32Field(point, 'flags', 'flags'),
  };
}

/** The fields both histogram kinds share. */
function distributionFields(point: JsonObject): DistributionFields {
  return {
    count: countField(point, 'count', 'count'),
    sum: optionalDoubleField(point, 'sum', 'sum'),
    min: optionalDoubleField(point, 'min', 'min'),
    max: optionalDoubleField(point, 'max', 'max'),
  };
}

/** Sum and gauge points: accepted into `draft.points`, rejected with a reason, or skipped as "no recorded value". */
export function decodeNumberDataPoint(
  d: JsonDecoder,
  point: JsonObject,
  draft: MetricDraft,
  index: number,
): void {
  const frame = pointFrame(d, point);
  let hasValue = false;
  let value = 0;
  let valueField = '';
  const asDouble = get(point, 'asDouble', 'as_double');
  const asInt = get(point, 'asInt', 'as_int');
  // The `value` oneof: with both set, the later in field-number order wins (as_int = 6 after as_double = 4),
  // as protobuf reads a canonically ordered message.
  if (asDouble !== undefined) {
    value = withPath(asDouble, 'asDouble', parseDouble);
    hasValue = true;
    valueField = 'asDouble';
  }
  if (asInt !== undefined) {
    value = withPath(asInt, 'asInt', parseIntNumber);
    hasValue = true;
    valueField = 'asInt';
  }
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, numberValue(draft.kind, hasValue, value, valueField));
}

export function decodeHistogramDataPoint(
  d: JsonDecoder,
  point: JsonObject,
  draft: MetricDraft,
  index: number,
): void {
  const frame = pointFrame(d, point);
  const distribution = distributionFields(point);
  const bucketCounts = countArrayField(point, 'bucketCounts', 'bucket_counts');
  const bounds = doubleArrayField(point, 'explicitBounds', 'explicit_bounds');
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, histogramValue(distribution, bounds, bucketCounts));
}

export function decodeExponentialHistogramDataPoint(
  d: JsonDecoder,
  point: JsonObject,
  draft: MetricDraft,
  index: number,
): void {
  const frame = pointFrame(d, point);
  const distribution = distributionFields(point);
  const scale = int32Field(point, 'scale', 'scale');
  const zeroCount = countField(point, 'zeroCount', 'zero_count');
  const positive = field(point, 'positive', 'positive', decodeBuckets, EMPTY_BUCKETS);
  const negative = field(point, 'negative', 'negative', decodeBuckets, EMPTY_BUCKETS);
  if (admitPoint(draft, index, frame, d))
    keepPoint(
      draft,
      index,
      frame,
      exponentialHistogramValue(distribution, scale, zeroCount, positive, negative),
    );
}

function decodeBuckets(value: unknown): ExponentialBuckets {
  const object = asObject(value);
  return {
    offset: int32Field(object, 'offset', 'offset'),
    bucketCounts: countArrayField(object, 'bucketCounts', 'bucket_counts'),
  };
}
