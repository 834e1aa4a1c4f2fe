import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@tallyhouse/model';
import type { TenantAuthenticator } from '../auth.ts';
import type { IngestSequence } from '../ingest/ingest-sequence.ts';
import { IngestRefusal, type RefusalKind } from '../ingest/refusal.ts';
import { encodeExportMetricsServiceResponse, type OtlpEncoding, RpcCode } from '../otlp/index.ts';
import { readBody } from './request-body.ts';
import { CONTENT_TYPES, send, sendStatus } from './responses.ts';

/** What `POST /v1/metrics` needs besides the ingest sequence. */
export interface OtlpHttpContext {
  readonly ingest: IngestSequence;
  readonly authenticator: TenantAuthenticator;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
}

/** The HTTP answer to each refusal: quota → 403, which OTLP clients do not retry; 429 and 503 are retried. */
const REFUSAL_ANSWERS: Record<RefusalKind, { readonly status: number; readonly rpcCode: number }> = {
  content_type: { status: 415, rpcCode: RpcCode.INVALID_ARGUMENT },
  content_encoding: { status: 415, rpcCode: RpcCode.INVALID_ARGUMENT },
  bad_compression: { status: 400, rpcCode: RpcCode.INVALID_ARGUMENT },
  too_large: { status: 413, rpcCode: RpcCode.INVALID_ARGUMENT },
  bad_payload: { status: 400, rpcCode: RpcCode.INVALID_ARGUMENT },
  unauthenticated: { status: 401, rpcCode: RpcCode.UNAUTHENTICATED },
  unavailable: { status: 503, rpcCode: RpcCode.UNAVAILABLE },
  rate_limited: { status: 429, rpcCode: RpcCode.RESOURCE_EXHAUSTED },
  quota_exceeded: { status: 403, rpcCode: RpcCode.RESOURCE_EXHAUSTED },
};

/** OTLP/HTTP export: the framing around the ingest sequence. Returns the status answered. */
export async function receiveMetrics(
  context: OtlpHttpContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<number> {
  const encoding = encodingOf(request.headers['content-type']);
  try {
    if (encoding === undefined) {
      throw new IngestRefusal(
        'content_type',
        `unsupported content type ${JSON.stringify(request.headers['content-type'] ?? '')}: use application/x-protobuf or application/json`,
      );
    }
    await context.ingest.run({
      tenant: context.authenticator.resolve(request.headersDistinct),
      encoding,
      readBody: () => readBody(request, context.maxBodyBytes),
      respond: (answer, delivered) => {
        send(response, 200, encodeExportMetricsServiceResponse(answer, encoding), CONTENT_TYPES[encoding]);
        response.once('finish', delivered);
      },
    });
    return 200;
  } catch (error) {
    if (!(error instanceof IngestRefusal)) throw error;
    return answerRefusal(context.logger, request, response, error, encoding ?? 'json');
  }
}

function answerRefusal(
  logger: Logger,
  request: IncomingMessage,
  response: ServerResponse,
  refusal: IngestRefusal,
  encoding: OtlpEncoding,
): number {
  const { status, rpcCode } = REFUSAL_ANSWERS[refusal.kind];
  // Drain what is left of a normal body so the connection stays usable; an oversized one is cut off.
  if (refusal.kind === 'too_large') response.setHeader('connection', 'close');
  else request.resume();
  if (refusal.retryAfterSeconds !== undefined)
    response.setHeader('retry-after', String(refusal.retryAfterSeconds));
  if (refusal.kind !== 'unavailable')
    logger.info(
      { status, reason: refusal.kind, tenant: refusal.tenant, message: refusal.message },
      'request refused',
    );
  return sendStatus(response, status, rpcCode, refusal.message, encoding);
}

function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return undefined;
}
