/**
 * The data-point messages of metrics.proto: `NumberDataPoint`, `HistogramDataPoint`,
 * `ExponentialHistogramDataPoint` (with its `Buckets`) and `SummaryDataPoint` (with its `ValueAtQuantile`), and
 * the `Exemplar`s of the first three. One loop reads all four: they share most fields (attributes, times, flags,
 * exemplars; count and sum for all but numbers), only under other numbers, so each field is one `case` and a kind
 * differs only in how its numbers map to the fields.
 */
import type { AttributeValue, ExponentialBuckets, PointKind, QuantileValue } from '@tallyhouse/model';
import { EMPTY_ATTRIBUTES } from '../attribute-building.ts';
import {
  addExemplar,
  type ExemplarFields,
  hexOf,
  newPointExemplars,
  type PointExemplars,
} from '../exemplar-acceptance.ts';
import type { MetricDraft } from '../metric-assembly.ts';
import {
  admitPoint,
  EMPTY_BUCKETS,
  exponentialHistogramValue,
  histogramValue,
  keepPoint,
  numberValue,
  type PointFrame,
  summaryValue,
  UNSAFE_COUNT,
} from '../point-acceptance.ts';
import { readAttribute } from './common.ts';
import {
  expectWire,
  fixed64ElementsEnd,
  readMessageField,
  readRepeatedMessage,
  readRepeatedVarint,
} from './field-reading.ts';
import type { ProtoDecoder } from './proto-decoder.ts';
import {
  readBytes,
  readDouble,
  readFixed64,
  readFixed64Count,
  readSfixed64,
  readSint32,
  readTag,
  readUint64Count,
  readVarint,
  skipField,
  type WireReader,
  WireType,
} from './wire-reader.ts';

// Field numbers, as metrics/v1/metrics.proto declares them (see README-otlp).
const NumberDataPoint = {
  attributes: 7,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  // oneof value
  as_double: 4,
  as_int: 6,
  exemplars: 5,
  flags: 8,
} as const;
const HistogramDataPoint = {
  attributes: 9,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  bucket_counts: 6,
  explicit_bounds: 7,
  exemplars: 8,
  flags: 10,
  min: 11,
  max: 12,
} as const;
const ExponentialHistogramDataPoint = {
  attributes: 1,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  scale: 6,
  zero_count: 7,
  positive: 8,
  negative: 9,
  flags: 10,
  exemplars: 11,
  min: 12,
  max: 13,
  zero_threshold: 14, // skipped
} as const;
const SummaryDataPoint = {
  attributes: 7,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  quantile_values: 6,
  flags: 8,
} as const;
/** `ExponentialHistogramDataPoint.Buckets`. */
const Buckets = { offset: 1, bucket_counts: 2 } as const;
/** `SummaryDataPoint.ValueAtQuantile`. */
const ValueAtQuantile = { quantile: 1, value: 2 } as const;
const Exemplar = {
  filtered_attributes: 7,
  time_unix_nano: 2,
  // oneof value
  as_double: 3,
  as_int: 6,
  span_id: 4,
  trace_id: 5,
} as const;

const { VARINT, I64, LEN } = WireType;

type SkippedPointField = 'zero_threshold';
type ReadPointField = Exclude<
  | keyof typeof NumberDataPoint
  | keyof typeof HistogramDataPoint
  | keyof typeof ExponentialHistogramDataPoint
  | keyof typeof SummaryDataPoint,
  SkippedPointField
>;

/**
 * Every field of the three point messages the decoder reads, numbered once: the `case`s of the point loop.
 * (The messages number them differently. The skipped fields are left out, so they map to no case.)
 */
const PointField = {
  attributes: 1,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  flags: 4,
  as_double: 5,
  as_int: 6,
  count: 7,
  sum: 8,
  min: 9,
  max: 10,
  bucket_counts: 11,
  explicit_bounds: 12,
  scale: 13,
  zero_count: 14,
  positive: 15,
  negative: 16,
  exemplars: 17,
  quantile_values: 18,
} as const satisfies Record<ReadPointField, number>;

/** For one point message: its field numbers → `PointField` (0: not read). */
function pointFieldsOf(message: Readonly<Record<string, number>>): Uint8Array {
  const fields = new Uint8Array(Math.max(...Object.values(message)) + 1);
  for (const [name, number] of Object.entries(message)) {
    fields[number] = (PointField as Readonly<Record<string, number>>)[name] ?? 0;
  }
  return fields;
}

