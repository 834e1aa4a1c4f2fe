/**
 * What the collector should answer for a request, worked out in the test process: the receiver's documented
 * order of checks (content type 415, tenant 401, size 413, content encoding 415, compression 400/413,
 * payload 400) and, for a well-formed body, the collector's own decoder run in process. Corrupted bodies have
 * no independent model, so for them "stored = accepted" is checked against this decode: what the decoder says
 * it accepted must reach storage, exactly.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { type Attributes, type InputBatch, tenantProblem } from '@tallyhouse/model';
import {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestProtobuf,
  OtlpDecodeError,
  type OtlpDecodeResult,
} from '../../src/otlp/index.ts';
import { type AcceptedPoint, INT32_MAX, TABLE_OF_KIND } from './model.ts';

export type Encoding = 'protobuf' | 'json';

export interface HttpRequestSpec {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export type ReferenceOutcome =
  | {
      readonly status: 200;
      readonly encoding: Encoding;
      readonly decoded: OtlpDecodeResult;
      readonly body: Uint8Array;
    }
  | { readonly status: number; readonly encoding: Encoding | undefined; readonly reason: string };

export const TENANT_HEADER = 'x-tenant-id';

function encodingOf(contentType: string | undefined): Encoding | undefined {
  const media = contentType?.split(';')[0]?.trim().toLowerCase();
  if (media === 'application/x-protobuf' || media === 'application/protobuf') return 'protobuf';
  if (media === 'application/json') return 'json';
  return undefined;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The answer the receiver's rules give; throws only when the decoder itself throws something unexpected. */
export function referenceOutcome(request: HttpRequestSpec, maxBodyBytes: number): ReferenceOutcome {
  if (request.method !== 'POST') return { status: 405, encoding: undefined, reason: 'method' };
  const encoding = encodingOf(request.headers['content-type']);
  if (encoding === undefined) return { status: 415, encoding: undefined, reason: 'content type' };
  // Header bytes arrive as latin1 text; the receiver reads them as UTF-8.
  const raw = request.headers[TENANT_HEADER];
  let tenant: string | undefined;
  try {
    tenant = raw === undefined ? undefined : UTF8.decode(Buffer.from(raw, 'latin1'));
  } catch {
    tenant = undefined;
  }
  if (tenant === undefined || tenantProblem(tenant) !== undefined)
    return { status: 401, encoding, reason: 'tenant' };
  if (request.body.length > maxBodyBytes) return { status: 413, encoding, reason: 'body size' };
  const contentEncoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let body: Uint8Array = request.body;
  if (contentEncoding !== 'identity' && contentEncoding !== '') {
    if (contentEncoding !== 'gzip' && contentEncoding !== 'deflate') {
      return { status: 415, encoding, reason: 'content encoding' };
    }
    try {
      body = (contentEncoding === 'gzip' ? gunzipSync : inflateSync)(request.body, {
        maxOutputLength: maxBodyBytes,
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return { status: 413, encoding, reason: 'decompressed size' };
      }
      return { status: 400, encoding, reason: 'compression' };
    }
  }
  try {
    const decoded =
      encoding === 'protobuf'
        ? decodeExportMetricsServiceRequestProtobuf(body)
        : decodeExportMetricsServiceRequestJson(UTF8.decode(body));
    return { status: 200, encoding, decoded, body };
  } catch (error) {
    if (error instanceof OtlpDecodeError)
      return { status: 400, encoding, reason: `${error.code}: ${error.message}` };
    if (error instanceof TypeError && encoding === 'json')
      return { status: 400, encoding, reason: 'invalid UTF-8' };
    throw error;
  }
}

/** Decoded points in request order, as the fuzzer's expectation engine takes them. */
export function flattenDecoded(batch: InputBatch): AcceptedPoint[] {
  const out: AcceptedPoint[] = [];
  for (const rm of batch.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        for (const p of m.points) {
          out.push({
            kind: m.metric.kind,
            table: TABLE_OF_KIND[m.metric.kind],
            metricName: m.metric.name,
            unit: m.metric.unit,
            description: m.metric.description,
            monotonic: m.metric.monotonic,
            temporality: m.temporality,
            resource: rm.resource as { [key: string]: Attributes[string] },
            scope: sm.scope,
            attributes: p.attributes as { [key: string]: Attributes[string] },
            start: p.startTimeUnixNano,
            time: p.timeUnixNano,
            value: p.value,
            uncertain: uncertaintyOfDecoded(m.metric.kind, p.value),
          });
        }
      }
    }
  }
  return out;
}

function uncertaintyOfDecoded(kind: string, value: unknown): string | undefined {
  if (kind === 'histogram' || kind === 'exponentialHistogram') {
    const v = value as { min?: number; max?: number };
    if (
      (v.min !== undefined && !Number.isFinite(v.min)) ||
      (v.max !== undefined && !Number.isFinite(v.max))
    ) {
      return 'non-finite min/max';
    }
  }
  if (kind === 'exponentialHistogram') {
    const e = value as {
      positive: { offset: number; bucketCounts: readonly number[] };
      negative: typeof e.positive;
    };
    for (const side of [e.positive, e.negative]) {
      if (side.offset + side.bucketCounts.length - 1 > INT32_MAX) return 'bucket index past int32';
    }
  }
  return undefined;
}
