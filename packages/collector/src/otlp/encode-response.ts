/**
 * OTLP/HTTP response bodies, in the encoding of the request:
 * - `ExportMetricsServiceResponse` (collector/metrics/v1): `partial_success` = 1, holding
 *   `ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }`;
 * - `google.rpc.Status` for failures: `int32 code = 1; string message = 2; repeated Any details = 3`, where
 *   `details` holds a `google.rpc.RetryInfo { Duration retry_delay = 1 }` only when a retry delay is given (the
 *   OTLP/gRPC push-back; OTLP/HTTP says it with `Retry-After` instead).
 * JSON follows the proto3 mapping: lowerCamelCase names, int64 as a decimal string, int32 as a number,
 * default values omitted.
 */

export type OtlpEncoding = 'protobuf' | 'json';

export interface ExportMetricsResponseContent {
  /** Points the server did not accept; 0 for full success. */
  readonly rejectedDataPoints: number;
  /** Why; with `rejectedDataPoints = 0` a non-empty message is a warning, as OTLP allows. */
  readonly errorMessage?: string;
}

export interface RpcStatusContent {
  /** A `google.rpc.Code` (e.g. 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE). */
  readonly code: number;
  readonly message: string;
  /** Sent as a `google.rpc.RetryInfo` detail: the client may retry after this long. */
  readonly retryDelaySeconds?: number;
}

const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** `google.rpc.Code` values the receiver uses. */
export const RpcCode = Object.freeze({
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  UNAUTHENTICATED: 16,
  UNAVAILABLE: 14,
  INTERNAL: 13,
} as const);

const textEncoder = new TextEncoder();

/**
 * Full success (nothing rejected, no message) is the empty message: zero bytes, or `{}` in JSON.
 * Otherwise `partial_success` carries the count and message.
 */
export function encodeExportMetricsServiceResponse(
  content: ExportMetricsResponseContent,
  encoding: OtlpEncoding,
): Uint8Array {
  const rejected = content.rejectedDataPoints;
  if (!Number.isSafeInteger(rejected) || rejected < 0) {
    throw new RangeError(`rejectedDataPoints must be a non-negative safe integer, got ${rejected}`);
  }
  const message = content.errorMessage ?? '';
  const partial = rejected > 0 || message !== '';
  if (encoding === 'json') {
    if (!partial) return textEncoder.encode('{}');
    const partialSuccess: { rejectedDataPoints?: string; errorMessage?: string } = {};
    if (rejected > 0) partialSuccess.rejectedDataPoints = String(rejected);
    if (message !== '') partialSuccess.errorMessage = message;
    return textEncoder.encode(JSON.stringify({ partialSuccess }));
  }
  if (!partial) return new Uint8Array(0);
  const inner = new ProtoWriter();
  if (rejected > 0) inner.varintField(1, rejected);
  if (message !== '') inner.bytesField(2, textEncoder.encode(message));
  const outer = new ProtoWriter();
  outer.bytesField(1, inner.finish());
  return outer.finish();
}

/** A `google.rpc.Status` error body. */
export function encodeRpcStatus(status: RpcStatusContent, encoding: OtlpEncoding): Uint8Array {
  if (!Number.isInteger(status.code) || status.code < -0x8000_0000 || status.code > 0x7fff_ffff) {
    throw new RangeError(`code must be an int32, got ${status.code}`);
  }
  const delay = status.retryDelaySeconds;
  if (delay !== undefined && (!Number.isSafeInteger(delay) || delay < 0)) {
    throw new RangeError(`retryDelaySeconds must be a non-negative safe integer, got ${delay}`);
  }
  if (encoding === 'json') {
    const body: { code?: number; message?: string; details?: object[] } = {};
    if (status.code !== 0) body.code = status.code;
    if (status.message !== '') body.message = status.message;
    if (delay !== undefined) body.details = [{ '@type': RETRY_INFO_TYPE_URL, retryDelay: `${delay}s` }];
    return textEncoder.encode(JSON.stringify(body));
  }
  const writer = new ProtoWriter();
  if (status.code !== 0) writer.varintField(1, status.code);
  if (status.message !== '') writer.bytesField(2, textEncoder.encode(status.message));
  if (delay !== undefined) {
    const duration = new ProtoWriter();
    if (delay > 0) duration.varintField(1, delay);
    const retryInfo = new ProtoWriter();
    retryInfo.bytesField(1, duration.finish());
    const any = new ProtoWriter();
    any.bytesField(1, textEncoder.encode(RETRY_INFO_TYPE_URL));
    any.bytesField(2, retryInfo.finish());
    writer.bytesField(3, any.finish());
  }
  return writer.finish();
}

/** Just enough protobuf writing for these few small messages. */
class ProtoWriter {
  private readonly bytes: number[] = [];

  /** A varint field; negative values are written as 64-bit two's complement, as int32/int64 require. */
  varintField(field: number, value: number): void {
    this.varint(field * 8);
    if (value >= 0) this.varint(value);
    else {
      let v = BigInt.asUintN(64, BigInt(value));
      while (v >= 0x80n) {
        this.bytes.push(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      this.bytes.push(Number(v));
    }
  }

  bytesField(field: number, value: Uint8Array): void {
    this.varint(field * 8 + 2);
    this.varint(value.length);
    for (const b of value) this.bytes.push(b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  /** Non-negative safe integers only. */
  private varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }
}
