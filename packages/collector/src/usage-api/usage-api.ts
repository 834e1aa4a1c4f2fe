/**
 * `GET /v1/usage/{tenant}/(total|timeseries|top|latest|metrics|limits)`: tenant-scoped usage reads over the
 * exporter's `UsageReader`, answered as JSON; `GET /v1/admin/(metrics|tenants|timeseries|export)`: reads over every
 * tenant, for the admin key only. Order of checks: credentials (401), the caller may read that tenant — or every
 * tenant (403), parameters (400), then the cache (TTL + single flight), the concurrency cap (503) and storage.
 * `limits` answers from this collector's limiter (live, never cached); the export streams (`billing-export.ts`).
 *
 * Every read is bounded (see `UsageReadLimits`): past a size limit → 400 naming it (and its variable) and how to
 * narrow the query; past the time limit → 503 + Retry-After; past the concurrency cap → 503 + Retry-After. Answers
 * are serialised line by line, handing the event loop back between slices. Error bodies are `google.rpc.Status`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UsageReader } from '@tallyhouse/exporter-clickhouse';
import type { Logger } from 'pino';
import { COLLECTOR_DEFAULTS } from '../config.ts';
import { RpcCode } from '../otlp/index.ts';
import { type AdminReads, type Answer, readAdminAnswer, readAnswer, type TenantReads } from './answer.ts';
import { type ExportReads, sendBillingExport } from './billing-export.ts';
import { type CacheCounts, type CacheOutcome, SingleFlightCache } from './query-cache.ts';
import type { ReadAccess, ReadGrant } from './read-access.ts';
import {
  USAGE_LIMIT_VARIABLES,
  UsageAnswerTooLargeError,
  type UsageReadLimits,
  UsageReadsBusyError,
  type UsageRefusal,
  usageReadLimits,
} from './read-limits.ts';
import { sendAnswer, sendError } from './responses.ts';
import { formatTime } from './time-format.ts';
import {
  type AdminUsageQuery,
  cacheKey,
  checkTenant,
  parseAdminPath,
  parseAdminQuery,
  parseUsagePath,
  parseUsageQuery,
  type UsageQuery,
  UsageQueryError,
} from './usage-query.ts';

/** google.rpc.Code PERMISSION_DENIED (not in the OTLP subset the receiver uses). */
const PERMISSION_DENIED = 7;
/** google.rpc.Code DEADLINE_EXCEEDED: the read ran out of time (sent with HTTP 503, see the README). */
const DEADLINE_EXCEEDED = 4;

export type UsageReaderSource = () => Promise<TenantReads & AdminReads & ExportReads>;

/** A tenant's limits and what is left of them, as this collector's limiter knows them. */
export interface LimitsStatus {
  readonly quota:
    | {
        readonly period: string;
        readonly timeZone: string;
        readonly points: number;
        readonly used: number;
        readonly periodStartMs: number;
        readonly resetsAtMs: number;
      }
    | undefined;
  /** `available`: points the tenant could send at once right now (the burst less what is not yet paid back). */
  readonly rate:
    | { readonly pointsPerSecond: number; readonly burst: number; readonly available: number }
    | undefined;
}

export interface UsageApiOptions {
  readonly access: ReadAccess;
  readonly reader: UsageReaderSource;
  readonly cacheTtlMs: number;
  readonly logger: Logger;
  /** Default: the collector's defaults. */
  readonly limits?: UsageReadLimits;
  /** Retry-After (seconds) of a 503. Default: the collector's TALLYHOUSE_RETRY_AFTER_SECONDS default. */
  readonly retryAfterSeconds?: number;
  /** Called once per answered read with its cache outcome (metrics). */
  readonly onRead?: (outcome: CacheOutcome) => void;
  /** Called once per read refused by a limit (metrics). */
  readonly onRefused?: (reason: UsageRefusal) => void;
  /** `/limits`: the tenant's limits and usage (default: none configured). */
  readonly limitsOf?: (tenant: string) => LimitsStatus;
}

