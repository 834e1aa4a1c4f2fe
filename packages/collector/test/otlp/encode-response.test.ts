import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { encodeExportMetricsServiceResponse, encodeRpcStatus, RpcCode } from '../../src/otlp/index.ts';

/** Reads a google.rpc.Status with protobufjs, independently of our writer. */
function readStatus(bytes: Uint8Array): { code: number; message: string } {
  const reader = protobuf.Reader.create(bytes);
  const out = { code: 0, message: '' };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 8) out.code = reader.int32();
    else if (tag === 18) out.message = reader.string();
    else reader.skipType(tag & 7);
  }
  return out;
}

describe('ExportMetricsServiceResponse', () => {
  it('is empty on full success', () => {
    expect(encodeExportMetricsServiceResponse({ rejectedDataPoints: 0 }, 'protobuf')).toEqual(
      new Uint8Array(0),
    );
    expect(
      new TextDecoder().decode(encodeExportMetricsServiceResponse({ rejectedDataPoints: 0 }, 'json')),
    ).toBe('{}');
  });

  it('carries partial_success as the real OTLP exporter reads it (protobuf)', () => {
    const bytes = encodeExportMetricsServiceResponse(
      { rejectedDataPoints: 300, errorMessage: '300 data points rejected: ✗ NaN' },
      'protobuf',
    );
    expect(ProtobufMetricsSerializer.deserializeResponse(bytes)).toEqual({
      partialSuccess: { rejectedDataPoints: 300, errorMessage: '300 data points rejected: ✗ NaN' },
    });
  });

  it('carries partial_success in proto3 JSON (int64 as a string)', () => {
    const bytes = encodeExportMetricsServiceResponse(
      { rejectedDataPoints: 2 ** 40, errorMessage: 'why' },
      'json',
    );
    expect(JsonMetricsSerializer.deserializeResponse(bytes)).toEqual({
      partialSuccess: { rejectedDataPoints: '1099511627776', errorMessage: 'why' },
    });
  });

  it('sends a warning (message with nothing rejected) as a partial_success without a count', () => {
    const bytes = encodeExportMetricsServiceResponse(
      { rejectedDataPoints: 0, errorMessage: 'deprecated field' },
      'protobuf',
    );
    expect(ProtobufMetricsSerializer.deserializeResponse(bytes)).toEqual({
      partialSuccess: { errorMessage: 'deprecated field' },
    });
  });

  it('refuses a count that is not a non-negative integer', () => {
    expect(() => encodeExportMetricsServiceResponse({ rejectedDataPoints: -1 }, 'json')).toThrow(RangeError);
    expect(() => encodeExportMetricsServiceResponse({ rejectedDataPoints: 1.5 }, 'protobuf')).toThrow(
      RangeError,
    );
  });
});

describe('google.rpc.Status', () => {
  it('encodes code and message in protobuf', () => {
    const message = 'resourceMetrics[0].scopeMetrics[0].metrics[0].name: a string field is not valid UTF-8';
    expect(readStatus(encodeRpcStatus({ code: RpcCode.INVALID_ARGUMENT, message }, 'protobuf'))).toEqual({
      code: 3,
      message,
    });
    expect(
      readStatus(encodeRpcStatus({ code: -5, message: 'negative codes use 10-byte varints' }, 'protobuf')),
    ).toEqual({
      code: -5,
      message: 'negative codes use 10-byte varints',
    });
  });

  it('encodes code and message in JSON', () => {
    const bytes = encodeRpcStatus({ code: RpcCode.UNAVAILABLE, message: 'storage is down' }, 'json');
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual({ code: 14, message: 'storage is down' });
  });
});
