import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback, inflate as inflateCallback } from 'node:zlib';
import { BufferFullError, ProcessorShutdownError } from '@tallyhouse/processor-tenant';
import type { Logger } from 'pino';
import type { TenantAuthenticator } from './auth.ts';
import type { CollectorSettings } from './config.ts';
import type { TenantLimiter } from './limits/tenant-limiter.ts';
import type { CollectorMetrics } from './metrics.ts';
import {
  decodeExportMetricsServiceRequestJsonBody,
  decodeExportMetricsServiceRequestProtobuf,
  encodeExportMetricsServiceResponse,
  encodeRpcStatus,
  formatPartialSuccessMessage,
  OtlpDecodeError,
  type OtlpDecodeResult,
  RpcCode,
} from './otlp/index.ts';
import type { UsageApi } from './usage-api/usage-api.ts';
import { USAGE_PREFIX } from './usage-api/usage-query.ts';
import type { IngestRequest, PendingIngest } from './wal/durable-ingest.ts';
import { WalWriteError } from './wal/wal.ts';

const gunzip = promisify(gunzipCallback);
const inflate = promisify(inflateCallback);

type Encoding = 'protobuf' | 'json';

const CONTENT_TYPES: Record<Encoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

export interface ReceiverDependencies {
  readonly settings: CollectorSettings;
  readonly authenticator: TenantAuthenticator;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
  readonly isReady: () => Promise<boolean>;
  /** Makes a request durable (write-ahead log, when on); see `PendingIngest` for the steps that follow. */
  readonly ingest: (request: IngestRequest) => Promise<PendingIngest>;
  /** `soft`/`hard` above the memory limits: new data is refused with 503. */
  readonly memoryPressure: () => 'ok' | 'soft' | 'hard';
  /** True once shutdown began: new data is refused with 503 so clients retry elsewhere or later. */
  readonly isDraining: () => boolean;
  /** Per-tenant rate limit and quota, checked before a request is logged or applied. */
  readonly limiter?: TenantLimiter;
  /** `GET /v1/usage/…`. */
  readonly usage?: UsageApi;
}

/** An error answer: HTTP status, gRPC-style code, a message naming the problem. */
class RequestRejection extends Error {
  readonly status: number;
  readonly rpcCode: number;
  readonly reason: string;
  /** Overrides TALLYHOUSE_RETRY_AFTER_SECONDS (a rate limit knows when the request would pass). */
  readonly retryAfterSeconds: number | undefined;
  readonly tenant: string | undefined;

  constructor(
    status: number,
    rpcCode: number,
    reason: string,
    message: string,
    extra: { retryAfterSeconds?: number; tenant?: string } = {},
  ) {
    super(message);
    this.status = status;
    this.rpcCode = rpcCode;
    this.reason = reason;
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.tenant = extra.tenant;
  }
}

/** Builds the request handler for the collector's HTTP surface. */
export function createRequestHandler(deps: ReceiverDependencies) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const route = routeOf(request.url);
    const done = (status: number) => deps.metrics.requests.inc({ route, status: String(status) });
    handle(deps, route, request, response)
      .then(done, (error: unknown) => {
        if (clientWentAway(request, error)) {
          // Not a server fault: nothing was applied, and there is nobody left to answer.
          deps.logger.info(
            { route, err: (error as Error).message },
            'client closed the connection mid-request',
          );
          response.destroy();
          return done(CLIENT_CLOSED_REQUEST);
        }
        deps.logger.error({ err: error, route }, 'unexpected error while handling a request');
        if (!response.headersSent) sendStatus(response, 500, RpcCode.INTERNAL, 'internal error', 'json');
        else response.destroy();
        done(500);
      })
      .catch(() => {});
  };
}

/** Counted like nginx's 499: the client closed the connection before the answer. */
const CLIENT_CLOSED_REQUEST = 499;

function clientWentAway(request: IncomingMessage, error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return request.destroyed || code === 'ECONNRESET' || code === 'ECONNABORTED';
}

function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  // One label for every usage read: tenants never become label values.
  if (path.startsWith(USAGE_PREFIX)) return '/v1/usage';
  return ['/v1/metrics', '/healthz', '/readyz', '/metrics'].includes(path) ? path : 'other';
}

