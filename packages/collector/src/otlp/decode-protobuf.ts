/**
 * OTLP/HTTP binary protobuf → `InputBatch`: `ExportMetricsServiceRequest`
 * (opentelemetry/proto/collector/metrics/v1) with metrics/v1, common/v1 and resource/v1 messages.
 *
 * Hand-written over `wire-reader.ts` for speed (no intermediate OTLP object tree: points go straight into
 * the internal representation). Unknown fields are skipped by wire type; repeated scalars are accepted
 * packed and unpacked; for a oneof the last field wins, as protobuf specifies.
 *
 * A singular message field that occurs more than once is merged, as protobuf specifies (the parse of
 * concatenated messages): its repeated fields add up and its scalars are overwritten only by values present
 * in a later occurrence. A later occurrence of another member of the same oneof clears the earlier one.
 */
import type {
  Attributes,
  AttributeValue,
  ExponentialBuckets,
  InputResourceMetrics,
  InputScopeMetrics,
  InstrumentationScopeInfo,
} from '@tallyhouse/model';
import { setAttribute, sortedObject } from './attribute-building.ts';
import { type OtlpDecodeResult, RejectionLog } from './decode-result.ts';
import { DecodeFailure, MAX_ANY_VALUE_DEPTH, toOtlpDecodeError, withSegment } from './errors.ts';
import {
  admitPoint,
  EMPTY_BUCKETS,
  exponentialHistogramValue,
  finishMetric,
  histogramValue,
  keepPoint,
  type MetricDraft,
  newMetricDraft,
  numberValue,
  resetMetricData,
  UNSAFE_COUNT,
} from './metric-assembly.ts';
import {
  readBytes,
  readDouble,
  readFixed64Count,
  readInt64Value,
  readLengthEnd,
  readSfixed64,
  readSint32,
  readString,
  readTag,
  readUint64Count,
  readVarint,
  skipField,
  WIRE_I64,
  WIRE_LEN,
  WIRE_VARINT,
  WireReader,
  wrongWireType,
} from './wire-reader.ts';

// Tags (field number << 3 | wire type) of the fields we read, named Message_field.
const LEN = WIRE_LEN;
const I64 = WIRE_I64;
const VARINT = WIRE_VARINT;
const t = (field: number, wire: number): number => (field << 3) | wire;

const EMPTY_ATTRIBUTES: Attributes = Object.freeze({});

/** Decoding state of one request. */
class ProtoDecoder extends WireReader {
  readonly log = new RejectionLog();
  accepted = 0;
  noRecordedValue = 0;
  // Scratch output of decodeKeyValue, to avoid allocating a pair per attribute.
  key = '';
  value: AttributeValue = null;
}

/**
 * Decodes an OTLP `ExportMetricsServiceRequest` in binary protobuf encoding.
 * @throws OtlpDecodeError when the body is not a well-formed request (answer 400).
 */
export function decodeExportMetricsServiceRequestProtobuf(bytes: Uint8Array): OtlpDecodeResult {
  const d = new ProtoDecoder(bytes);
  let resourceMetrics: InputResourceMetrics[];
  try {
    resourceMetrics = decodeRequest(d, bytes.length);
  } catch (thrown) {
    throw toOtlpDecodeError(thrown);
  }
  return {
    batch: { resourceMetrics },
    acceptedDataPoints: d.accepted,
    rejectedDataPoints: d.log.count,
    rejectionMessages: d.log.messages,
    noRecordedValueDataPoints: d.noRecordedValue,
  };
}

function decodeRequest(d: ProtoDecoder, end: number): InputResourceMetrics[] {
  const out: InputResourceMetrics[] = [];
  let index = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag >>> 3 === 1) {
      if (tag !== t(1, LEN)) throw withSegment(wrongWireType(tag, 'length-delimited'), 'resourceMetrics');
      try {
        const sub = readLengthEnd(d, end);
        const rm = decodeResourceMetrics(d, sub, index);
        if (rm !== undefined) out.push(rm);
      } catch (thrown) {
        throw withSegment(thrown, `resourceMetrics[${index}]`);
      }
      index++;
    } else skipField(d, tag, end);
  }
  return out;
}

