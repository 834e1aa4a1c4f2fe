/**
 * OTLP/HTTP JSON → `InputBatch`, following the OTLP JSON Protobuf Encoding:
 * - field names in lowerCamelCase; the proto (snake_case) names are accepted too, camelCase winning;
 * - 64-bit integers as decimal strings or JSON numbers; doubles as numbers or "NaN"/"Infinity"/"-Infinity";
 * - enums as integers; enum names (e.g. "AGGREGATION_TEMPORALITY_DELTA") are accepted too;
 * - `bytesValue` as base64 (standard or URL-safe); only trace/span ids are hex in OTLP/JSON, and those
 *   live in exemplars, which Tallyhouse skips;
 * - unknown fields ignored, `null` treated as absent (the default value);
 * - strings must be valid Unicode: an escaped unpaired surrogate is refused as `INVALID_UTF8`, as protobuf
 *   refuses invalid UTF-8.
 * Nesting of `AnyValue` is capped at {@link MAX_ANY_VALUE_DEPTH}; everything else is walked with a fixed
 * depth, so a hostile document cannot exhaust the stack.
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
import {
  DecodeFailure,
  MAX_ANY_VALUE_DEPTH,
  OtlpDecodeError,
  toOtlpDecodeError,
  withSegment,
} from './errors.ts';
import {
  admitPoint,
  type DataKind,
  EMPTY_BUCKETS,
  exponentialHistogramValue,
  finishMetric,
  histogramValue,
  keepPoint,
  type MetricDraft,
  newMetricDraft,
  numberValue,
  type PointFrame,
  resetMetricData,
  UNSAFE_COUNT,
} from './metric-assembly.ts';

type JsonObject = { readonly [key: string]: unknown };

const EMPTY_ATTRIBUTES: Attributes = Object.freeze({});
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;
const MIN_INT64 = -0x8000_0000_0000_0000n;
const MAX_INT64 = 0x7fff_ffff_ffff_ffffn;
const UNSIGNED_DIGITS = /^\d+$/;
const SIGNED_DIGITS = /^-?\d+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2})$/;

// A Map: the name comes from the payload, and on an object "constructor" would find Object.
const TEMPORALITY_NAMES = new Map<string, number>([
  ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 0],
  ['AGGREGATION_TEMPORALITY_DELTA', 1],
  ['AGGREGATION_TEMPORALITY_CUMULATIVE', 2],
]);

/** The `Metric.data` oneof: JSON names (camel, snake) per kind. */
const DATA_FIELDS: readonly (readonly [DataKind, string, string])[] = [
  ['gauge', 'gauge', 'gauge'],
  ['sum', 'sum', 'sum'],
  ['histogram', 'histogram', 'histogram'],
  ['exponentialHistogram', 'exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary', 'summary'],
];

/** Decoding state of one request. */
class JsonDecoder {
  readonly log = new RejectionLog();
  accepted = 0;
  noRecordedValue = 0;
  // One-entry caches: points of one export usually repeat their times.
  lastStartText = '';
  lastStart = 0n;
  lastTimeText = '';
  lastTime = 0n;
}

/**
 * Decodes an OTLP `ExportMetricsServiceRequest` in JSON encoding.
 * @throws OtlpDecodeError when the body is not a well-formed request (answer 400).
 */
// A BOM opening the document is the one RFC 8259 lets a parser skip (the default, ignoreBOM false, drops just
// that one); BOMs inside strings are characters of the string and stay.
const UTF8_BODY = new TextDecoder('utf-8', { fatal: true });

/**
 * An OTLP/JSON body as received (bytes): strict UTF-8 — a replacement character would corrupt stored names — then
 * the document. Live intake and write-ahead-log replay both decode through here, so they read the same points.
 */
export function decodeExportMetricsServiceRequestJsonBody(body: Uint8Array): OtlpDecodeResult {
  let text: string;
  try {
    text = UTF8_BODY.decode(body);
  } catch {
    throw new OtlpDecodeError('INVALID_UTF8', '', 'body is not valid UTF-8');
  }
  return decodeExportMetricsServiceRequestJson(text);
}

