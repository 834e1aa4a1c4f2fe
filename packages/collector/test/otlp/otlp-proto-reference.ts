/**
 * An independent reading of OTLP protobuf for tests: protobufjs with the metrics/v1 messages written out from
 * the OTLP .proto files (field numbers and types as published), and a conversion of what protobufjs decodes
 * into the internal model, following README-otlp's mapping decisions. protobufjs merges a repeated singular
 * message field and clears the other members of a oneof, as the protobuf spec says.
 */
import type {
  Attributes,
  AttributeValue,
  Exemplar,
  ExponentialBuckets,
  InputBatch,
  InputMetric,
  InputPoint,
  InputResourceMetrics,
  InputScopeMetrics,
} from '@tallyhouse/model';
import protobuf from 'protobufjs';

const OTLP_METRICS_PROTO = `
syntax = "proto3";
package otlp;
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4;
}
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data {
    Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9;
    ExponentialHistogram exponential_histogram = 10; Summary summary = 11;
  }
  repeated KeyValue metadata = 12;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum {
  repeated NumberDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2;
  bool is_monotonic = 3;
}
message Histogram { repeated HistogramDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; }
message ExponentialHistogram {
  repeated ExponentialHistogramDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2;
}
message Summary { repeated SummaryDataPoint data_points = 1; }
enum AggregationTemporality {
  AGGREGATION_TEMPORALITY_UNSPECIFIED = 0; AGGREGATION_TEMPORALITY_DELTA = 1;
  AGGREGATION_TEMPORALITY_CUMULATIVE = 2;
}
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  repeated Exemplar exemplars = 5; uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7; repeated Exemplar exemplars = 8; uint32 flags = 10;
  optional double min = 11; optional double max = 12;
}
message ExponentialHistogramDataPoint {
  repeated KeyValue attributes = 1; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; sint32 scale = 6; fixed64 zero_count = 7;
  Buckets positive = 8; Buckets negative = 9; uint32 flags = 10; repeated Exemplar exemplars = 11;
  optional double min = 12; optional double max = 13; double zero_threshold = 14;
  message Buckets { sint32 offset = 1; repeated uint64 bucket_counts = 2; }
}
message SummaryDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; double sum = 5; repeated ValueAtQuantile quantile_values = 6; uint32 flags = 8;
  message ValueAtQuantile { double quantile = 1; double value = 2; }
}
message Exemplar {
  repeated KeyValue filtered_attributes = 7; fixed64 time_unix_nano = 2;
  oneof value { double as_double = 3; sfixed64 as_int = 6; }
  bytes span_id = 4; bytes trace_id = 5;
}
`;

export const OTLP_ROOT = protobuf.parse(OTLP_METRICS_PROTO, { keepCase: false }).root;
export const RequestType = OTLP_ROOT.lookupType('otlp.ExportMetricsServiceRequest');

/**
 * protobufjs' own encoding of an OTLP/JSON-shaped request object (64-bit values as decimal strings). OTLP/JSON
 * spells trace and span ids in hex where proto3's JSON mapping (protobufjs' `fromObject`) reads base64: they are
 * converted first.
 */
export function encodeWithProtobufjs(request: object): Uint8Array {
  return RequestType.encode(RequestType.fromObject(withBase64Ids(request) as object)).finish();
}

function withBase64Ids(value: unknown, key = ''): unknown {
  if ((key === 'spanId' || key === 'traceId') && typeof value === 'string') {
    return Buffer.from(value, 'hex').toString('base64');
  }
  if (Array.isArray(value)) return value.map((element) => withBase64Ids(element));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([name, field]) => [name, withBase64Ids(field, name)]));
}

/** The decoded message as plain data: 64-bit integers as decimal strings, bytes as base64, enums as numbers. */
export function decodeWithProtobufjs(bytes: Uint8Array): Record<string, unknown> {
  return RequestType.toObject(RequestType.decode(bytes), {
    longs: String,
    bytes: String,
    enums: Number,
    defaults: false,
  });
}