function decodeResourceMetrics(d: ProtoDecoder, end: number, ri: number): InputResourceMetrics | undefined {
  // Every occurrence of `resource` adds its attributes to the same set (a merge).
  const resource: AttributeSink = { attributes: undefined, count: 0 };
  const scopeMetrics: InputScopeMetrics[] = [];
  let si = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(1, LEN): {
        const sub = readLengthEnd(d, end);
        try {
          decodeResource(d, sub, resource);
        } catch (thrown) {
          throw withSegment(thrown, 'resource');
        }
        break;
      }
      case t(2, LEN):
        try {
          const sub = readLengthEnd(d, end);
          const sm = decodeScopeMetrics(d, sub, ri, si);
          if (sm !== undefined) scopeMetrics.push(sm);
        } catch (thrown) {
          throw withSegment(thrown, `scopeMetrics[${si}]`);
        }
        si++;
        break;
      default:
        checkKnownWire(tag, 2, LEN, 'scopeMetrics');
        checkKnownWire(tag, 1, LEN, 'resource');
        skipField(d, tag, end);
    }
  }
  if (scopeMetrics.length === 0) return undefined;
  return { resource: resource.attributes ?? EMPTY_ATTRIBUTES, scopeMetrics };
}

/** Attributes gathered over the occurrences of one message field; `count` numbers them for error paths. */
interface AttributeSink {
  attributes: Record<string, AttributeValue> | undefined;
  count: number;
}

function decodeResource(d: ProtoDecoder, end: number, into: AttributeSink): void {
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) {
      into.attributes ??= {};
      decodeAttribute(d, end, into.attributes, into.count++);
    } else {
      checkKnownWire(tag, 1, LEN, 'attributes');
      skipField(d, tag, end);
    }
  }
}

function decodeScopeMetrics(
  d: ProtoDecoder,
  end: number,
  ri: number,
  si: number,
): InputScopeMetrics | undefined {
  let scope: InstrumentationScopeInfo = { name: '', version: '' };
  const metrics = [];
  let mi = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(1, LEN): {
        const sub = readLengthEnd(d, end);
        try {
          scope = decodeScope(d, sub, scope);
        } catch (thrown) {
          throw withSegment(thrown, 'scope');
        }
        break;
      }
      case t(2, LEN): {
        let draft: MetricDraft;
        try {
          const sub = readLengthEnd(d, end);
          draft = decodeMetric(d, sub);
        } catch (thrown) {
          throw withSegment(thrown, `metrics[${mi}]`);
        }
        const index = mi;
        const metric = finishMetric(
          draft,
          () => `resourceMetrics[${ri}].scopeMetrics[${si}].metrics[${index}]`,
          d.log,
        );
        if (metric !== undefined) {
          d.accepted += metric.points.length;
          metrics.push(metric);
        }
        mi++;
        break;
      }
      default:
        checkKnownWire(tag, 1, LEN, 'scope');
        checkKnownWire(tag, 2, LEN, 'metrics');
        skipField(d, tag, end);
    }
  }
  if (metrics.length === 0) return undefined;
  return { scope, metrics };
}

/** `previous`: what earlier occurrences of the field set; only fields present here overwrite it. */
function decodeScope(
  d: ProtoDecoder,
  end: number,
  previous: InstrumentationScopeInfo,
): InstrumentationScopeInfo {
  let name = previous.name;
  let version = previous.version;
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) name = readStringAt(d, end, 'name');
    else if (tag === t(2, LEN)) version = readStringAt(d, end, 'version');
    else {
      checkKnownWire(tag, 1, LEN, 'name');
      checkKnownWire(tag, 2, LEN, 'version');
      skipField(d, tag, end);
    }
  }
  return { name, version };
}

