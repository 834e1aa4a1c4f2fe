import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@tallyhouse/model';
import type { TenantAuthenticator } from '../auth.ts';
import type { CollectorSettings } from '../config.ts';
import { isConsolePath, serveConsole } from '../console/console-route.ts';
import type { IngestSequence } from '../ingest/ingest-sequence.ts';
import type { CollectorMetrics } from '../metrics.ts';
import { RpcCode } from '../otlp/index.ts';
import { OPENAPI_DOCUMENT_PATH, sendOpenApiDocument } from '../usage-api/openapi.ts';
import type { UsageApi } from '../usage-api/usage-api.ts';
import { ADMIN_PREFIX, USAGE_PREFIX } from '../usage-api/usage-query.ts';
import { type OtlpHttpContext, receiveMetrics } from './otlp-metrics.ts';
import { sendStatus, sendText } from './responses.ts';

export interface ReceiverDependencies {
  readonly settings: CollectorSettings;
  /** The ingest sequence every protocol shares. */
  readonly ingest: IngestSequence;
  readonly authenticator: TenantAuthenticator;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
  /** True once shutdown began (`/readyz` answers 503). */
  readonly isDraining: () => boolean;
  readonly isReady: () => Promise<boolean>;
  /** `GET /v1/usage/…`. */
  readonly usage?: UsageApi;
}

/** Builds the request handler for the collector's HTTP surface: routes, and what every answer is counted as. */
export function createRequestHandler(deps: ReceiverDependencies) {
  const otlp: OtlpHttpContext = {
    ingest: deps.ingest,
    authenticator: deps.authenticator,
    maxBodyBytes: deps.settings.maxBodyBytes,
    logger: deps.logger,
  };
  return (request: IncomingMessage, response: ServerResponse) => {
    const route = routeOf(request.url);
    const done = (status: number) => deps.metrics.requests.inc({ route, status: String(status) });
    handle(deps, otlp, route, request, response)
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
  if (path.startsWith(ADMIN_PREFIX)) return '/v1/admin';
  if (isConsolePath(path)) return '/console';
  return ['/v1/metrics', OPENAPI_DOCUMENT_PATH, '/healthz', '/readyz', '/metrics'].includes(path)
    ? path
    : 'other';
}

async function handle(
  deps: ReceiverDependencies,
  otlp: OtlpHttpContext,
  route: string,
  request: IncomingMessage,
  response: ServerResponse,
) {
  switch (route) {
    case '/v1/metrics':
      if (request.method !== 'POST') return refuseMethod(request, response, 'POST');
      return receiveMetrics(otlp, request, response);
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
    case '/v1/admin':
      if (deps.usage !== undefined) return deps.usage.handleAdmin(request, response);
      request.resume();
      return sendStatus(response, 404, RpcCode.NOT_FOUND, 'usage reads are not enabled', 'json');
    case OPENAPI_DOCUMENT_PATH:
      if (request.method !== 'GET') return refuseMethod(request, response, 'GET');
      return sendOpenApiDocument(response);
    case '/console':
      return serveConsole(request, response, deps.settings);
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
