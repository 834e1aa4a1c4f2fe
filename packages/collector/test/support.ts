/**
 * Test support for the collector over real sockets and real chDB storage: an independent OTLP encoder
 * (protobufjs with an inline schema, and proto3 JSON), a raw HTTP client that reads early answers (413 while
 * the body is still being sent), and storage read-back through the exporter's tenant-scoped reader.
 */
import { mkdtempSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageReader } from '@tallyhouse/exporter-clickhouse';
import type { PointKind, SeriesPoint } from '@tallyhouse/model';
import protobuf from 'protobufjs';
import { vi } from 'vitest';
import { Collector, type CollectorOptions } from '../src/index.ts';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tallyhouse-collector-${prefix}-`));
}

// ---- OTLP encoding, independent of the collector's own code ----

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
  return Buffer.from(RequestType.encode(RequestType.fromObject(body)).finish());
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

export type AnyValueJson =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValueJson[] } }
  | { kvlistValue: { values: { key: string; value: AnyValueJson }[] } };

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

export interface NumberPointSpec {
  value: number;
  attributes?: Record<string, string | number | boolean>;
  start?: bigint;
  time?: bigint;
}

export function numberPoint(spec: NumberPointSpec) {
  return {
    attributes: attributes(spec.attributes ?? {}),
    startTimeUnixNano: String(spec.start ?? NOW_NS - 10_000_000_000n),
    timeUnixNano: String(spec.time ?? NOW_NS),
    asDouble: spec.value,
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

// ---- HTTP ----

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpCall {
  method?: string;
  path?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** Send the body in chunks of this size without a Content-Length (Transfer-Encoding: chunked). */
  chunkSize?: number;
}

/**
 * One request on a fresh connection. Resolves with the answer even when the server answers before the body
 * is fully sent and then closes the connection (the 413 case).
 */
export function http(port: number, call: HttpCall = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = typeof call.body === 'string' ? Buffer.from(call.body) : call.body;
    const headers: Record<string, string | number> = { ...call.headers };
    if (body !== undefined && call.chunkSize === undefined) headers['content-length'] = body.length;
    let answered = false;
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: call.method ?? 'POST',
        path: call.path ?? '/v1/metrics',
        headers,
        agent: false,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (body === undefined) {
      req.end();
    } else if (call.chunkSize === undefined) {
      req.end(body);
    } else {
      const size = call.chunkSize;
      let offset = 0;
      const pump = () => {
        while (offset < body.length && !req.destroyed) {
          const chunk = body.subarray(offset, offset + size);
          offset += size;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!req.destroyed) req.end();
      };
      pump();
    }
  });
}

/** Posts an OTLP request object in the given encoding. */
export function postMetrics(
  port: number,
  body: OtlpRequest | Buffer,
  encoding: Encoding,
  headers: Record<string, string | number> = {},
): Promise<HttpAnswer> {
  return http(port, {
    headers: { 'content-type': CONTENT_TYPE[encoding], ...headers },
    body: Buffer.isBuffer(body) ? body : encodeRequest(body, encoding),
  });
}

/** Sends raw bytes on a socket (header bytes Node's client refuses to send) and returns the raw answer. */
export function rawHttp(port: number, bytes: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    // Write without half-closing: Node's server drops a connection whose client ended before a delayed
    // answer (the write-ahead log's fsync delays it). Requests send `connection: close` to end the exchange.
    socket.write(bytes);
  });
}

// ---- collector and storage ----

/** A started collector on a free port of 127.0.0.1, logging nothing. */
export async function startCollector(
  dataDir: string,
  options: CollectorOptions = {},
): Promise<{ collector: Collector; port: number }> {
  const collector = new Collector({
    ...options,
    env: { TALLYHOUSE_DATA_DIR: dataDir, TALLYHOUSE_LOG_LEVEL: 'silent', ...options.env },
    collector: { port: 0, ...options.collector },
  });
  const address = await collector.start();
  return { collector, port: address.port };
}

const KINDS: readonly PointKind[] = ['sum', 'gauge', 'histogram', 'exponentialHistogram'];

/** Every stored row of `tenant`, all kinds, after flushing what the collector holds. */
export async function storedPoints(collector: Collector, tenant: string): Promise<SeriesPoint[]> {
  await collector.processor.forceFlush();
  const reader = await collector.exporter.reader();
  const out: SeriesPoint[] = [];
  for (const kind of KINDS) out.push(...(await reader.points(tenant, kind)));
  return out;
}

/** Rows written to all tables so far, after flushing what the collector holds. */
export async function totalRowsWritten(collector: Collector): Promise<number> {
  await collector.processor.forceFlush();
  return Object.values(collector.exporter.stats().rowsWritten).reduce((a, b) => a + b, 0);
}

/**
 * Holds every `UsageReader.total` read (the real one runs after `release()`), so a test can have reads in flight
 * at once: single flight, the concurrency cap. `spy.mockRestore()` ends it.
 */
export function holdUsageTotals(): { spy: { mockRestore(): void }; release: () => void } {
  const original = UsageReader.prototype.total;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const spy = vi.spyOn(UsageReader.prototype, 'total').mockImplementation(async function (
    this: UsageReader,
    ...args: Parameters<UsageReader['total']>
  ) {
    await gate;
    return original.apply(this, args);
  });
  return { spy, release };
}