function decodeMetric(d: ProtoDecoder, end: number): MetricDraft {
  const draft = newMetricDraft();
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(1, LEN):
        draft.name = readStringAt(d, end, 'name');
        break;
      case t(2, LEN):
        draft.description = readStringAt(d, end, 'description');
        break;
      case t(3, LEN):
        draft.unit = readStringAt(d, end, 'unit');
        break;
      case t(5, LEN):
        decodeMetricData(d, end, draft, 'gauge', decodeNumberMetric);
        break;
      case t(7, LEN):
        decodeMetricData(d, end, draft, 'sum', decodeNumberMetric);
        break;
      case t(9, LEN):
        decodeMetricData(d, end, draft, 'histogram', decodeHistogramMetric);
        break;
      case t(10, LEN):
        decodeMetricData(d, end, draft, 'exponentialHistogram', decodeExponentialHistogramMetric);
        break;
      case t(11, LEN):
        decodeMetricData(d, end, draft, 'summary', countSummaryPoints);
        break;
      default:
        switch (tag >>> 3) {
          case 1:
          case 2:
          case 3:
          case 5:
          case 7:
          case 9:
          case 10:
          case 11:
            throw withSegment(wrongWireType(tag, 'length-delimited'), METRIC_FIELD_NAMES[tag >>> 3]!);
        }
        skipField(d, tag, end);
    }
  }
  return draft;
}

const METRIC_FIELD_NAMES: Record<number, string> = {
  1: 'name',
  2: 'description',
  3: 'unit',
  5: 'gauge',
  7: 'sum',
  9: 'histogram',
  10: 'exponentialHistogram',
  11: 'summary',
};

/**
 * One of the metric's data oneof fields; errors name the field. Another member than the one held so far
 * replaces it; the same member again is merged into it (its points add up, later scalars win).
 */
function decodeMetricData(
  d: ProtoDecoder,
  end: number,
  draft: MetricDraft,
  kind: Parameters<typeof resetMetricData>[1],
  decode: (d: ProtoDecoder, end: number, draft: MetricDraft) => void,
): void {
  const sub = readLengthEnd(d, end);
  if (draft.kind !== kind) resetMetricData(draft, kind);
  try {
    decode(d, sub, draft);
  } catch (thrown) {
    throw withSegment(thrown, kind);
  }
}

/** Gauge and Sum: data_points = 1, aggregation_temporality = 2 and is_monotonic = 3 (Sum only). */
function decodeNumberMetric(d: ProtoDecoder, end: number, draft: MetricDraft): void {
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) {
      const index = draft.seenPoints;
      try {
        const sub = readLengthEnd(d, end);
        decodeNumberDataPoint(d, sub, draft, index);
      } catch (thrown) {
        throw withSegment(thrown, `dataPoints[${index}]`);
      }
    } else if (draft.kind === 'sum' && tag === t(2, VARINT)) {
      readVarint(d, end);
      draft.temporality = d.lo | 0;
    } else if (draft.kind === 'sum' && tag === t(3, VARINT)) {
      readVarint(d, end);
      draft.monotonic = d.lo !== 0 || d.hi !== 0;
    } else {
      checkKnownWire(tag, 1, LEN, 'dataPoints');
      if (draft.kind === 'sum') {
        checkKnownWire(tag, 2, VARINT, 'aggregationTemporality');
        checkKnownWire(tag, 3, VARINT, 'isMonotonic');
      }
      skipField(d, tag, end);
    }
  }
}