export function decodeExportMetricsServiceRequestJson(text: string): OtlpDecodeResult {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (thrown) {
    throw new OtlpDecodeError(
      'INVALID_JSON',
      '',
      `the body is not valid JSON (${(thrown as Error).message})`,
    );
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new OtlpDecodeError('INVALID_JSON', '', `expected a JSON object, got ${describe(document)}`);
  }
  const d = new JsonDecoder();
  let resourceMetrics: InputResourceMetrics[];
  try {
    resourceMetrics = decodeRequest(d, document as JsonObject);
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

function decodeRequest(d: JsonDecoder, request: JsonObject): InputResourceMetrics[] {
  const out: InputResourceMetrics[] = [];
  const list = arrayField(request, 'resourceMetrics', 'resource_metrics');
  for (let ri = 0; ri < list.length; ri++) {
    try {
      const rm = decodeResourceMetrics(d, asObject(list[ri]), ri);
      if (rm !== undefined) out.push(rm);
    } catch (thrown) {
      throw withSegment(thrown, `resourceMetrics[${ri}]`);
    }
  }
  return out;
}

function decodeResourceMetrics(d: JsonDecoder, rm: JsonObject, ri: number): InputResourceMetrics | undefined {
  let resource: Attributes = EMPTY_ATTRIBUTES;
  const resourceJson = get(rm, 'resource', 'resource');
  if (resourceJson !== undefined) {
    try {
      resource = decodeAttributes(asObject(resourceJson));
    } catch (thrown) {
      throw withSegment(thrown, 'resource');
    }
  }
  const scopeMetrics: InputScopeMetrics[] = [];
  const list = arrayField(rm, 'scopeMetrics', 'scope_metrics');
  for (let si = 0; si < list.length; si++) {
    try {
      const sm = decodeScopeMetrics(d, asObject(list[si]), ri, si);
      if (sm !== undefined) scopeMetrics.push(sm);
    } catch (thrown) {
      throw withSegment(thrown, `scopeMetrics[${si}]`);
    }
  }
  if (scopeMetrics.length === 0) return undefined;
  return { resource, scopeMetrics };
}

function decodeScopeMetrics(
  d: JsonDecoder,
  sm: JsonObject,
  ri: number,
  si: number,
): InputScopeMetrics | undefined {
  let scope: InstrumentationScopeInfo = { name: '', version: '' };
  const scopeJson = get(sm, 'scope', 'scope');
  if (scopeJson !== undefined) {
    try {
      const object = asObject(scopeJson);
      scope = {
        name: stringField(object, 'name', 'name'),
        version: stringField(object, 'version', 'version'),
      };
    } catch (thrown) {
      throw withSegment(thrown, 'scope');
    }
  }
  const metrics = [];
  const list = arrayField(sm, 'metrics', 'metrics');
  for (let mi = 0; mi < list.length; mi++) {
    let draft: MetricDraft;
    try {
      draft = decodeMetric(d, asObject(list[mi]));
    } catch (thrown) {
      throw withSegment(thrown, `metrics[${mi}]`);
    }
    const metric = finishMetric(
      draft,
      () => `resourceMetrics[${ri}].scopeMetrics[${si}].metrics[${mi}]`,
      d.log,
    );
    if (metric !== undefined) {
      d.accepted += metric.points.length;
      metrics.push(metric);
    }
  }
  if (metrics.length === 0) return undefined;
  return { scope, metrics };
}

function decodeMetric(d: JsonDecoder, metric: JsonObject): MetricDraft {
  const draft = newMetricDraft();
  draft.name = stringField(metric, 'name', 'name');
  draft.description = stringField(metric, 'description', 'description');
  draft.unit = stringField(metric, 'unit', 'unit');
  // A oneof: if a sender sets several, the last in field-number order wins, like protobuf's last-wins.
  let chosen: readonly [DataKind, string, string] | undefined;
  let data: unknown;
  for (const entry of DATA_FIELDS) {
    const value = get(metric, entry[1], entry[2]);
    if (value !== undefined) {
      chosen = entry;
      data = value;
    }
  }
  if (chosen === undefined) return draft;
  const kind = chosen[0];
  resetMetricData(draft, kind);
  try {
    const object = asObject(data);
    if (kind !== 'gauge' && kind !== 'summary') {
      draft.temporality = enumField(object, 'aggregationTemporality', 'aggregation_temporality');
    }
    if (kind === 'sum') draft.monotonic = boolField(object, 'isMonotonic', 'is_monotonic');
    const points = arrayField(object, 'dataPoints', 'data_points');
    for (let pi = 0; pi < points.length; pi++) {
      try {
        const point = asObject(points[pi]);
        if (kind === 'gauge' || kind === 'sum') decodeNumberDataPoint(d, point, draft, pi);
        else if (kind === 'histogram') decodeHistogramDataPoint(d, point, draft, pi);
        else if (kind === 'exponentialHistogram') decodeExponentialDataPoint(d, point, draft, pi);
        else draft.seenPoints++;
      } catch (thrown) {
        throw withSegment(thrown, `dataPoints[${pi}]`);
      }
    }
  } catch (thrown) {
    throw withSegment(thrown, chosen[1]);
  }
  return draft;
}

/** The fields every point kind shares, read in the order errors are reported. */
function pointFrame(d: JsonDecoder, point: JsonObject): PointFrame {
  return {
    attributes: decodeAttributes(point),
    start: startTimeField(d, point),
    time: timeField(d, point),
    flags: uint32Field(point, 'flags', 'flags'),
  };
}

/** Sum and gauge points: accepted into `draft.points`, rejected with a reason, or skipped as "no recorded value". */
function decodeNumberDataPoint(d: JsonDecoder, point: JsonObject, draft: MetricDraft, index: number): void {
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

function decodeHistogramDataPoint(
  d: JsonDecoder,
  point: JsonObject,
  draft: MetricDraft,
  index: number,
): void {
  const frame = pointFrame(d, point);
  const count = countField(point, 'count', 'count');
  const sum = optionalDoubleField(point, 'sum', 'sum');
  const min = optionalDoubleField(point, 'min', 'min');
  const max = optionalDoubleField(point, 'max', 'max');
  const bucketCounts = countArrayField(point, 'bucketCounts', 'bucket_counts');
  const bounds = doubleArrayField(point, 'explicitBounds', 'explicit_bounds');
  if (admitPoint(draft, index, frame, d))
    keepPoint(draft, index, frame, histogramValue(count, sum, bounds, bucketCounts, min, max));
}

function decodeExponentialDataPoint(
  d: JsonDecoder,
  point: JsonObject,
  draft: MetricDraft,
  index: number,
): void {
  const frame = pointFrame(d, point);
  const count = countField(point, 'count', 'count');
  const sum = optionalDoubleField(point, 'sum', 'sum');
  const min = optionalDoubleField(point, 'min', 'min');
  const max = optionalDoubleField(point, 'max', 'max');
  const scale = int32Field(point, 'scale', 'scale');
  const zeroCount = countField(point, 'zeroCount', 'zero_count');
  const positive = bucketsField(point, 'positive');
  const negative = bucketsField(point, 'negative');
  if (admitPoint(draft, index, frame, d))
    keepPoint(
      draft,
      index,
      frame,
      exponentialHistogramValue(count, sum, scale, zeroCount, positive, negative, min, max),
    );
}

function bucketsField(point: JsonObject, name: 'positive' | 'negative'): ExponentialBuckets {
  const json = get(point, name, name);
  if (json === undefined) return EMPTY_BUCKETS;
  try {
    const object = asObject(json);
    return {
      offset: int32Field(object, 'offset', 'offset'),
      bucketCounts: countArrayField(object, 'bucketCounts', 'bucket_counts'),
    };
  } catch (thrown) {
    throw withSegment(thrown, name);
  }
}

// ---- attributes ----

/** The `attributes` field (repeated KeyValue) of a resource or point. */
function decodeAttributes(owner: JsonObject): Attributes {
  const list = arrayField(owner, 'attributes', 'attributes');
  if (list.length === 0) return EMPTY_ATTRIBUTES;
  const out: Record<string, AttributeValue> = {};
  for (let i = 0; i < list.length; i++) {
    try {
      const kv = asObject(list[i]);
      setAttribute(out, stringField(kv, 'key', 'key'), keyValueValue(kv, 0));
    } catch (thrown) {
      throw withSegment(thrown, `attributes[${i}]`);
    }
  }
  return out;
}

function keyValueValue(kv: JsonObject, depth: number): AttributeValue {
  const value = get(kv, 'value', 'value');
  if (value === undefined) return null;
  try {
    return decodeAnyValue(asObject(value), depth + 1);
  } catch (thrown) {
    throw withSegment(thrown, 'value');
  }
}

function decodeAnyValue(any: JsonObject, depth: number): AttributeValue {
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw new DecodeFailure('NESTING_TOO_DEEP', `AnyValue nests deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  }
  let v = get(any, 'stringValue', 'string_value');
  if (v !== undefined) return withPath(v, 'stringValue', parseString);
  v = get(any, 'boolValue', 'bool_value');
  if (v !== undefined) return withPath(v, 'boolValue', parseBool);
  v = get(any, 'intValue', 'int_value');
  if (v !== undefined) return withPath(v, 'intValue', parseIntValue);
  v = get(any, 'doubleValue', 'double_value');
  if (v !== undefined) return withPath(v, 'doubleValue', parseDouble);
  v = get(any, 'bytesValue', 'bytes_value');
  if (v !== undefined) return withPath(v, 'bytesValue', parseBase64);
  v = get(any, 'arrayValue', 'array_value');
  if (v !== undefined) {
    let list: readonly unknown[];
    try {
      list = arrayField(asObject(v), 'values', 'values');
    } catch (thrown) {
      throw withSegment(thrown, 'arrayValue');
    }
    const out: AttributeValue[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      try {
        out[i] = decodeAnyValue(asObject(list[i]), depth + 1);
      } catch (thrown) {
        throw withSegment(thrown, `arrayValue.values[${i}]`);
      }
    }
    return out;
  }
  v = get(any, 'kvlistValue', 'kvlist_value');
  if (v !== undefined) {
    let list: readonly unknown[];
    try {
      list = arrayField(asObject(v), 'values', 'values');
    } catch (thrown) {
      throw withSegment(thrown, 'kvlistValue');
    }
    const keys: string[] = new Array(list.length);
    const values: AttributeValue[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) {
      try {
        const kv = asObject(list[i]);
        keys[i] = stringField(kv, 'key', 'key');
        values[i] = keyValueValue(kv, depth);
      } catch (thrown) {
        throw withSegment(thrown, `kvlistValue.values[${i}]`);
      }
    }
    return sortedObject(keys, values);
  }
  return null;
}

// ---- field access and scalar parsing ----

/** A field by its JSON name or, failing that, its proto name; `null` counts as absent. */
function get(object: JsonObject, camel: string, snake: string): unknown {
  let value = object[camel];
  if (value === undefined || value === null) value = camel === snake ? undefined : object[snake];
  return value === null ? undefined : value;
}

function withPath<T>(value: unknown, name: string, parse: (value: unknown) => T): T {
  try {
    return parse(value);
  } catch (thrown) {
    throw withSegment(thrown, name);
  }
}

function field<T>(
  object: JsonObject,
  camel: string,
  snake: string,
  parse: (value: unknown) => T,
  absent: T,
): T {
  const value = get(object, camel, snake);
  if (value === undefined) return absent;
  return withPath(value, camel, parse);
}

function asObject(value: unknown): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`expected an object, got ${describe(value)}`);
  }
  return value as JsonObject;
}

function parseArray(value: unknown): readonly unknown[] {
  if (!Array.isArray(value)) throw invalid(`expected an array, got ${describe(value)}`);
  return value;
}

const NO_ITEMS: readonly unknown[] = Object.freeze([]);

function arrayField(object: JsonObject, camel: string, snake: string): readonly unknown[] {
  return field(object, camel, snake, parseArray, NO_ITEMS);
}

const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * A JSON string may spell an unpaired surrogate (`"\ud800"`), which no UTF-8 string holds: refused like
 * invalid UTF-8 in protobuf. Storage would fail the whole insert on it, other tenants' rows included.
 */
function parseString(value: unknown): string {
  if (typeof value !== 'string') throw invalid(`expected a string, got ${describe(value)}`);
  if (!isWellFormed.call(value)) {
    throw new DecodeFailure(
      'INVALID_UTF8',
      'a string holds an unpaired UTF-16 surrogate (a lone \\uD800-\\uDFFF escape), which is not valid UTF-8',
    );
  }
  return value;
}

function stringField(object: JsonObject, camel: string, snake: string): string {
  return field(object, camel, snake, parseString, '');
}

function parseBool(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(`expected true or false, got ${describe(value)}`);
  return value;
}

function boolField(object: JsonObject, camel: string, snake: string): boolean {
  return field(object, camel, snake, parseBool, false);
}

function parseDouble(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    if (value === 'NaN') return Number.NaN;
    if (value === 'Infinity') return Number.POSITIVE_INFINITY;
    if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
    const n = value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isNaN(n)) return n;
  }
  throw invalid(`expected a number, got ${describe(value)}`);
}

function optionalDoubleField(object: JsonObject, camel: string, snake: string): number | undefined {
  return field<number | undefined>(object, camel, snake, parseDouble, undefined);
}

function doubleArrayField(object: JsonObject, camel: string, snake: string): number[] {
  const list = arrayField(object, camel, snake);
  const out: number[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = withPath(list[i], `${camel}[${i}]`, parseDouble);
  return out;
}

/** An integer given as a JSON number or a decimal string, as a bigint within [min, max]. */
function parseBigInt(value: unknown, min: bigint, max: bigint): bigint {
  let n: bigint | undefined;
  if (typeof value === 'number') {
    if (Number.isInteger(value)) n = BigInt(value);
  } else if (typeof value === 'string' && (min < 0n ? SIGNED_DIGITS : UNSIGNED_DIGITS).test(value)) {
    n = BigInt(value);
  }
  if (n === undefined) {
    throw invalid(`expected ${min < 0n ? 'an' : 'a non-negative'} integer, got ${describe(value)}`);
  }
  if (n < min || n > max) throw invalid(`${value} is out of range`);
  return n;
}

function parseUint64(value: unknown): bigint {
  return parseBigInt(value, 0n, MAX_UINT64);
}

/** fixed64/uint64 counts: exact number, or UNSAFE_COUNT above 2^53 - 1. */
function parseCount(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const n = parseUint64(value);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : UNSAFE_COUNT;
}

function countField(object: JsonObject, camel: string, snake: string): number {
  return field(object, camel, snake, parseCount, 0);
}

function countArrayField(object: JsonObject, camel: string, snake: string): number[] {
  const list = arrayField(object, camel, snake);
  const out: number[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = withPath(list[i], `${camel}[${i}]`, parseCount);
  return out;
}

/** sfixed64 `asInt` as the nearest number. */
function parseIntNumber(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  return Number(parseBigInt(value, MIN_INT64, MAX_INT64));
}

/** `AnyValue.intValue`: a number when safe, otherwise the exact decimal string. */
function parseIntValue(value: unknown): number | string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  const n = parseBigInt(value, MIN_INT64, MAX_INT64);
  const asNumber = Number(n);
  return Number.isSafeInteger(asNumber) ? asNumber : n.toString();
}

function int32Field(object: JsonObject, camel: string, snake: string): number {
  return field(object, camel, snake, (v) => Number(parseBigInt(v, -0x8000_0000n, 0x7fff_ffffn)), 0);
}

function uint32Field(object: JsonObject, camel: string, snake: string): number {
  return field(object, camel, snake, (v) => Number(parseBigInt(v, 0n, 0xffff_ffffn)), 0);
}

function enumField(object: JsonObject, camel: string, snake: string): number {
  return field(
    object,
    camel,
    snake,
    (value) => {
      if (typeof value === 'string' && !SIGNED_DIGITS.test(value)) {
        const known = TEMPORALITY_NAMES.get(value);
        if (known === undefined) throw invalid(`unknown enum value ${describe(value)}`);
        return known;
      }
      return Number(parseBigInt(value, -0x8000_0000n, 0x7fff_ffffn));
    },
    0,
  );
}

function parseBase64(value: unknown): string {
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw invalid(`expected base64-encoded bytes, got ${describe(value)}`);
  }
  // Re-encode so both base64 alphabets and missing padding yield the same canonical text as protobuf.
  return Buffer.from(value, 'base64').toString('base64');
}

function startTimeField(d: JsonDecoder, point: JsonObject): bigint {
  const value = get(point, 'startTimeUnixNano', 'start_time_unix_nano');
  if (value === undefined) return 0n;
  if (typeof value === 'string' && value === d.lastStartText) return d.lastStart;
  const n = withPath(value, 'startTimeUnixNano', parseUint64);
  if (typeof value === 'string') {
    d.lastStartText = value;
    d.lastStart = n;
  }
  return n;
}

function timeField(d: JsonDecoder, point: JsonObject): bigint {
  const value = get(point, 'timeUnixNano', 'time_unix_nano');
  if (value === undefined) return 0n;
  if (typeof value === 'string' && value === d.lastTimeText) return d.lastTime;
  const n = withPath(value, 'timeUnixNano', parseUint64);
  if (typeof value === 'string') {
    d.lastTimeText = value;
    d.lastTime = n;
  }
  return n;
}

function invalid(detail: string): DecodeFailure {
  return new DecodeFailure('INVALID_VALUE', detail);
}

/** A short rendering of an offending JSON value for messages. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