const NUMBER_POINT_FIELDS = pointFieldsOf(NumberDataPoint);

/** The point message of each kind, as `pointFieldsOf` maps it. */
const POINT_FIELDS: Readonly<Record<PointKind, Uint8Array>> = {
  gauge: NUMBER_POINT_FIELDS,
  sum: NUMBER_POINT_FIELDS,
  histogram: pointFieldsOf(HistogramDataPoint),
  exponentialHistogram: pointFieldsOf(ExponentialHistogramDataPoint),
  summary: pointFieldsOf(SummaryDataPoint),
};

/**
 * Decodes one data point of `draft`'s kind and accepts or rejects it. Absent fields keep the
 * defaults OTLP gives them; another kind's fields do not occur (this kind's message has no number for
 * them), so each kind's value is built from its own fields only.
 */
export function decodeDataPoint(d: ProtoDecoder, end: number, draft: MetricDraft, index: number): void {
  const kind = draft.kind as PointKind;
  const fields = POINT_FIELDS[kind];
  let attributes: Record<string, AttributeValue> | undefined;
  let attributeCount = 0;
  let start = 0n;
  let time = 0n;
  let flags = 0;
  // NumberDataPoint: the `value` oneof; the last of as_double and as_int wins.
  let value = 0;
  let valueField = '';
  // Both histogram kinds.
  let count = 0;
  let sum: number | undefined;
  let min: number | undefined;
  let max: number | undefined;
  // HistogramDataPoint.
  let bucketCounts: number[] | undefined;
  let bounds: number[] | undefined;
  // ExponentialHistogramDataPoint.
  let scale = 0;
  let zeroCount = 0;
  let positive = EMPTY_BUCKETS;
  let negative = EMPTY_BUCKETS;
  // SummaryDataPoint.
  let quantileValues: QuantileValue[] | undefined;
  // Created by the first exemplar only: a point without exemplars costs nothing for them.
  let exemplars: PointExemplars | undefined;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (fields[tag >>> 3]) {
      case PointField.attributes:
        attributes ??= {};
        readAttribute(d, tag, end, attributes, attributeCount++);
        break;
      case PointField.start_time_unix_nano:
        expectWire(tag, I64, 'startTimeUnixNano');
        start = d.readTime(end, 0);
        break;
      case PointField.time_unix_nano:
        expectWire(tag, I64, 'timeUnixNano');
        time = d.readTime(end, 1);
        break;
      case PointField.flags:
        expectWire(tag, VARINT, 'flags');
        readVarint(d, end);
        flags = d.lo;
        break;
      case PointField.as_double:
        expectWire(tag, I64, 'asDouble');
        value = readDouble(d, end);
        valueField = 'asDouble';
        break;
      case PointField.as_int:
        expectWire(tag, I64, 'asInt');
        value = readSfixed64(d, end);
        valueField = 'asInt';
        break;
      case PointField.count:
        expectWire(tag, I64, 'count');
        count = readFixed64Count(d, end, UNSAFE_COUNT);
        break;
      case PointField.sum:
        expectWire(tag, I64, 'sum');
        sum = readDouble(d, end);
        break;
      case PointField.min:
        expectWire(tag, I64, 'min');
        min = readDouble(d, end);
        break;
      case PointField.max:
        expectWire(tag, I64, 'max');
        max = readDouble(d, end);
        break;
      case PointField.bucket_counts: {
        const elementsEnd = fixed64ElementsEnd(d, tag, end, 'bucketCounts');
        bucketCounts ??= [];
        while (d.pos < elementsEnd) bucketCounts.push(readFixed64Count(d, elementsEnd, UNSAFE_COUNT));
        break;
      }
      case PointField.explicit_bounds: {
        const elementsEnd = fixed64ElementsEnd(d, tag, end, 'explicitBounds');
        bounds ??= [];
        while (d.pos < elementsEnd) bounds.push(readDouble(d, elementsEnd));
        break;
      }
      case PointField.scale:
        expectWire(tag, VARINT, 'scale');
        scale = readSint32(d, end);
        break;
      case PointField.zero_count:
        expectWire(tag, I64, 'zeroCount');
        zeroCount = readFixed64Count(d, end, UNSAFE_COUNT);
        break;
      case PointField.positive:
        positive = readMessageField(d, tag, end, 'positive', decodeBuckets, positive);
        break;
      case PointField.negative:
        negative = readMessageField(d, tag, end, 'negative', decodeBuckets, negative);
        break;
      case PointField.quantile_values:
        quantileValues ??= [];
        quantileValues.push(
          readRepeatedMessage(d, tag, end, 'quantileValues', quantileValues.length, decodeValueAtQuantile, 0),
        );
        break;
      case PointField.exemplars:
        exemplars ??= newPointExemplars();
        addExemplar(
          exemplars,
          readRepeatedMessage(d, tag, end, 'exemplars', exemplars.seen, decodeExemplar, 0),
        );
        break;
      default:
        skipField(d, tag, end);
    }
  }
  const frame: PointFrame = { attributes: attributes ?? EMPTY_ATTRIBUTES, start, time, flags };
  if (!admitPoint(draft, index, frame, d)) return;
  keepPoint(
    draft,
    index,
    frame,
    kind === 'histogram'
      ? histogramValue({ count, sum, min, max }, bounds ?? [], bucketCounts ?? [])
      : kind === 'exponentialHistogram'
        ? exponentialHistogramValue({ count, sum, min, max }, scale, zeroCount, positive, negative)
        : kind === 'summary'
          ? summaryValue(count, sum ?? 0, quantileValues ?? [])
          : numberValue(kind, valueField !== '', value, valueField),
    exemplars,
  );
}