function decodeNumberDataPoint(d: ProtoDecoder, end: number, draft: MetricDraft, index: number): void {
  let attributes: Record<string, AttributeValue> | undefined;
  let ai = 0;
  let start = 0n;
  let time = 0n;
  let hasValue = false;
  let value = 0;
  let valueField = '';
  let flags = 0;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(7, LEN):
        attributes ??= {};
        decodeAttribute(d, end, attributes, ai++);
        break;
      case t(2, I64):
        start = d.readTime(end, 0);
        break;
      case t(3, I64):
        time = d.readTime(end, 1);
        break;
      case t(4, I64):
        value = readDouble(d, end);
        hasValue = true;
        valueField = 'asDouble';
        break;
      case t(6, I64):
        value = readSfixed64(d, end);
        hasValue = true;
        valueField = 'asInt';
        break;
      case t(8, VARINT):
        readVarint(d, end);
        flags = d.lo;
        break;
      default:
        checkKnownWire(tag, 7, LEN, 'attributes');
        checkKnownWire(tag, 2, I64, 'startTimeUnixNano');
        checkKnownWire(tag, 3, I64, 'timeUnixNano');
        checkKnownWire(tag, 4, I64, 'asDouble');
        checkKnownWire(tag, 6, I64, 'asInt');
        checkKnownWire(tag, 8, VARINT, 'flags');
        skipField(d, tag, end);
    }
  }
  const frame = { attributes: attributes ?? EMPTY_ATTRIBUTES, start, time, flags };
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, numberValue(draft.kind, hasValue, value, valueField));
}

/** Histogram and ExponentialHistogram: data_points = 1, aggregation_temporality = 2. */
function decodeHistogramMetric(d: ProtoDecoder, end: number, draft: MetricDraft): void {
  decodeHistogramLike(d, end, draft, decodeHistogramDataPoint);
}

function decodeHistogramLike(
  d: ProtoDecoder,
  end: number,
  draft: MetricDraft,
  decodePoint: (d: ProtoDecoder, end: number, draft: MetricDraft, index: number) => void,
): void {
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) {
      const index = draft.seenPoints;
      try {
        const sub = readLengthEnd(d, end);
        decodePoint(d, sub, draft, index);
      } catch (thrown) {
        throw withSegment(thrown, `dataPoints[${index}]`);
      }
    } else if (tag === t(2, VARINT)) {
      readVarint(d, end);
      draft.temporality = d.lo | 0;
    } else {
      checkKnownWire(tag, 1, LEN, 'dataPoints');
      checkKnownWire(tag, 2, VARINT, 'aggregationTemporality');
      skipField(d, tag, end);
    }
  }
}

function decodeHistogramDataPoint(d: ProtoDecoder, end: number, draft: MetricDraft, index: number): void {
  let attributes: Record<string, AttributeValue> | undefined;
  let ai = 0;
  let start = 0n;
  let time = 0n;
  let count = 0;
  let sum: number | undefined;
  const bucketCounts: number[] = [];
  const bounds: number[] = [];
  let flags = 0;
  let min: number | undefined;
  let max: number | undefined;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(9, LEN):
        attributes ??= {};
        decodeAttribute(d, end, attributes, ai++);
        break;
      case t(2, I64):
        start = d.readTime(end, 0);
        break;
      case t(3, I64):
        time = d.readTime(end, 1);
        break;
      case t(4, I64):
        count = readFixed64Count(d, end, UNSAFE_COUNT);
        break;
      case t(5, I64):
        sum = readDouble(d, end);
        break;
      case t(6, LEN): {
        const sub = readPackedEnd(d, end, 8, 'bucketCounts');
        while (d.pos < sub) bucketCounts.push(readFixed64Count(d, sub, UNSAFE_COUNT));
        break;
      }
      case t(6, I64):
        bucketCounts.push(readFixed64Count(d, end, UNSAFE_COUNT));
        break;
      case t(7, LEN): {
        const sub = readPackedEnd(d, end, 8, 'explicitBounds');
        while (d.pos < sub) bounds.push(readDouble(d, sub));
        break;
      }
      case t(7, I64):
        bounds.push(readDouble(d, end));
        break;
      case t(10, VARINT):
        readVarint(d, end);
        flags = d.lo;
        break;
      case t(11, I64):
        min = readDouble(d, end);
        break;
      case t(12, I64):
        max = readDouble(d, end);
        break;
      default:
        checkKnownWire(tag, 9, LEN, 'attributes');
        checkKnownWire(tag, 2, I64, 'startTimeUnixNano');
        checkKnownWire(tag, 3, I64, 'timeUnixNano');
        checkKnownWire(tag, 4, I64, 'count');
        checkKnownWire(tag, 5, I64, 'sum');
        checkKnownWire(tag, 10, VARINT, 'flags');
        checkKnownWire(tag, 11, I64, 'min');
        checkKnownWire(tag, 12, I64, 'max');
        if (tag >>> 3 === 6 || tag >>> 3 === 7) {
          throw withSegment(
            wrongWireType(tag, 'packed or fixed64/double'),
            tag >>> 3 === 6 ? 'bucketCounts' : 'explicitBounds',
          );
        }
        skipField(d, tag, end);
    }
  }
  const frame = { attributes: attributes ?? EMPTY_ATTRIBUTES, start, time, flags };
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, histogramValue(count, sum, bounds, bucketCounts, min, max));
}

