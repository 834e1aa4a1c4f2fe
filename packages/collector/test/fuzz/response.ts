/**
 * Reads the collector's answers without its code: `ExportMetricsServiceResponse` (200) and `google.rpc.Status`
 * (errors), in protobuf or JSON. A body that is neither is a finding of its own.
 */
import type { Encoding } from './reference.ts';

function readVarint(bytes: Uint8Array, at: { pos: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (at.pos >= bytes.length) throw new Error('truncated varint');
    const b = bytes[at.pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result;
    shift += 7n;
    if (shift > 63n) throw new Error('varint too long');
  }
}

/** Top-level fields of a protobuf message: number → varint value or bytes. */
function fields(bytes: Uint8Array): Map<number, bigint | Uint8Array> {
  const out = new Map<number, bigint | Uint8Array>();
  const at = { pos: 0 };
  while (at.pos < bytes.length) {
    const tag = readVarint(bytes, at);
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) out.set(no, readVarint(bytes, at));
    else if (wire === 2) {
      const length = Number(readVarint(bytes, at));
      if (at.pos + length > bytes.length) throw new Error('truncated field');
      out.set(no, bytes.subarray(at.pos, at.pos + length));
      at.pos += length;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

export interface ExportResponse {
  readonly rejected: number;
  readonly message: string;
}

/** The `partial_success` of a 200; throws when the body is not an `ExportMetricsServiceResponse`. */
export function parseExportResponse(body: Uint8Array, encoding: Encoding): ExportResponse {
  if (encoding === 'json') {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as {
      partialSuccess?: { rejectedDataPoints?: string | number; errorMessage?: string };
    };
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
    const partial = parsed.partialSuccess;
    return { rejected: Number(partial?.rejectedDataPoints ?? 0), message: partial?.errorMessage ?? '' };
  }
  const partial = fields(body).get(1);
  if (partial === undefined) return { rejected: 0, message: '' };
  if (typeof partial === 'bigint') throw new Error('partial_success is not a message');
  const inner = fields(partial);
  const rejected = inner.get(1);
  const message = inner.get(2);
  return {
    rejected: typeof rejected === 'bigint' ? Number(BigInt.asIntN(64, rejected)) : 0,
    message: message instanceof Uint8Array ? Buffer.from(message).toString('utf8') : '',
  };
}

/** The message of an error answer; throws when the body is not a `google.rpc.Status`. */
export function parseStatus(body: Uint8Array, encoding: Encoding): string {
  if (encoding === 'json') {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { code?: unknown; message?: unknown };
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.message !== 'string') {
      throw new Error('not a google.rpc.Status');
    }
    return parsed.message;
  }
  const message = fields(body).get(2);
  if (!(message instanceof Uint8Array)) throw new Error('google.rpc.Status without a message');
  return Buffer.from(message).toString('utf8');
}
