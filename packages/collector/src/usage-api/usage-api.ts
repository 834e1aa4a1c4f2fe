/**
 * `GET /v1/usage/{tenant}/(total|timeseries|top)`: tenant-scoped usage reads over the exporter's `UsageReader`,
 * answered as JSON. Order of checks: credentials (401), the caller may read that tenant (403), parameters (400),
 * then the cache (TTL + single flight), the concurrency cap (503) and storage.
 *
 * Every read is bounded (see `UsageReadLimits`): past a size limit → 400 naming it (and its variable) and how to
 * narrow the query; past the time limit → 503 + Retry-After; past the concurrency cap → 503 + Retry-After. Answers
 * are serialised line by line, handing the event loop back between slices. Error bodies are `google.rpc.Status`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Slicer, type UsageReader, type UsageReaderOptions } from '@tallyhouse/exporter-clickhouse';
import type { Logger } from 'pino';
import { COLLECTOR_DEFAULTS } from '../config.ts';
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
/** google.rpc.Code DEADLINE_EXCEEDED: the read ran out of time (sent with HTTP 503, see the README). */
const DEADLINE_EXCEEDED = 4;

export type UsageReaderSource = () => Promise<Pick<UsageReader, 'total' | 'timeSeries' | 'topN'>>;

/** Bounds of usage reads (TALLYHOUSE_USAGE_*; defaults and reasons in the collector README). */
export interface UsageReadLimits {
  /** Lines × buckets of a time series answer, zero-filled. */
  readonly maxPoints: number;
  /** Rows one storage statement may return: also the most lines of a time series and the largest top `limit`. */
  readonly maxRows: number;
  /** Bytes of an answer (its JSON), and of what one storage statement may return. */
  readonly maxBytes: number;
  /** Time of one read, every statement of it and the wait for the engine included. */
  readonly queryTimeoutMs: number;
  /** Engine memory of one statement. */
  readonly queryMemoryBytes: number;
  /** Reads running at once (cache hits and requests sharing a running read do not count). */
  readonly maxConcurrent: number;
}

/** The variable that sets each limit, for messages. */
export const USAGE_LIMIT_VARIABLES = {
  maxPoints: 'TALLYHOUSE_USAGE_MAX_POINTS',
  maxRows: 'TALLYHOUSE_USAGE_MAX_ROWS',
  maxBytes: 'TALLYHOUSE_USAGE_MAX_BYTES',
  timeoutMs: 'TALLYHOUSE_USAGE_QUERY_TIMEOUT_MS',
  maxMemoryBytes: 'TALLYHOUSE_USAGE_QUERY_MEMORY_MIB',
  maxConcurrent: 'TALLYHOUSE_USAGE_MAX_CONCURRENT',
} as const;

export type UsageRefusal = 'too_large' | 'timeout' | 'busy';

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
}

/** The collector's usage read limits from its settings. */
export function usageReadLimits(settings: {
  readonly usageMaxPoints: number;
  readonly usageMaxRows: number;
  readonly usageMaxBytes: number;
  readonly usageQueryTimeoutMs: number;
  readonly usageQueryMemoryMib: number;
  readonly usageMaxConcurrent: number;
}): UsageReadLimits {
  return {
    maxPoints: settings.usageMaxPoints,
    maxRows: settings.usageMaxRows,
    maxBytes: settings.usageMaxBytes,
    queryTimeoutMs: settings.usageQueryTimeoutMs,
    queryMemoryBytes: settings.usageQueryMemoryMib * 1024 * 1024,
    maxConcurrent: settings.usageMaxConcurrent,
  };
}

/** Past TALLYHOUSE_USAGE_MAX_CONCURRENT: 503 + Retry-After. */
export class UsageReadsBusyError extends Error {
  readonly code = 'USAGE_READS_BUSY';
}

/** An answer past TALLYHOUSE_USAGE_MAX_BYTES while being serialised: 400. */
export class UsageAnswerTooLargeError extends RangeError {
  readonly code = 'USAGE_ANSWER_TOO_LARGE';
}

type ReaderLimits = NonNullable<UsageReaderOptions['limits']>;