async function handle(
  deps: ReceiverDependencies,
  route: string,
  request: IncomingMessage,
  response: ServerResponse,
) {
  switch (route) {
    case '/v1/metrics':
      if (request.method !== 'POST') return refuseMethod(request, response, 'POST');
      return receiveMetrics(deps, request, response);
    case '/healthz':
      if (request.method !== 'GET' && request.method !== 'HEAD')
        return refuseMethod(request, response, 'GET');
      return sendText(response, 200, 'ok\n');
    case '/readyz': {
      if (request.method !== 'GET' && request.method !== 'HEAD')
        return refuseMethod(request, response, 'GET');
      const ready = !deps.isDraining() && (await deps.isReady());
      return sendText(
        response,
        ready ? 200 : 503,
        ready ? 'ready\n' : 'not ready: storage unreachable, schema missing or shutting down\n',
      );
    }
    case '/metrics':
      if (request.method !== 'GET') return refuseMethod(request, response, 'GET');
      return sendText(response, 200, await deps.metrics.text(), deps.metrics.registry.contentType);
    case '/v1/usage':
      if (deps.usage !== undefined) return deps.usage.handle(request, response);
      request.resume();
      return sendStatus(response, 404, RpcCode.NOT_FOUND, 'usage reads are not enabled', 'json');
    default:
      request.resume();
      return sendStatus(
        response,
        404,
        RpcCode.NOT_FOUND,
        `no route ${request.method} ${request.url}`,
        'json',
      );
  }
}

function refuseMethod(request: IncomingMessage, response: ServerResponse, allowed: string): number {
  request.resume();
  response.setHeader('allow', allowed);
  return sendStatus(
    response,
    405,
    RpcCode.UNIMPLEMENTED,
    `method ${request.method} not allowed on ${request.url}; use ${allowed}`,
    'json',
  );
}