function decodeExponentialHistogramMetric(d: ProtoDecoder, end: number, draft: MetricDraft): void {
  decodeHistogramLike(d, end, draft, decodeExponentialDataPoint);
}

function decodeExponentialDataPoint(d: ProtoDecoder, end: number, draft: MetricDraft, index: number): void {
  let attributes: Record<string, AttributeValue> | undefined;
  let ai = 0;
  let start = 0n;
  let time = 0n;
  let count = 0;
  let sum: number | undefined;
  let scale = 0;
  let zeroCount = 0;
  let positive = EMPTY_BUCKETS;
  let negative = EMPTY_BUCKETS;
  let flags = 0;
  let min: number | undefined;
  let max: number | undefined;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(1, LEN):
        attributes ??= {};
        decodeAttribute(d, end, attributes, ai++);
        break;
      case t(2, I64):
        start = d.readTime(end, 0);
        break;
      case t(3, I64):
        time = d.readTime(end, 1);
        break;
      case t(4, I64):
        count = readFixed64Count(d, end, UNSAFE_COUNT);
        break;
      case t(5, I64):
        sum = readDouble(d, end);
        break;
      case t(6, VARINT):
        scale = readSint32(d, end);
        break;
      case t(7, I64):
        zeroCount = readFixed64Count(d, end, UNSAFE_COUNT);
        break;
      case t(8, LEN): {
        const sub = readLengthEnd(d, end);
        try {
          positive = decodeBuckets(d, sub, positive);
        } catch (thrown) {
          throw withSegment(thrown, 'positive');
        }
        break;
      }
      case t(9, LEN): {
        const sub = readLengthEnd(d, end);
        try {
          negative = decodeBuckets(d, sub, negative);
        } catch (thrown) {
          throw withSegment(thrown, 'negative');
        }
        break;
      }
      case t(10, VARINT):
        readVarint(d, end);
        flags = d.lo;
        break;
      case t(12, I64):
        min = readDouble(d, end);
        break;
      case t(13, I64):
        max = readDouble(d, end);
        break;
      default:
        checkKnownWire(tag, 1, LEN, 'attributes');
        checkKnownWire(tag, 2, I64, 'startTimeUnixNano');
        checkKnownWire(tag, 3, I64, 'timeUnixNano');
        checkKnownWire(tag, 4, I64, 'count');
        checkKnownWire(tag, 5, I64, 'sum');
        checkKnownWire(tag, 6, VARINT, 'scale');
        checkKnownWire(tag, 7, I64, 'zeroCount');
        checkKnownWire(tag, 8, LEN, 'positive');
        checkKnownWire(tag, 9, LEN, 'negative');
        checkKnownWire(tag, 10, VARINT, 'flags');
        checkKnownWire(tag, 12, I64, 'min');
        checkKnownWire(tag, 13, I64, 'max');
        skipField(d, tag, end);
    }
  }
  const frame = { attributes: attributes ?? EMPTY_ATTRIBUTES, start, time, flags };
  if (admitPoint(draft, index, frame, d))
    keepPoint(
      draft,
      index,
      frame,
      exponentialHistogramValue(count, sum, scale, zeroCount, positive, negative, min, max),
    );
}

