/**
 * The data points of OTLP/JSON: `NumberDataPoint`, `HistogramDataPoint`, `ExponentialHistogramDataPoint` and
 * `SummaryDataPoint`, and the `exemplars` of the first three. The fields they share are read by `pointFrame`
 * (and, for the histogram kinds, `distributionFields`), in the order errors are reported.
 */
import type {
  ExponentialBuckets,
  ExponentialHistogramValue,
  HistogramValue,
  PointKind,
  QuantileValue,
  SummaryValue,
  SumValue,
} from '@tallyhouse/model';
import {
  addExemplar,
  type ExemplarFields,
  newPointExemplars,
  type PointExemplars,
} from '../exemplar-acceptance.ts';
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
  type PointRejectionDetail,
  summaryValue,
} from '../point-acceptance.ts';
import { decodeAttributes } from './common.ts';
import type { JsonDecoder, TimeCache } from './json-decoder.ts';
import {
  arrayField,
  asObject,
  countArrayField,
  countField,
  doubleArrayField,
  eachElement,
  field,
  get,
  int32Field,
  type JsonObject,
  optionalDoubleField,
  parseDouble,
  parseIntNumber,
  parseUint64,
  stringField,
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

/**
 * Decodes one data point of `draft`'s kind and accepts it into `draft.points`, rejects it with a reason, or
 * skips it as "no recorded value". Fields are read in the order errors are reported.
 */
export function decodeDataPoint(d: JsonDecoder, point: JsonObject, draft: MetricDraft, index: number): void {
  const frame = pointFrame(d, point);
  const kind = draft.kind as PointKind;
  const value =
    kind === 'histogram'
      ? histogramPointValue(point)
      : kind === 'exponentialHistogram'
        ? exponentialHistogramPointValue(point)
        : kind === 'summary'
          ? summaryPointValue(point)
          : numberPointValue(point, kind);
  const exemplars = kind === 'summary' ? undefined : pointExemplars(point);
  if (admitPoint(draft, index, frame, d)) keepPoint(draft, index, frame, value, exemplars);
}

/** The point's exemplars; `undefined` when it has none (the common case costs one lookup). */
function pointExemplars(point: JsonObject): PointExemplars | undefined {
  const list = arrayField(point, 'exemplars', 'exemplars');
  if (list.length === 0) return undefined;
  const exemplars = newPointExemplars();
  eachElement(list, 'exemplars', (exemplar) => addExemplar(exemplars, exemplarFields(exemplar)));
  return exemplars;
}

function exemplarFields(exemplar: JsonObject): ExemplarFields {
  let value: number | undefined;
  let valueField = '';
  for (const [camel, snake, parse] of NUMBER_VALUE_MEMBERS) {
    const member = get(exemplar, camel, snake);
    if (member === undefined) continue;
    value = withPath(member, camel, parse);
    valueField = camel;
  }
  return {
    filteredAttributes: decodeAttributes(exemplar, 'filteredAttributes', 'filtered_attributes'),
    time: field(exemplar, 'timeUnixNano', 'time_unix_nano', parseUint64, 0n),
    value,
    valueField,
    spanId: hexId(stringField(exemplar, 'spanId', 'span_id')),
    traceId: hexId(stringField(exemplar, 'traceId', 'trace_id')),
  };
}

const HEX = /^[0-9a-fA-F]*$/;

/**
 * OTLP/JSON writes ids as hex, where case carries no meaning. Other text (base64, as proto3 JSON writes other
 * bytes) is left as sent, so the drop message shows what the sender wrote.
 */
function hexId(text: string): string {
  return HEX.test(text) ? text.toLowerCase() : text;
}

function summaryPointValue(point: JsonObject): SummaryValue | PointRejectionDetail {
  const quantileValues: QuantileValue[] = [];
  eachElement(arrayField(point, 'quantileValues', 'quantile_values'), 'quantileValues', (entry) => {
    quantileValues.push({
      quantile: field(entry, 'quantile', 'quantile', parseDouble, 0),
      value: field(entry, 'value', 'value', parseDouble, 0),
    });
  });
  return summaryValue(
    countField(point, 'count', 'count'),
    field(point, 'sum', 'sum', parseDouble, 0),
    quantileValues,
  );
}

/** The `value` oneof in field-number order: with both set the later wins (as_int = 6 after as_double = 4). */
const NUMBER_VALUE_MEMBERS: readonly (readonly [string, string, (value: unknown) => number])[] = [
  ['asDouble', 'as_double', parseDouble],
  ['asInt', 'as_int', parseIntNumber],
];

function numberPointValue(point: JsonObject, kind: PointKind): SumValue | PointRejectionDetail {
  let value = 0;
  let valueField = '';
  for (const [camel, snake, parse] of NUMBER_VALUE_MEMBERS) {
    const member = get(point, camel, snake);
    if (member === undefined) continue;
    value = withPath(member, camel, parse);
    valueField = camel;
  }
  return numberValue(kind, valueField !== '', value, valueField);
}

function histogramPointValue(point: JsonObject): HistogramValue | PointRejectionDetail {
  const distribution = distributionFields(point);
  const bucketCounts = countArrayField(point, 'bucketCounts', 'bucket_counts');
  const bounds = doubleArrayField(point, 'explicitBounds', 'explicit_bounds');
  return histogramValue(distribution, bounds, bucketCounts);
}

function exponentialHistogramPointValue(point: JsonObject): ExponentialHistogramValue | PointRejectionDetail {
  const distribution = distributionFields(point);
  const scale = int32Field(point, 'scale', 'scale');
  const zeroCount = countField(point, 'zeroCount', 'zero_count');
  const positive = field(point, 'positive', 'positive', decodeBuckets, EMPTY_BUCKETS);
  const negative = field(point, 'negative', 'negative', decodeBuckets, EMPTY_BUCKETS);
  return exponentialHistogramValue(distribution, scale, zeroCount, positive, negative);
}

function decodeBuckets(value: unknown): ExponentialBuckets {
  const object = asObject(value);
  return {
    offset: int32Field(object, 'offset', 'offset'),
    bucketCounts: countArrayField(object, 'bucketCounts', 'bucket_counts'),
  };
}
