/**
 * OTLP requests for tests, built and encoded independently of the collector's own code: protobuf through
 * protobufjs with an inline schema, JSON as proto3 JSON; and the answers' `google.rpc.Status` and
 * `ExportMetricsServiceResponse` read back the same way.
 */
import protobuf from 'protobufjs';

const OTLP_SCHEMA = `
syntax = "proto3";
package t;
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; Summary summary = 11; }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message Summary { repeated SummaryDataPoint data_points = 1; }
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  repeated Exemplar exemplars = 5;
}
message Exemplar {
  repeated KeyValue filtered_attributes = 7; fixed64 time_unix_nano = 2;
  oneof value { double as_double = 3; sfixed64 as_int = 6; }
  bytes span_id = 4; bytes trace_id = 5;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7;
}
message SummaryDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; double sum = 5; repeated ValueAtQuantile quantile_values = 6;
}
message ValueAtQuantile { double quantile = 1; double value = 2; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message Status { int32 code = 1; string message = 2; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
`;

const root = protobuf.parse(OTLP_SCHEMA, { keepCase: false }).root;
const RequestType = root.lookupType('t.ExportMetricsServiceRequest');
const StatusType = root.lookupType('t.Status');
const ResponseType = root.lookupType('t.ExportMetricsServiceResponse');

export type Encoding = 'protobuf' | 'json';
export const CONTENT_TYPE: Record<Encoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** An OTLP/JSON-shaped request object (lowerCamelCase, 64-bit values as strings). */
export type OtlpRequest = { resourceMetrics: object[] };

/** Encodes an OTLP/JSON-shaped object as protobuf (via protobufjs) or proto3 JSON (NaN/±Inf as strings). */
export function encodeRequest(body: OtlpRequest, encoding: Encoding): Buffer {
  if (encoding === 'json') {
    return Buffer.from(
      JSON.stringify(body, (_key, value: unknown) =>
        typeof value === 'number' && !Number.isFinite(value) ? String(value) : value,
      ),
    );
  }
  // fromObject takes 64-bit values as decimal strings (verify() would insist on numbers).
  return Buffer.from(RequestType.encode(RequestType.fromObject(withIdBytes(body) as OtlpRequest)).finish());
}

/** OTLP/JSON spells span and trace ids in hex, where protobufjs reads a `bytes` string as base64: the bytes. */
function withIdBytes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withIdBytes);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      (key === 'spanId' || key === 'traceId') && typeof field === 'string'
        ? Buffer.from(field, 'hex')
        : withIdBytes(field),
    ]),
  );
}

export interface RpcStatus {
  code: number;
  message: string;
}

/** Reads a `google.rpc.Status` body in the given encoding; fails the test when it is not one. */
export function decodeStatus(body: Buffer, encoding: Encoding): RpcStatus {
  if (encoding === 'json') {
    const parsed = JSON.parse(body.toString('utf8')) as { code?: unknown; message?: unknown };
    if (typeof parsed !== 'object' || parsed === null) throw new Error('status body is not an object');
    return { code: Number(parsed.code ?? 0), message: String(parsed.message ?? '') };
  }
  const status = StatusType.toObject(StatusType.decode(body), { defaults: true }) as RpcStatus;
  return { code: status.code, message: status.message };
}

export interface PartialSuccess {
  rejectedDataPoints: number;
  errorMessage: string;
}

/** Reads an `ExportMetricsServiceResponse`; `undefined` partial success means full success. */
export function decodeExportResponse(body: Buffer, encoding: Encoding): PartialSuccess | undefined {
  let partial: { rejectedDataPoints?: unknown; errorMessage?: unknown } | undefined;
  if (encoding === 'json') {
    partial = (JSON.parse(body.toString('utf8')) as { partialSuccess?: typeof partial }).partialSuccess;
  } else {
    partial = (
      ResponseType.toObject(ResponseType.decode(body), { longs: String }) as {
        partialSuccess?: typeof partial;
      }
    ).partialSuccess;
  }
  if (partial === undefined) return undefined;
  return {
    rejectedDataPoints: Number(partial.rejectedDataPoints ?? 0),
    errorMessage: String(partial.errorMessage ?? ''),
  };
}

// ---- request builders ----

export const NOW_NS = BigInt(Date.now()) * 1_000_000n;

export function attributes(values: Record<string, string | number | boolean>) {
  return Object.entries(values).map(([key, value]) => ({
    key,
    value:
      typeof value === 'string'
        ? { stringValue: value }
        : typeof value === 'boolean'
          ? { boolValue: value }
          : Number.isInteger(value)
            ? { intValue: String(value) }
            : { doubleValue: value },
  }));
}

export interface ExemplarSpec {
  /** Absent: neither `asDouble` nor `asInt`. */
  value?: number;
  /** Default: the point's time. */
  time?: bigint;
  /** Hex, as OTLP/JSON writes ids (protobuf gets the bytes); absent when not given. */
  spanId?: string;
  traceId?: string;
  filteredAttributes?: Record<string, string | number | boolean>;
}

export interface NumberPointSpec {
  value: number;
  attributes?: Record<string, string | number | boolean>;
  start?: bigint;
  time?: bigint;
  exemplars?: ExemplarSpec[];
}

export function numberPoint(spec: NumberPointSpec) {
  const time = spec.time ?? NOW_NS;
  return {
    attributes: attributes(spec.attributes ?? {}),
    startTimeUnixNano: String(spec.start ?? NOW_NS - 10_000_000_000n),
    timeUnixNano: String(time),
    asDouble: spec.value,
    ...(spec.exemplars === undefined ? {} : { exemplars: spec.exemplars.map((e) => exemplar(e, time)) }),
  };
}

function exemplar(spec: ExemplarSpec, pointTime: bigint) {
  return {
    filteredAttributes: attributes(spec.filteredAttributes ?? {}),
    timeUnixNano: String(spec.time ?? pointTime),
    ...(spec.value === undefined ? {} : { asDouble: spec.value }),
    ...(spec.spanId === undefined ? {} : { spanId: spec.spanId }),
    ...(spec.traceId === undefined ? {} : { traceId: spec.traceId }),
  };
}

export const DELTA = 1;
export const CUMULATIVE = 2;

export function sumMetric(
  name: string,
  points: NumberPointSpec[],
  options: { temporality?: number; monotonic?: boolean; unit?: string } = {},
) {
  return {
    name,
    unit: options.unit ?? '{request}',
    sum: {
      dataPoints: points.map(numberPoint),
      aggregationTemporality: options.temporality ?? DELTA,
      isMonotonic: options.monotonic ?? true,
    },
  };
}

export function gaugeMetric(name: string, points: NumberPointSpec[]) {
  return { name, unit: '1', gauge: { dataPoints: points.map(numberPoint) } };
}

/** One resource with one scope holding `metrics`. */
export function otlpRequest(
  metrics: object[],
  resource: Record<string, string | number | boolean> = { 'service.name': 'checkout' },
): OtlpRequest {
  return {
    resourceMetrics: [
      {
        resource: { attributes: attributes(resource) },
        scopeMetrics: [{ scope: { name: 'collector-test', version: '1.0.0' }, metrics }],
      },
    ],
  };
}

/** The simplest valid request: one delta sum point. */
export function oneSum(name: string, value: number, resource?: Record<string, string>): OtlpRequest {
  return otlpRequest([sumMetric(name, [{ value, attributes: { route: '/pay' } }])], resource);
}