/** `previous`: the buckets of earlier occurrences of the field, merged with these (counts add up). */
function decodeBuckets(d: ProtoDecoder, end: number, previous: ExponentialBuckets): ExponentialBuckets {
  let offset = previous.offset;
  const bucketCounts: number[] = previous.bucketCounts.slice();
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(1, VARINT):
        offset = readSint32(d, end);
        break;
      case t(2, LEN): {
        const sub = readLengthEnd(d, end);
        try {
          while (d.pos < sub) bucketCounts.push(readUint64Count(d, sub, UNSAFE_COUNT));
        } catch (thrown) {
          throw withSegment(thrown, 'bucketCounts');
        }
        break;
      }
      case t(2, VARINT):
        bucketCounts.push(readUint64Count(d, end, UNSAFE_COUNT));
        break;
      default:
        checkKnownWire(tag, 1, VARINT, 'offset');
        if (tag >>> 3 === 2) throw withSegment(wrongWireType(tag, 'packed or varint'), 'bucketCounts');
        skipField(d, tag, end);
    }
  }
  return { offset, bucketCounts };
}

/** Summaries are not supported; only their points are counted, to report them as rejected. */
function countSummaryPoints(d: ProtoDecoder, end: number, draft: MetricDraft): void {
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) draft.seenPoints++;
    else checkKnownWire(tag, 1, LEN, 'dataPoints');
    skipField(d, tag, end);
  }
}

/** Reads one `KeyValue` (length-delimited, tag already read) into `target`. */
function decodeAttribute(
  d: ProtoDecoder,
  end: number,
  target: Record<string, AttributeValue>,
  index: number,
): void {
  try {
    const sub = readLengthEnd(d, end);
    decodeKeyValue(d, sub, 0);
  } catch (thrown) {
    throw withSegment(thrown, `attributes[${index}]`);
  }
  setAttribute(target, d.key, d.value);
}

/** Decodes a KeyValue into `d.key` / `d.value`. `depth` counts enclosing AnyValues. */
function decodeKeyValue(d: ProtoDecoder, end: number, depth: number): void {
  let key = '';
  let value: AttributeValue = null;
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) key = readStringAt(d, end, 'key');
    else if (tag === t(2, LEN)) {
      try {
        const sub = readLengthEnd(d, end);
        value = decodeAnyValue(d, sub, depth + 1, value);
      } catch (thrown) {
        throw withSegment(thrown, 'value');
      }
    } else {
      checkKnownWire(tag, 1, LEN, 'key');
      checkKnownWire(tag, 2, LEN, 'value');
      // key_strindex (3) belongs to the profiles signal; OTLP says to ignore it elsewhere.
      skipField(d, tag, end);
    }
  }
  d.key = key;
  d.value = value;
}

/**
 * `previous`: the value of earlier occurrences of the same AnyValue field (`null` when none), which this one
 * is merged into: a member present here replaces another member, and merges with the same message member
 * (array items and kvlist entries add up). `null` is also what an AnyValue without a member becomes.
 */