async function receiveMetrics(
  deps: ReceiverDependencies,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<number> {
  const encoding = encodingOf(request.headers['content-type']);
  try {
    if (encoding === undefined) {
      throw new RequestRejection(
        415,
        RpcCode.INVALID_ARGUMENT,
        'content_type',
        `unsupported content type ${JSON.stringify(request.headers['content-type'] ?? '')}: use application/x-protobuf or application/json`,
      );
    }
    if (deps.isDraining()) throw pushBack(deps, 'collector is shutting down');
    if (deps.memoryPressure() !== 'ok') throw pushBack(deps, 'collector memory above its limit');
    const tenant = deps.authenticator.resolve(request.headersDistinct);
    if (!tenant.ok)
      throw new RequestRejection(401, RpcCode.UNAUTHENTICATED, 'unauthenticated', tenant.message);
    const body = await readBody(request, deps.settings.maxBodyBytes);
    const decoded = decode(body, encoding);
    deps.metrics.pointsReceived.inc(decoded.acceptedDataPoints + decoded.rejectedDataPoints);
    if (decoded.rejectedDataPoints > 0)
      deps.metrics.pointsRejected.inc({ reason: 'invalid_data' }, decoded.rejectedDataPoints);
    admit(deps, tenant.tenant, decoded.acceptedDataPoints);
    const pending = await ingest(deps, { tenant: tenant.tenant, encoding, body, decoded });
    // From here to apply(): one synchronous block (see PendingIngest.assess).
    const assessed = assess(deps, pending, tenant.tenant, decoded);
    const rejected = decoded.rejectedDataPoints + assessed.rejectedPoints;
    const message = [formatPartialSuccessMessage(decoded), ...assessed.rejectionMessages]
      .filter((m) => m !== '')
      .join('; ');
    const bytes = encodeExportMetricsServiceResponse(
      { rejectedDataPoints: rejected, errorMessage: message },
      encoding,
    );
    // Acknowledge, answer, apply: one synchronous block, so nothing can come between the ACK and the 200.
    const fresh = acknowledge(deps, pending, tenant.tenant, decoded);
    const status = send(response, 200, bytes, CONTENT_TYPES[encoding]);
    // Once the 200 is handed to the OS whole, an identical body is new data, not a resend (never fires if the
    // connection broke first: then the client may resend, and that resend is recognised).
    response.once('finish', () => pending.answered());
    if (!fresh) {
      // A resend of a request counted already (its 200 was lost): answered, not counted again.
      deps.limiter?.settle(tenant.tenant, decoded.acceptedDataPoints, 0);
      deps.metrics.pointsRejected.inc({ reason: 'duplicate_request' }, decoded.acceptedDataPoints);
      deps.logger.info(
        { tenant: tenant.tenant },
        'resend of an acknowledged request whose answer may have been lost: answered, not counted again',
      );
      return status;
    }
    const report = apply(deps, pending, tenant.tenant);
    deps.limiter?.settle(tenant.tenant, decoded.acceptedDataPoints, report.acceptedPoints);
    deps.metrics.pointsAccepted.inc(report.acceptedPoints);
    for (const [reason, count] of Object.entries(report.rejectedByReason))
      deps.metrics.pointsRejected.inc({ reason }, count);
    if (rejected > 0) deps.logger.warn({ tenant: tenant.tenant, rejected, message }, 'rejected data points');
    return status;
  } catch (error) {
    if (!(error instanceof RequestRejection)) throw error;
    // Drain what is left of a normal body so the connection stays usable; an oversized one is cut off.
    if (error.status === 413) response.setHeader('connection', 'close');
    else request.resume();
    if (error.status === 503 || error.status === 429)
      response.setHeader('retry-after', String(error.retryAfterSeconds ?? deps.settings.retryAfterSeconds));
    if (error.status !== 503)
      deps.logger.info(
        { status: error.status, reason: error.reason, tenant: error.tenant, message: error.message },
        'request refused',
      );
    return sendStatus(response, error.status, error.rpcCode, error.message, encoding ?? 'json');
  }
}

/**
 * The tenant's rate limit and quota, before anything of the request is logged or applied: a limited request
 * stores nothing. Rate → 429 + Retry-After (retryable); quota → 403 (OTLP clients do not retry it).
 */
function admit(deps: ReceiverDependencies, tenant: string, points: number) {
  const admission = deps.limiter?.admit(tenant, points);
  if (admission === undefined || admission.admitted) return;
  deps.metrics.pointsRejected.inc({ reason: admission.reason }, points);
  if (admission.reason === 'rate_limited') {
    throw new RequestRejection(429, RpcCode.RESOURCE_EXHAUSTED, admission.reason, admission.message, {
      retryAfterSeconds: admission.retryAfterSeconds,
      tenant,
    });
  }
  throw new RequestRejection(403, RpcCode.RESOURCE_EXHAUSTED, admission.reason, admission.message, {
    tenant,
  });
}

/** Hands the request to the pipeline; a refusal becomes 503 + Retry-After, and nothing of it is kept. */
async function ingest(deps: ReceiverDependencies, request: Omit<IngestRequest, 'allowAttributeOverride'>) {
  try {
    return await deps.ingest({ ...request, allowAttributeOverride: deps.settings.allowTenantOverride });
  } catch (error) {
    deps.limiter?.settle(request.tenant, request.decoded.acceptedDataPoints, 0);
    throw refusal(deps, request, error);
  }
}

/** What partial_success will report; a refusal here (the buffer cannot take it) means nothing was counted. */
function assess(
  deps: ReceiverDependencies,
  pending: PendingIngest,
  tenant: string,
  decoded: OtlpDecodeResult,
) {
  try {
    return pending.assess();
  } catch (error) {
    deps.limiter?.settle(tenant, decoded.acceptedDataPoints, 0);
    throw refusal(deps, { tenant, decoded }, error);
  }
}

/** Logs the ACK; a refusal here (the log cannot take it) means nothing was counted. */
function acknowledge(
  deps: ReceiverDependencies,
  pending: PendingIngest,
  tenant: string,
  decoded: OtlpDecodeResult,
): boolean {
  try {
    return pending.acknowledge();
  } catch (error) {
    deps.limiter?.settle(tenant, decoded.acceptedDataPoints, 0);
    throw refusal(deps, { tenant, decoded }, error);
  }
}

/** Applies an acknowledged request; it is in the log already, so a failure here is made good by the replay. */
function apply(deps: ReceiverDependencies, pending: PendingIngest, tenant: string) {
  try {
    return pending.apply();
  } catch (error) {
    deps.logger.warn(
      { tenant, err: (error as Error).message },
      'acknowledged request not applied now; the log replays it at the next start',
    );
    return pending.assess();
  }
}

/** A pipeline refusal as an answer: retry later (503), or the unexpected error itself. */
function refusal(
  deps: ReceiverDependencies,
  request: { tenant: string; decoded: OtlpDecodeResult },
  error: unknown,
) {
  const { tenant, decoded } = request;
  if (error instanceof BufferFullError || error instanceof ProcessorShutdownError) {
    deps.metrics.pointsRejected.inc({ reason: 'refused_retry_later' }, decoded.acceptedDataPoints);
    deps.logger.warn(
      { tenant, points: decoded.acceptedDataPoints, err: error.message },
      'pushing back: buffer full',
    );
    return pushBack(deps, error.message);
  }
  if (error instanceof WalWriteError) {
    deps.metrics.pointsRejected.inc({ reason: 'refused_retry_later' }, decoded.acceptedDataPoints);
    deps.logger.error(
      { tenant, err: error.message },
      'cannot write the write-ahead log (disk full or data directory unwritable)',
    );
    return pushBack(deps, 'cannot store the request durably (data directory full or unwritable)');
  }
  return error;
}

function pushBack(deps: ReceiverDependencies, message: string) {
  return new RequestRejection(
    503,
    RpcCode.UNAVAILABLE,
    'unavailable',
    `${message}; retry after ${deps.settings.retryAfterSeconds}s`,
  );
}

function encodingOf(contentType: string | undefined): Encoding | undefined {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return undefined;
}

/** Reads the body, decompressing gzip/deflate; the size limit applies to the raw and to the decompressed bytes. */
async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new RequestRejection(
      413,
      RpcCode.INVALID_ARGUMENT,
      'too_large',
      `request body exceeds ${maxBytes} bytes (after decompression)`,
    );
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const { chunks, size } = await collect(request, maxBytes, tooLarge);
  const raw = Buffer.concat(chunks, size);
  const contentEncoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (contentEncoding === 'identity' || contentEncoding === '') return raw;
  if (contentEncoding !== 'gzip' && contentEncoding !== 'deflate') {
    throw new RequestRejection(
      415,
      RpcCode.INVALID_ARGUMENT,
      'content_encoding',
      `unsupported content encoding ${JSON.stringify(contentEncoding)}: use gzip or none`,
    );
  }
  try {
    return await (contentEncoding === 'gzip' ? gunzip : inflate)(raw, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new RequestRejection(
      400,
      RpcCode.INVALID_ARGUMENT,
      'bad_compression',
      `body is not valid ${contentEncoding}: ${(error as Error).message}`,
    );
  }
}

/**
 * Collects the body with events rather than async iteration: stopping an iterator destroys the socket,
 * and the client would then never read the 413 we send.
 */
function collect(
  request: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<{ chunks: Buffer[]; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      request.off('data', onData);
      request.pause();
      reject(tooLarge());
    };
    request.on('data', onData);
    request.once('end', () => resolve({ chunks, size }));
    request.once('error', reject);
  });
}

function decode(body: Buffer, encoding: Encoding): OtlpDecodeResult {
  try {
    return encoding === 'protobuf'
      ? decodeExportMetricsServiceRequestProtobuf(body)
      : decodeExportMetricsServiceRequestJsonBody(body);
  } catch (error) {
    if (error instanceof OtlpDecodeError) {
      throw new RequestRejection(
        400,
        RpcCode.INVALID_ARGUMENT,
        'bad_payload',
        `invalid OTLP ${encoding} payload: ${error.message}`,
      );
    }
    throw error;
  }
}

function sendStatus(
  response: ServerResponse,
  status: number,
  code: number,
  message: string,
  encoding: Encoding,
): number {
  return send(response, status, encodeRpcStatus({ code, message }, encoding), CONTENT_TYPES[encoding]);
}

function sendText(
  response: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
): number {
  return send(response, status, Buffer.from(text, 'utf8'), contentType);
}

function send(response: ServerResponse, status: number, body: Uint8Array, contentType: string): number {
  response.writeHead(status, { 'content-type': contentType, 'content-length': body.byteLength });
  response.end(body);
  return status;
}