// ---- protobufjs' reading → the internal model ----

type Obj = { readonly [key: string]: unknown };

const list = (value: unknown): readonly Obj[] => (Array.isArray(value) ? (value as Obj[]) : []);
const int = (value: unknown): number => (value === undefined ? 0 : Number(value));

function anyValue(value: Obj | undefined): AttributeValue {
  if (value === undefined) return null;
  if (value.stringValue !== undefined) return value.stringValue as string;
  if (value.boolValue !== undefined) return value.boolValue as boolean;
  if (value.intValue !== undefined) {
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return value.doubleValue as number;
  if (value.bytesValue !== undefined) return value.bytesValue as string;
  if (value.arrayValue !== undefined) return list((value.arrayValue as Obj).values).map(anyValue);
  if (value.kvlistValue !== undefined) {
    const entries = attributes((value.kvlistValue as Obj).values);
    const sorted: Record<string, AttributeValue> = {};
    for (const key of Object.keys(entries).sort()) define(sorted, key, entries[key]!);
    return sorted;
  }
  return null;
}

function define(target: Record<string, AttributeValue>, key: string, value: AttributeValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A KeyValue list as an object; the last of equal keys wins. */
function attributes(keyValues: unknown): Attributes {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list(keyValues)) define(out, (kv.key as string) ?? '', anyValue(kv.value as Obj));
  return out;
}

const KINDS = [
  ['gauge', 'gauge'],
  ['sum', 'sum'],
  ['histogram', 'histogram'],
  ['exponentialHistogram', 'exponentialHistogram'],
  ['summary', 'summary'],
] as const;

/** Base64 bytes (as protobufjs gives them) as the lowercase hex the model holds; `''` for none or all zeros. */
function hexId(base64: unknown): string {
  const hex = Buffer.from((base64 as string | undefined) ?? '', 'base64').toString('hex');
  return /^0*$/.test(hex) ? '' : hex;
}

/** The exemplars the decoders keep: the 10 most recent by time (stable on ties), oldest first. */
function exemplarsOf(point: Obj): Exemplar[] | undefined {
  const all = list(point.exemplars).map(
    (e): Exemplar => ({
      filteredAttributes: attributes(e.filteredAttributes),
      timeUnixNano: BigInt((e.timeUnixNano as string) ?? 0),
      value: e.asInt !== undefined ? Number(e.asInt) : (e.asDouble as number),
      spanId: hexId(e.spanId),
      traceId: hexId(e.traceId),
    }),
  );
  if (all.length === 0) return undefined;
  const sorted = all
    .map((exemplar, index) => ({ exemplar, index }))
    .sort((a, b) =>
      a.exemplar.timeUnixNano === b.exemplar.timeUnixNano
        ? a.index - b.index
        : a.exemplar.timeUnixNano < b.exemplar.timeUnixNano
          ? -1
          : 1,
    )
    .map(({ exemplar }) => exemplar);
  return sorted.slice(Math.max(0, sorted.length - 10));
}

function pointOf(kind: InputMetric['metric']['kind'], point: Obj): InputPoint {
  const exemplars = exemplarsOf(point);
  const common = {
    attributes: attributes(point.attributes),
    startTimeUnixNano: BigInt((point.startTimeUnixNano as string) ?? 0),
    timeUnixNano: BigInt((point.timeUnixNano as string) ?? 0),
    ...(exemplars === undefined ? {} : { exemplars }),
  };
  if (kind === 'summary') {
    const quantileValues = list(point.quantileValues).map((q) => ({
      quantile: (q.quantile as number | undefined) ?? 0,
      value: (q.value as number | undefined) ?? 0,
    }));
    return {
      ...common,
      value: { count: int(point.count), sum: (point.sum as number | undefined) ?? 0, quantileValues },
    };
  }
  if (kind === 'gauge' || kind === 'sum') {
    const value = point.asInt !== undefined ? Number(point.asInt) : (point.asDouble as number);
    return { ...common, value: { value } };
  }
  const count = int(point.count);
  const sum = (point.sum as number | undefined) ?? 0;
  const min = point.min as number | undefined;
  const max = point.max as number | undefined;
  if (kind === 'histogram') {
    const bounds = (point.explicitBounds as number[] | undefined) ?? [];
    let bucketCounts = ((point.bucketCounts as string[] | undefined) ?? []).map(Number);
    if (bounds.length === 0 && bucketCounts.length === 0) bucketCounts = [count];
    return { ...common, value: { count, sum, bounds, bucketCounts, min, max } };
  }
  const buckets = (side: unknown): ExponentialBuckets => ({
    offset: int((side as Obj | undefined)?.offset),
    bucketCounts: ((side as Obj | undefined)?.bucketCounts as string[] | undefined)?.map(Number) ?? [],
  });
  return {
    ...common,
    value: {
      count,
      sum,
      scale: int(point.scale),
      zeroCount: int(point.zeroCount),
      positive: buckets(point.positive),
      negative: buckets(point.negative),
      min,
      max,
    },
  };
}

/**
 * What a request decodes to by protobufjs' reading, for requests whose points are all acceptable (the
 * point rules are not modelled: a point that would be rejected makes this throw).
 */
export function referenceBatch(bytes: Uint8Array): InputBatch {
  const request = decodeWithProtobufjs(bytes);
  const resourceMetrics: InputResourceMetrics[] = [];
  for (const rm of list(request.resourceMetrics)) {
    const scopeMetrics: InputScopeMetrics[] = [];
    for (const sm of list(rm.scopeMetrics)) {
      const metrics: InputMetric[] = [];
      for (const metric of list(sm.metrics)) {
        const found = KINDS.find(([, field]) => metric[field] !== undefined);
        if (found === undefined) continue;
        const kind = found[0];
        const data = metric[found[1]] as Obj;
        const points = list(data.dataPoints).map((point) => pointOf(kind, point));
        if (points.length === 0) continue;
        const code = int(data.aggregationTemporality);
        const readings = kind === 'gauge' || kind === 'summary';
        if (!readings && code !== 1 && code !== 2) throw new Error(`temporality ${code} is rejected`);
        metrics.push({
          metric: {
            name: (metric.name as string) ?? '',
            description: (metric.description as string) ?? '',
            unit: (metric.unit as string) ?? '',
            kind,
            monotonic: kind === 'sum' && data.isMonotonic === true,
          },
          temporality: !readings && code === 1 ? 'delta' : 'cumulative',
          points,
        } as InputMetric);
      }
      if (metrics.length === 0) continue;
      const scope = (sm.scope as Obj | undefined) ?? {};
      const scopeAttributes = attributes(scope.attributes);
      const dropped = int(scope.droppedAttributesCount);
      const scopeSchemaUrl = (sm.schemaUrl as string | undefined) ?? '';
      scopeMetrics.push({
        scope: {
          name: (scope.name as string) ?? '',
          version: (scope.version as string) ?? '',
          ...(Object.keys(scopeAttributes).length === 0 ? {} : { attributes: scopeAttributes }),
          ...(dropped === 0 ? {} : { droppedAttributesCount: dropped }),
          ...(scopeSchemaUrl === '' ? {} : { schemaUrl: scopeSchemaUrl }),
        },
        metrics,
      });
    }
    if (scopeMetrics.length === 0) continue;
    const schemaUrl = (rm.schemaUrl as string | undefined) ?? '';
    resourceMetrics.push({
      resource: attributes((rm.resource as Obj | undefined)?.attributes),
      ...(schemaUrl === '' ? {} : { schemaUrl }),
      scopeMetrics,
    });
  }
  return { resourceMetrics };
}