function decodeAnyValue(
  d: ProtoDecoder,
  end: number,
  depth: number,
  previous: AttributeValue,
): AttributeValue {
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw new DecodeFailure('NESTING_TOO_DEEP', `AnyValue nests deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  }
  let value = previous;
  while (d.pos < end) {
    const tag = readTag(d, end);
    switch (tag) {
      case t(1, LEN):
        value = readStringAt(d, end, 'stringValue');
        break;
      case t(2, VARINT):
        readVarint(d, end);
        value = d.lo !== 0 || d.hi !== 0;
        break;
      case t(3, VARINT):
        value = readInt64Value(d, end);
        break;
      case t(4, I64):
        value = readDouble(d, end);
        break;
      case t(5, LEN): {
        const sub = readLengthEnd(d, end);
        // Only array_value makes arrays and only kvlist_value makes plain objects, so the kind is known.
        value = decodeArrayValue(d, sub, depth, Array.isArray(value) ? (value as AttributeValue[]) : []);
        break;
      }
      case t(6, LEN): {
        const sub = readLengthEnd(d, end);
        value = decodeKeyValueList(d, sub, depth, isKeyValueList(value) ? value : undefined);
        break;
      }
      case t(7, LEN):
        value = Buffer.from(readBytes(d, end)).toString('base64');
        break;
      default:
        if (tag >>> 3 >= 1 && tag >>> 3 <= 7) {
          throw withSegment(
            wrongWireType(tag, 'the one its AnyValue kind needs'),
            ANY_VALUE_NAMES[tag >>> 3]!,
          );
        }
        // string_value_strindex (8) belongs to the profiles signal; OTLP says to ignore it elsewhere.
        skipField(d, tag, end);
    }
  }
  return value;
}

const ANY_VALUE_NAMES: Record<number, string> = {
  1: 'stringValue',
  2: 'boolValue',
  3: 'intValue',
  4: 'doubleValue',
  5: 'arrayValue',
  6: 'kvlistValue',
  7: 'bytesValue',
};

function isKeyValueList(value: AttributeValue): value is { readonly [key: string]: AttributeValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends the items to `values` (fresh, or the array of an earlier occurrence, merged). */
function decodeArrayValue(
  d: ProtoDecoder,
  end: number,
  depth: number,
  values: AttributeValue[],
): AttributeValue[] {
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) {
      const i = values.length;
      try {
        const sub = readLengthEnd(d, end);
        values.push(decodeAnyValue(d, sub, depth + 1, null));
      } catch (thrown) {
        throw withSegment(thrown, `arrayValue.values[${i}]`);
      }
    } else {
      checkKnownWire(tag, 1, LEN, 'arrayValue.values');
      skipField(d, tag, end);
    }
  }
  return values;
}

/** `previous`: the entries of an earlier occurrence, merged (the later of equal keys wins). */
function decodeKeyValueList(
  d: ProtoDecoder,
  end: number,
  depth: number,
  previous: { readonly [key: string]: AttributeValue } | undefined,
): AttributeValue {
  const keys: string[] = previous === undefined ? [] : Object.keys(previous);
  const values: AttributeValue[] = keys.map((key) => previous![key]!);
  while (d.pos < end) {
    const tag = readTag(d, end);
    if (tag === t(1, LEN)) {
      const i = keys.length;
      try {
        const sub = readLengthEnd(d, end);
        decodeKeyValue(d, sub, depth);
      } catch (thrown) {
        throw withSegment(thrown, `kvlistValue.values[${i}]`);
      }
      keys.push(d.key);
      values.push(d.value);
    } else {
      checkKnownWire(tag, 1, LEN, 'kvlistValue.values');
      skipField(d, tag, end);
    }
  }
  return sortedObject(keys, values);
}

function readStringAt(d: ProtoDecoder, end: number, name: string): string {
  try {
    return readString(d, end);
  } catch (thrown) {
    throw withSegment(thrown, name);
  }
}

/** For a packed repeated fixed-width field: the end of its range, after checking the length is whole. */
function readPackedEnd(d: ProtoDecoder, end: number, width: number, name: string): number {
  const sub = readLengthEnd(d, end);
  if ((sub - d.pos) % width !== 0) {
    throw withSegment(
      new DecodeFailure('MALFORMED_PROTOBUF', `packed length ${sub - d.pos} is not a multiple of ${width}`),
      name,
    );
  }
  return sub;
}

/** A known field number with the wrong wire type is malformed (it is not an unknown field to skip). */
function checkKnownWire(tag: number, field: number, wire: number, name: string): void {
  if (tag >>> 3 === field && (tag & 7) !== wire) {
    const expected = wire === LEN ? 'length-delimited' : wire === I64 ? '64-bit' : 'varint';
    throw withSegment(wrongWireType(tag, expected), name);
  }
}
