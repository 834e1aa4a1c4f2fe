/**
 * The data-point messages of metrics.proto: `NumberDataPoint`, `HistogramDataPoint` and
 * `ExponentialHistogramDataPoint` (with its `Buckets`). The fields they share are read by one helper,
 * `readSharedPointField`; each kind's loop reads only its own. (`SummaryDataPoint`s are only counted.)
 */
import type { ExponentialBuckets } from '@tallyhouse/model';
import type { MetricDraft } from '../metric-assembly.ts';
import {
  admitPoint,
  EMPTY_BUCKETS,
  exponentialHistogramValue,
  histogramValue,
  keepPoint,
  numberValue,
  UNSAFE_COUNT,
} from '../point-acceptance.ts';
import { readAttribute } from './common.ts';
import {
  Buckets,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  NumberDataPoint,
} from './field-numbers.ts';
import { expectWire, readMessageField, readRepeatedScalar } from './field-reading.ts';
import type { ProtoDecoder } from './proto-decoder.ts';
import {
  readDouble,
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

/** Field numbers of the fields several point kinds share, in one kind's message. */
interface SharedPointFields {
  readonly attributes: number;
  readonly start_time_unix_nano: number;
  readonly time_unix_nano: number;
  readonly flags: number;
  // Histogram kinds only.
  readonly count?: number;
  readonly sum?: number;
  readonly min?: number;
  readonly max?: number;
}

/** A fixed64 count (`count`, `zero_count`, histogram `bucket_counts`); `UNSAFE_COUNT` above 2^53 - 1. */
function readCount(r: WireReader, end: number): number {
  return readFixed64Count(r, end, UNSAFE_COUNT);
}

/**
 * Reads `tag` into `d.point` when it is one of the shared `fields`; false when it is none of them (the
 * kind's own field, or one to skip).
 */
function readSharedPointField(d: ProtoDecoder, tag: number, end: number, fields: SharedPointFields): boolean {
  const point = d.point;
  const field = tag >>> 3;
  if (field === fields.attributes) {
    readAttribute(d, tag, end, point);
  } else if (field === fields.start_time_unix_nano) {
    expectWire(tag, WireType.I64, 'startTimeUnixNano');
    point.start = d.readTime(end, 0);
  } else if (field === fields.time_unix_nano) {
    expectWire(tag, WireType.I64, 'timeUnixNano');
    point.time = d.readTime(end, 1);
  } else if (field === fields.flags) {
    expectWire(tag, WireType.VARINT, 'flags');
    readVarint(d, end);
    point.flags = d.lo;
  } else if (field === fields.count) {
    expectWire(tag, WireType.I64, 'count');
    point.count = readCount(d, end);
  } else if (field === fields.sum) {
    expectWire(tag, WireType.I64, 'sum');
    point.sum = readDouble(d, end);
  } else if (field === fields.min) {
    expectWire(tag, WireType.I64, 'min');
    point.min = readDouble(d, end);
  } else if (field === fields.max) {
    expectWire(tag, WireType.I64, 'max');
    point.max = readDouble(d, end);
  } else return false;
  return true;
}

export function decodeNumberDataPoint(d: ProtoDecoder, end: number, draft: MetricDraft, index: number): void {
  const point = d.point.reset();
  let hasValue = false;
  let value = 0;
  let valueField = '';
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (readSharedPointField(d, tag, end, NumberDataPoint)) continue;
    // The `value` oneof: the last of as_double and as_int wins.
    switch (tag >>> 3) {
      case NumberDataPoint.as_double:
        expectWire(tag, WireType.I64, 'asDouble');
        value = readDouble(d, end);
        hasValue = true;
        valueField = 'asDouble';
        break;
      case NumberDataPoint.as_int:
        expectWire(tag, WireType.I64, 'asInt');
        value = readSfixed64(d, end);
        hasValue = true;
        valueField = 'asInt';
        break;
      default:
        skipField(d, tag, end);
    }
  }
  const frame = point.frame();
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, numberValue(draft.kind, hasValue, value, valueField));
}

export function decodeHistogramDataPoint(
  d: ProtoDecoder,
  end: number,
  draft: MetricDraft,
  index: number,
): void {
  const point = d.point.reset();
  const bucketCounts: number[] = [];
  const bounds: number[] = [];
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (readSharedPointField(d, tag, end, HistogramDataPoint)) continue;
    switch (tag >>> 3) {
      case HistogramDataPoint.bucket_counts:
        readRepeatedScalar(d, tag, end, WireType.I64, readCount, bucketCounts, 'bucketCounts');
        break;
      case HistogramDataPoint.explicit_bounds:
        readRepeatedScalar(d, tag, end, WireType.I64, readDouble, bounds, 'explicitBounds');
        break;
      default:
        skipField(d, tag, end);
    }
  }
  const frame = point.frame();
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, histogramValue(point, bounds, bucketCounts));
}

export function decodeExponentialHistogramDataPoint(
  d: ProtoDecoder,
  end: number,
  draft: MetricDraft,
  index: number,
): void {
  const point = d.point.reset();
  let scale = 0;
  let zeroCount = 0;
  let positive = EMPTY_BUCKETS;
  let negative = EMPTY_BUCKETS;
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (readSharedPointField(d, tag, end, ExponentialHistogramDataPoint)) continue;
    switch (tag >>> 3) {
      case ExponentialHistogramDataPoint.scale:
        expectWire(tag, WireType.VARINT, 'scale');
        scale = readSint32(d, end);
        break;
      case ExponentialHistogramDataPoint.zero_count:
        expectWire(tag, WireType.I64, 'zeroCount');
        zeroCount = readCount(d, end);
        break;
      case ExponentialHistogramDataPoint.positive:
        positive = readMessageField(d, tag, end, 'positive', decodeBuckets, positive);
        break;
      case ExponentialHistogramDataPoint.negative:
        negative = readMessageField(d, tag, end, 'negative', decodeBuckets, negative);
        break;
      default:
        skipField(d, tag, end);
    }
  }
  const frame = point.frame();
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, exponentialHistogramValue(point, scale, zeroCount, positive, negative));
}

/** A uint64 `Buckets.bucket_counts` entry; `UNSAFE_COUNT` above 2^53 - 1. */
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
        expectWire(tag, WireType.VARINT, 'offset');
        offset = readSint32(d, end);
        break;
      case Buckets.bucket_counts:
        readRepeatedScalar(d, tag, end, WireType.VARINT, readBucketCount, bucketCounts, 'bucketCounts');
        break;
      default:
        skipField(d, tag, end);
    }
  }
  return { offset, bucketCounts };
}
