/**
 * `GET /v1/usage/{tenant}/(total|timeseries|top)`: tenant-scoped usage reads over the exporter's `UsageReader`,
 * answered as JSON. Order of checks: credentials (401), the caller may read that tenant (403), parameters (400),
 * then the cache (TTL + single flight) and storage. Error bodies are `google.rpc.Status` in JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UsageReader } from '@tallyhouse/exporter-clickhouse';
import type { Logger } from 'pino';
import { encodeRpcStatus, RpcCode } from '../otlp/index.ts';
import { type CacheCounts, type CacheOutcome, SingleFlightCache } from './query-cache.ts';
import type { ReadAccess } from './read-access.ts';
import { formatTime } from './time-format.ts';
import {
  cacheKey,
  checkTenant,
  parseUsagePath,
  parseUsageQuery,
  type UsageQuery,
  UsageQueryError,
} from './usage-query.ts';

/** google.rpc.Code PERMISSION_DENIED (not in the OTLP subset the receiver uses). */
const PERMISSION_DENIED = 7;

export type UsageReaderSource = () => Promise<Pick<UsageReader, 'total' | 'timeSeries' | 'topN'>>;

export interface UsageApiOptions {
  readonly access: ReadAccess;
  readonly reader: UsageReaderSource;
  readonly cacheTtlMs: number;
  readonly logger: Logger;
  /** Called once per answered read with its cache outcome (metrics). */
  readonly onRead?: (outcome: CacheOutcome) => void;
}

export class UsageApi {
  private readonly access: ReadAccess;
  private readonly reader: UsageReaderSource;
  private readonly cache: SingleFlightCache<Buffer>;
  private readonly logger: Logger;
  private readonly onRead: ((outcome: CacheOutcome) => void) | undefined;

  constructor(options: UsageApiOptions) {
    this.access = options.access;
    this.reader = options.reader;
    this.cache = new SingleFlightCache({ ttlMs: options.cacheTtlMs });
    this.logger = options.logger;
    this.onRead = options.onRead;
  }

  cacheStats(): CacheCounts {
    return this.cache.stats();
  }

  /** Answers one request under `/v1/usage/`; resolves with the status sent. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<number> {
    request.resume();
    if (request.method !== 'GET') {
      response.setHeader('allow', 'GET');
      return sendError(response, 405, RpcCode.UNIMPLEMENTED, `method ${request.method} not allowed; use GET`);
    }
    const grant = this.access.authenticate(request.headersDistinct);
    if (!grant.ok) return sendError(response, 401, RpcCode.UNAUTHENTICATED, grant.message);
    try {
      const url = new URL(request.url ?? '/', 'http://collector');
      const { tenant, view } = parseUsagePath(url.pathname);
      if (!grant.admin && tenant !== grant.tenant) {
        this.logger.warn({ tenant: grant.tenant, requested: tenant }, 'usage read of another tenant refused');
        return sendError(
          response,
          403,
          PERMISSION_DENIED,
          `the credentials of tenant ${JSON.stringify(grant.tenant)} may not read tenant ${JSON.stringify(tenant)}`,
        );
      }
      const query = parseUsageQuery(checkTenant(tenant), view, url.searchParams);
      const { value, outcome } = await this.cache.get(cacheKey(query), () => this.answer(query));
      this.onRead?.(outcome);
      response.setHeader('x-tallyhouse-cache', outcome);
      response.setHeader('cache-control', 'private, no-store');
      return send(response, 200, value);
    } catch (error) {
      if (error instanceof UsageQueryError) {
        const code = error.status === 404 ? RpcCode.NOT_FOUND : RpcCode.INVALID_ARGUMENT;
        return sendError(response, error.status, code, error.message);
      }
      if (error instanceof RangeError)
        return sendError(response, 400, RpcCode.INVALID_ARGUMENT, error.message);
      this.logger.error({ err: error, url: request.url }, 'usage query failed');
      response.setHeader('retry-after', '5');
      return sendError(
        response,
        503,
        RpcCode.UNAVAILABLE,
        'usage query failed (storage unavailable?); retry later',
      );
    }
  }

  /** Runs the query and serialises the answer once; the cache keeps the bytes. */
  private async answer(query: UsageQuery): Promise<Buffer> {
    const reader = await this.reader();
    const attributes = Object.fromEntries(
      Object.entries(query.attributes).map(([key, values]) => [
        key,
        values.length === 1 ? values[0]! : values,
      ]),
    );
    const filter = {
      metric: query.metric,
      ...(query.service === undefined ? {} : { service: query.service }),
      attributes,
      range: {
        ...(query.fromUnixNano === undefined ? {} : { fromUnixNano: query.fromUnixNano }),
        ...(query.toUnixNano === undefined ? {} : { toUnixNano: query.toUnixNano }),
      },
    };
    const echo = {
      tenant: query.tenant,
      metric: query.metric,
      from: query.fromUnixNano === undefined ? null : formatTime(query.fromUnixNano),
      to: query.toUnixNano === undefined ? null : formatTime(query.toUnixNano),
      ...(query.service === undefined ? {} : { service: query.service }),
      attributes,
    };
    switch (query.view) {
      case 'total': {
        const { total, rows } = await reader.total(query.tenant, filter);
        return json({ ...echo, total: number(total), rows });
      }
      case 'top': {
        const entries = await reader.topN(query.tenant, { ...filter, by: query.by, limit: query.limit });
        return json({
          ...echo,
          by: query.by,
          limit: query.limit,
          entries: entries.map((e) => ({ value: e.value, total: number(e.total), rows: e.rows })),
        });
      }
      case 'timeseries': {
        const series = await reader.timeSeries(query.tenant, {
          ...filter,
          kind: query.kind,
          step: query.step,
          range: { fromUnixNano: query.fromUnixNano, toUnixNano: query.toUnixNano },
          ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
        });
        return json({
          ...echo,
          kind: query.kind,
          step: series.step,
          ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
          // The buckets actually answered: the range widened outwards to whole steps.
          bucketsFrom: formatTime(series.fromUnixNano),
          bucketsTo: formatTime(series.toUnixNano),
          lines: series.lines.map((line) => ({
            key: line.key,
            points: line.points.map((p) => ({
              start: formatTime(p.startUnixNano),
              value: p.value === undefined ? null : number(p.value),
            })),
          })),
        });
      }
    }
  }
}

/** Non-finite values (gauges may hold them) as proto3 JSON spells them; JSON has no NaN. */
function number(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function sendError(response: ServerResponse, status: number, code: number, message: string): number {
  return send(response, status, Buffer.from(encodeRpcStatus({ code, message }, 'json')));
}

function send(response: ServerResponse, status: number, body: Buffer): number {
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': body.byteLength });
  response.end(body);
  return status;
}