function decodeValueAtQuantile(d: ProtoDecoder, end: number): QuantileValue {
  let quantile = 0;
  let value = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case ValueAtQuantile.quantile:
        expectWire(tag, I64, 'quantile');
        quantile = readDouble(d, end);
        break;
      case ValueAtQuantile.value:
        expectWire(tag, I64, 'value');
        value = readDouble(d, end);
        break;
      default:
        skipField(d, tag, end);
    }
  }
  return { quantile, value };
}

/** One `Exemplar`, judged by `addExemplar` (an exemplar that cannot be stored is dropped, its point kept). */
function decodeExemplar(d: ProtoDecoder, end: number): ExemplarFields {
  let attributes: Record<string, AttributeValue> | undefined;
  let attributeCount = 0;
  let time = 0n;
  let value: number | undefined;
  let valueField = '';
  let spanId = '';
  let traceId = '';
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case Exemplar.filtered_attributes:
        attributes ??= {};
        readAttribute(d, tag, end, attributes, attributeCount++);
        break;
      case Exemplar.time_unix_nano:
        expectWire(tag, I64, 'timeUnixNano');
        time = readFixed64(d, end);
        break;
      case Exemplar.as_double:
        expectWire(tag, I64, 'asDouble');
        value = readDouble(d, end);
        valueField = 'asDouble';
        break;
      case Exemplar.as_int:
        expectWire(tag, I64, 'asInt');
        value = readSfixed64(d, end);
        valueField = 'asInt';
        break;
      case Exemplar.span_id:
        expectWire(tag, LEN, 'spanId');
        spanId = hexOf(readBytes(d, end));
        break;
      case Exemplar.trace_id:
        expectWire(tag, LEN, 'traceId');
        traceId = hexOf(readBytes(d, end));
        break;
      default:
        skipField(d, tag, end);
    }
  }
  return { filteredAttributes: attributes ?? EMPTY_ATTRIBUTES, time, value, valueField, spanId, traceId };
}

/** A `Buckets.bucket_counts` element (uint64); `UNSAFE_COUNT` above 2^53 - 1. */
function readBucketCount(r: WireReader, end: number): number {
  return readUint64Count(r, end, UNSAFE_COUNT);
}

/** `previous`: the buckets of earlier occurrences of the field, merged with these (counts add up). */
function decodeBuckets(d: ProtoDecoder, end: number, previous: ExponentialBuckets): ExponentialBuckets {
  let offset = previous.offset;
  const bucketCounts: number[] = previous.bucketCounts.slice();
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag >>> 3) {
      case Buckets.offset:
        expectWire(tag, VARINT, 'offset');
        offset = readSint32(d, end);
        break;
      case Buckets.bucket_counts:
        readRepeatedVarint(d, tag, end, readBucketCount, bucketCounts, 'bucketCounts');
        break;
      default:
        skipField(d, tag, end);
    }
  }
  return { offset, bucketCounts };
}