export class UsageApi {
  private readonly access: ReadAccess;
  private readonly reader: UsageReaderSource;
  private readonly cache: SingleFlightCache<Answer>;
  private readonly logger: Logger;
  private readonly onRead: ((outcome: CacheOutcome) => void) | undefined;
  private readonly onRefused: ((reason: UsageRefusal) => void) | undefined;
  private readonly limits: UsageReadLimits;
  private readonly retryAfter: string;
  private readonly limitsOf: (tenant: string) => LimitsStatus;
  /** Reads running now (admitted past the concurrency cap). */
  private running = 0;

  constructor(options: UsageApiOptions) {
    this.access = options.access;
    this.reader = options.reader;
    this.limits = options.limits ?? usageReadLimits(COLLECTOR_DEFAULTS);
    // Answers are cached as bytes: at most two of the largest answers' worth, whatever their number.
    this.cache = new SingleFlightCache({
      ttlMs: options.cacheTtlMs,
      maxBytes: 2 * this.limits.maxBytes,
      sizeOf: (answer: Answer) => answer.bytes,
    });
    this.logger = options.logger;
    this.onRead = options.onRead;
    this.onRefused = options.onRefused;
    this.retryAfter = String(options.retryAfterSeconds ?? COLLECTOR_DEFAULTS.retryAfterSeconds);
    this.limitsOf = options.limitsOf ?? (() => ({ quota: undefined, rate: undefined }));
  }

  /** Reads running now (for tests and metrics). */
  runningReads(): number {
    return this.running;
  }

  cacheStats(): CacheCounts {
    return this.cache.stats();
  }

  /** Answers one request under `/v1/usage/`; resolves with the status sent. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<number> {
    const grant = this.authenticated(request, response);
    if (typeof grant === 'number') return grant;
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
      if (query.view === 'limits') return sendLimits(response, query.tenant, this.limitsOf(query.tenant));
      return await this.answer(response, query);
    } catch (error) {
      return this.refuse(request, response, error);
    }
  }

  /** Answers one request under `/v1/admin/` (the admin key only); resolves with the status sent. */
  async handleAdmin(request: IncomingMessage, response: ServerResponse): Promise<number> {
    const grant = this.authenticated(request, response);
    if (typeof grant === 'number') return grant;
    if (!grant.admin) {
      this.logger.warn({ tenant: grant.tenant, url: request.url }, 'admin read by a tenant refused');
      return sendError(
        response,
        403,
        PERMISSION_DENIED,
        `the credentials of tenant ${JSON.stringify(grant.tenant)} may not read every tenant; /v1/admin needs the admin key`,
      );
    }
    try {
      const url = new URL(request.url ?? '/', 'http://collector');
      const query = parseAdminQuery(parseAdminPath(url.pathname), url.searchParams, request.headers.accept);
      if (query.view === 'export') return await this.export(response, query);
      return await this.answer(response, query);
    } catch (error) {
      if ((error as { afterHeaders?: boolean }).afterHeaders === true) {
        this.logger.error(
          { err: error, url: request.url },
          'billing export failed mid-answer; connection closed',
        );
        return 500;
      }
      return this.refuse(request, response, error);
    }
  }

  /** A read's method and credentials: the caller's grant, or the status of the refusal already sent (405, 401). */
  private authenticated(
    request: IncomingMessage,
    response: ServerResponse,
  ): Extract<ReadGrant, { ok: true }> | number {
    request.resume();
    if (request.method !== 'GET') {
      response.setHeader('allow', 'GET');
      return sendError(response, 405, RpcCode.UNIMPLEMENTED, `method ${request.method} not allowed; use GET`);
    }
    const grant = this.access.authenticate(request.headersDistinct);
    if (!grant.ok) return sendError(response, 401, RpcCode.UNAUTHENTICATED, grant.message);
    return grant;
  }

