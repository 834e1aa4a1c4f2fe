/**
 * OTLP/gRPC `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` onto the ingest sequence: the same
 * path as OTLP/HTTP protobuf. grpc-js hands over the message bytes as they arrived (decompressed, within the size
 * limit); the project's own decoder reads them, never a generated class.
 */
import {
  Metadata as GrpcMetadata,
  status as GrpcStatus,
  type Metadata,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { Logger } from '@tallyhouse/model';
import type { TenantAuthenticator } from '../auth.ts';
import type { IngestSequence } from '../ingest/ingest-sequence.ts';
import { IngestRefusal, type RefusalKind } from '../ingest/refusal.ts';
import type { CollectorMetrics } from '../metrics.ts';
import { encodeExportMetricsServiceResponse, encodeRpcStatus } from '../otlp/index.ts';
import { metadataHeaders } from './metadata.ts';

export const EXPORT_METHOD_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

const passThrough = (bytes: Buffer): Buffer => bytes;

/** The service as grpc-js registers it: bytes in, bytes out. */
export const METRICS_SERVICE = {
  Export: {
    path: EXPORT_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
} as const;

/**
 * Status per refusal, as the OTLP/gRPC spec has it: push-back is UNAVAILABLE and a rate limit RESOURCE_EXHAUSTED,
 * both with a RetryInfo (retryable); a quota is RESOURCE_EXHAUSTED without one, which clients do not retry.
 */
const REFUSAL_STATUS: Record<RefusalKind, GrpcStatus> = {
  content_type: GrpcStatus.INVALID_ARGUMENT,
  content_encoding: GrpcStatus.INVALID_ARGUMENT,
  bad_compression: GrpcStatus.INVALID_ARGUMENT,
  too_large: GrpcStatus.RESOURCE_EXHAUSTED,
  bad_payload: GrpcStatus.INVALID_ARGUMENT,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  unavailable: GrpcStatus.UNAVAILABLE,
  rate_limited: GrpcStatus.RESOURCE_EXHAUSTED,
  quota_exceeded: GrpcStatus.RESOURCE_EXHAUSTED,
};

export interface OtlpGrpcContext {
  readonly ingest: IngestSequence;
  readonly authenticator: TenantAuthenticator;
  readonly tenantHeader: string;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
}

type ExportCall = ServerUnaryCall<Buffer, Buffer>;

/** The `Export` handler. */
export function exportHandler(context: OtlpGrpcContext) {
  return (call: ExportCall, callback: sendUnaryData<Buffer>): void => {
    let answered = false;
    const finish = (code: GrpcStatus) => {
      answered = true;
      context.metrics.grpcCalls.inc({ method: 'Export', code: GrpcStatus[code] ?? String(code) });
    };
    context.ingest
      .run({
        tenant: context.authenticator.resolve(metadataHeaders(call.metadata, context.tenantHeader)),
        encoding: 'protobuf',
        readBody: () => Promise.resolve(call.request),
        respond: (answer, delivered) => {
          finish(GrpcStatus.OK);
          callback(null, Buffer.from(encodeExportMetricsServiceResponse(answer, 'protobuf')));
          // grpc-js has no hook for "the answer left the process": its frames are written within the next turns.
          setImmediate(() => setImmediate(delivered));
        },
      })
      .catch((error: unknown) => {
        if (answered) {
          context.logger.error({ err: error }, 'OTLP/gRPC export failed after its answer');
          return;
        }
        if (error instanceof IngestRefusal) {
          const code = REFUSAL_STATUS[error.kind];
          finish(code);
          if (error.kind !== 'unavailable')
            context.logger.info(
              { code: GrpcStatus[code], reason: error.kind, tenant: error.tenant, message: error.message },
              'request refused',
            );
          callback(refusalStatus(code, error));
          return;
        }
        context.logger.error({ err: error }, 'OTLP/gRPC export failed');
        finish(GrpcStatus.INTERNAL);
        callback({ code: GrpcStatus.INTERNAL, details: 'internal error' });
      });
  };
}

/** The status of a refusal; a retryable one carries `google.rpc.RetryInfo` in `grpc-status-details-bin`. */
function refusalStatus(code: GrpcStatus, refusal: IngestRefusal) {
  const metadata: Metadata = new GrpcMetadata();
  if (refusal.retryAfterSeconds !== undefined) {
    const details = encodeRpcStatus(
      { code, message: refusal.message, retryDelaySeconds: refusal.retryAfterSeconds },
      'protobuf',
    );
    metadata.set('grpc-status-details-bin', Buffer.from(details));
  }
  return { code, details: refusal.message, metadata };
}