export class UsageApi {
  private readonly access: ReadAccess;
  private readonly reader: UsageReaderSource;
  private readonly cache: SingleFlightCache<Answer>;
  private readonly logger: Logger;
  private readonly onRead: ((outcome: CacheOutcome) => void) | undefined;
  private readonly onRefused: ((reason: UsageRefusal) => void) | undefined;
  private readonly limits: UsageReadLimits;
  private readonly readerLimits: ReaderLimits;
  private readonly retryAfter: string;
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
    this.readerLimits = {
      maxPoints: this.limits.maxPoints,
      maxRows: this.limits.maxRows,
      maxBytes: this.limits.maxBytes,
      timeoutMs: this.limits.queryTimeoutMs,
      maxMemoryBytes: this.limits.queryMemoryBytes,
      names: USAGE_LIMIT_VARIABLES,
    };
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
      const { value, outcome } = await this.cache.get(cacheKey(query), () => this.admitted(query));
      this.onRead?.(outcome);
      response.setHeader('x-tallyhouse-cache', outcome);
      response.setHeader('cache-control', 'private, no-store');
      return sendAnswer(response, value);
    } catch (error) {
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
      if (error instanceof RangeError)
        return sendError(response, 400, RpcCode.INVALID_ARGUMENT, error.message);
      this.logger.error({ err: error, url: request.url }, 'usage query failed');
      response.setHeader('retry-after', this.retryAfter);
      return sendError(
        response,
        503,
        RpcCode.UNAVAILABLE,
        'usage query failed (storage unavailable?); retry later',
      );
    }
  }

  /** `answer` within the concurrency cap: past it, refused at once (a queue would only hold requests longer). */
  private async admitted(query: UsageQuery): Promise<Answer> {
    if (this.running >= this.limits.maxConcurrent) {
      throw new UsageReadsBusyError(
        `${this.running} usage reads are running, the most ${USAGE_LIMIT_VARIABLES.maxConcurrent}=${this.limits.maxConcurrent} allows; retry after ${this.retryAfter} s`,
      );
    }
    this.running++;
    try {
      return await this.answer(query);
    } finally {
      this.running--;
    }
  }

  /** Runs the query and serialises the answer once; the cache keeps the bytes (in pieces, never copied whole). */
  private async answer(query: UsageQuery): Promise<Answer> {
    const reader = await this.reader();
    const limits = this.readerLimits;
    const out = new AnswerWriter(this.limits.maxBytes);
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
        const { total, rows } = await reader.total(query.tenant, filter, limits);
        out.write(JSON.stringify({ ...echo, total: number(total), rows }));
        return out.finish();
      }
      case 'top': {
        const entries = await reader.topN(
          query.tenant,
          { ...filter, by: query.by, limit: query.limit },
          limits,
        );
        out.write(
          JSON.stringify({
            ...echo,
            by: query.by,
            limit: query.limit,
            entries: entries.map((e) => ({ value: e.value, total: number(e.total), rows: e.rows })),
          }),
        );
        return out.finish();
      }
      case 'timeseries': {
        const series = await reader.timeSeries(
          query.tenant,
          {
            ...filter,
            kind: query.kind,
            step: query.step,
            range: { fromUnixNano: query.fromUnixNano, toUnixNano: query.toUnixNano },
            ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
          },
          limits,
        );
        const head = JSON.stringify({
          ...echo,
          kind: query.kind,
          step: series.step,
          ...(query.groupBy === undefined ? {} : { groupBy: query.groupBy }),
          // The buckets actually answered: the range widened outwards to whole steps.
          bucketsFrom: formatTime(series.fromUnixNano),
          bucketsTo: formatTime(series.toUnixNano),
        });
        out.write(`${head.slice(0, -1)},"lines":[`);
        // Every line has the same bucket starts: each is formatted once, not once per line.
        const slicer = new Slicer();
        const starts = (series.lines[0]?.points ?? []).map((p) => p.startUnixNano);
        const startJson: string[] = new Array(starts.length);
        for (let i = 0; i < starts.length; i++) {
          startJson[i] = JSON.stringify(formatTime(starts[i] as bigint));
          if ((i & SLICE_CHECK) === SLICE_CHECK && slicer.due()) await slicer.pause();
        }
        for (const [index, line] of series.lines.entries()) {
          out.write(`${index === 0 ? '' : ','}{"key":${JSON.stringify(line.key)},"points":[`);
          // Points in blocks, each its own piece of the answer: no long string to flatten, no large copy.
          const points = line.points;
          for (let first = 0; first < points.length; first += BLOCK) {
            const block: string[] = [];
            for (let i = first; i < Math.min(points.length, first + BLOCK); i++) {
              const p = points[i]!;
              const start =
                p.startUnixNano === starts[i] ? startJson[i] : JSON.stringify(formatTime(p.startUnixNano));
              block.push(`{"start":${start},"value":${valueJson(p.value)}}`);
            }
            out.write(`${first === 0 ? '' : ','}${block.join(',')}`);
            await slicer.tick();
          }
          out.write(']}');
          await slicer.tick();
        }
        out.write(']}');
        return out.finish();
      }
    }
  }
}

/** An answer: its JSON in pieces, as written (a large answer is never copied into one buffer). */
interface Answer {
  readonly parts: readonly Buffer[];
  readonly bytes: number;
}

/** An answer's JSON in pieces, refused as soon as it passes TALLYHOUSE_USAGE_MAX_BYTES. */
class AnswerWriter {
  private readonly parts: Buffer[] = [];
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  write(text: string): void {
    const part = Buffer.from(text, 'utf8');
    this.bytes += part.byteLength;
    if (this.bytes > this.maxBytes) {
      throw new UsageAnswerTooLargeError(
        `the answer is larger than ${USAGE_LIMIT_VARIABLES.maxBytes}=${this.maxBytes} bytes; narrow the query: ` +
          'a shorter range, a larger step, a filter (attr.<key>, service), or no group_by',
      );
    }
    this.parts.push(part);
  }

  finish(): Answer {
    return { parts: this.parts, bytes: this.bytes };
  }
}

/** Loops over points look at the clock once per this many + 1. */
const SLICE_CHECK = 1_023;
/** Points serialised into one piece of the answer. */
const BLOCK = 1_024;

/** A point's value as JSON: `null` before a gauge's first value, non-finite values as proto3 JSON strings. */
function valueJson(value: number | undefined): string {
  if (value === undefined) return 'null';
  // String() of a finite number is its JSON text.
  return Number.isFinite(value) ? String(value) : `"${String(value)}"`;
}

/** Non-finite values (gauges may hold them) as proto3 JSON spells them; JSON has no NaN. */
function number(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function sendError(response: ServerResponse, status: number, code: number, message: string): number {
  return send(response, status, Buffer.from(encodeRpcStatus({ code, message }, 'json')));
}

/** Writes the pieces as they are (the socket takes them as a vector), with the total length. */
function sendAnswer(response: ServerResponse, answer: Answer): number {
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.bytes });
  response.cork();
  for (const part of answer.parts) response.write(part);
  response.end();
  return 200;
}

function send(response: ServerResponse, status: number, body: Buffer): number {
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': body.byteLength });
  response.end(body);
  return status;
}