  /** A cached (or shared in-flight) answer, read within the concurrency cap. */
  private async answer(
    response: ServerResponse,
    query: Exclude<UsageQuery, { view: 'limits' }> | Exclude<AdminUsageQuery, { view: 'export' }>,
  ): Promise<number> {
    const { value, outcome } = await this.cache.get(cacheKey(query), () =>
      this.admitted(async () => {
        const reader = await this.reader();
        return 'tenant' in query
          ? readAnswer(reader, query, this.limits)
          : readAdminAnswer(reader, query, this.limits);
      }),
    );
    this.onRead?.(outcome);
    response.setHeader('x-tallyhouse-cache', outcome);
    response.setHeader('cache-control', 'private, no-store');
    return sendAnswer(response, value);
  }

  /** The billing export: never cached (it streams), counted against the concurrency cap while it runs. */
  private async export(
    response: ServerResponse,
    query: Extract<AdminUsageQuery, { view: 'export' }>,
  ): Promise<number> {
    const status = await this.admitted(async () =>
      sendBillingExport(await this.reader(), query, this.limits, response),
    );
    this.onRead?.('miss');
    return status;
  }

  /** A failed read as its answer: 400 for a bad query or one past a size limit, 503 + Retry-After otherwise. */
  private refuse(request: IncomingMessage, response: ServerResponse, error: unknown): number {
    if (error instanceof UsageQueryError) {
      const code = error.status === 404 ? RpcCode.NOT_FOUND : RpcCode.INVALID_ARGUMENT;
      return sendError(response, error.status, code, error.message);
    }
    // The reader's errors by their stable code (its classes are not exported by the package).
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code === 'USAGE_READ_LIMIT' || error instanceof UsageAnswerTooLargeError) {
      this.onRefused?.('too_large');
      return sendError(response, 400, RpcCode.INVALID_ARGUMENT, (error as Error).message);
    }
    if (code === 'USAGE_READ_TIMEOUT') {
      this.onRefused?.('timeout');
      this.logger.warn({ url: request.url, timeoutMs: this.limits.queryTimeoutMs }, 'usage read timed out');
      response.setHeader('retry-after', this.retryAfter);
      return sendError(response, 503, DEADLINE_EXCEEDED, (error as Error).message);
    }
    if (error instanceof UsageReadsBusyError) {
      this.onRefused?.('busy');
      response.setHeader('retry-after', this.retryAfter);
      return sendError(response, 503, RpcCode.UNAVAILABLE, error.message);
    }
    if (error instanceof RangeError) return sendError(response, 400, RpcCode.INVALID_ARGUMENT, error.message);
    this.logger.error({ err: error, url: request.url }, 'usage query failed');
    response.setHeader('retry-after', this.retryAfter);
    return sendError(
      response,
      503,
      RpcCode.UNAVAILABLE,
      'usage query failed (storage unavailable?); retry later',
    );
  }

  /** `read` within the concurrency cap: past it, refused at once (a queue would only hold requests longer). */
  private async admitted<T>(read: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.maxConcurrent) {
      throw new UsageReadsBusyError(
        `${this.running} usage reads are running, the most ${USAGE_LIMIT_VARIABLES.maxConcurrent}=${this.limits.maxConcurrent} allows; retry after ${this.retryAfter} s`,
      );
    }
    this.running++;
    try {
      return await read();
    } finally {
      this.running--;
    }
  }
}

/** `/limits`: the tenant's quota (what is used and left of the running period) and rate limit, or null. */
function sendLimits(response: ServerResponse, tenant: string, status: LimitsStatus): number {
  const { quota, rate } = status;
  const quotas =
    quota === undefined
      ? []
      : [
          {
            period: quota.period,
            timeZone: quota.timeZone,
            limit: quota.points,
            used: quota.used,
            remaining: Math.max(0, quota.points - quota.used),
            periodStart: formatTime(BigInt(quota.periodStartMs) * 1_000_000n),
            resetsAt: formatTime(BigInt(quota.resetsAtMs) * 1_000_000n),
          },
        ];
  const body = JSON.stringify({ tenant, quotas, rate: rate ?? null });
  response.setHeader('cache-control', 'private, no-store');
  return sendAnswer(response, { parts: [Buffer.from(body)], bytes: Buffer.byteLength(body) });
}
