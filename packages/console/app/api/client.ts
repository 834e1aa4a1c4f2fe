/**
 * The console's only way to the collector: GET requests to its HTTP API with `Authorization: Bearer <admin key>`.
 * A 401 becomes `WrongKeyError` (the app returns to the key form); other errors carry the API's `{code, message}`.
 * At most `MAX_IN_FLIGHT` requests run at once: the collector refuses usage reads past its own concurrency cap
 * (TALLYHOUSE_USAGE_MAX_CONCURRENT, 8 by default) with a 503, and a page asks for several panels at a time.
 */
import type {
  AttributesAnswer,
  LatestAnswer,
  LimitsAnswer,
  MetricsAnswer,
  Step,
  TimeSeriesAnswer,
  TopAnswer,
  TopTenantsAnswer,
  TotalAnswer,
} from './types.ts';

const MAX_IN_FLIGHT = 4;

/** The key was refused (HTTP 401). */
export class WrongKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WrongKeyError';
  }
}

/** Any other failed request: the HTTP status and the API's message. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Query parameters; `undefined` values are left out, arrays repeat the parameter. */
export type Params = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/** A time range as the API takes it: instants, or a calendar period in a time zone. */
export type RangeParams =
  | { readonly from: string; readonly to: string; readonly tz?: string }
  | { readonly period: string; readonly tz: string };

export class ApiClient {
  private readonly key: string;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Requests started and not yet settled (queued ones too): the test hook's idle signal. */
  pending = 0;

  constructor(key: string) {
    this.key = key;
  }

  async get<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
    this.pending++;
    try {
      await this.slot(signal);
      try {
        return await this.fetchJson<T>(path, params, signal);
      } finally {
        this.release();
      }
    } finally {
      this.pending--;
    }
  }

  private async slot(signal: AbortSignal | undefined): Promise<void> {
    while (this.running >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    if (signal?.aborted) {
      this.release();
      signal.throwIfAborted();
    }
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
  }

  private async fetchJson<T>(path: string, params: Params, signal: AbortSignal | undefined): Promise<T> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const one of value) search.append(name, one);
      else search.append(name, String(value));
    }
    const query = search.size === 0 ? '' : `?${search}`;
    const response = await fetch(`${path}${query}`, {
      headers: { authorization: `Bearer ${this.key}`, accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      ...(signal === undefined ? {} : { signal }),
    });
    const text = await response.text();
    if (response.ok) return JSON.parse(text) as T;
    const message = errorMessage(text) ?? `${response.status} ${response.statusText}`;
    if (response.status === 401) throw new WrongKeyError(message);
    throw new ApiError(response.status, message);
  }

  // ---- tenant reads ----

  tenantMetrics(tenant: string, signal?: AbortSignal): Promise<MetricsAnswer> {
    return this.get(`${usagePath(tenant)}/metrics`, {}, signal);
  }

  attributes(tenant: string, metric: string, signal?: AbortSignal): Promise<AttributesAnswer> {
    return this.get(`${usagePath(tenant)}/attributes`, { metric }, signal);
  }

  limits(tenant: string, signal?: AbortSignal): Promise<LimitsAnswer> {
    return this.get(`${usagePath(tenant)}/limits`, {}, signal);
  }

  total(tenant: string, metric: string, range: RangeParams, signal?: AbortSignal): Promise<TotalAnswer> {
    return this.get(`${usagePath(tenant)}/total`, { metric, ...periodOnlyZone(range) }, signal);
  }

  timeSeries(
    tenant: string,
    query: SeriesQuery & { kind: 'sum' | 'gauge'; groupBy?: string; combine?: string },
    signal?: AbortSignal,
  ): Promise<TimeSeriesAnswer> {
    return this.get(
      `${usagePath(tenant)}/timeseries`,
      {
        metric: query.metric,
        step: query.step,
        kind: query.kind,
        group_by: query.groupBy,
        combine: query.combine,
        ...seriesRange(query),
      },
      signal,
    );
  }

  top(
    tenant: string,
    query: { metric: string; by: string; limit: number; range: RangeParams },
    signal?: AbortSignal,
  ): Promise<TopAnswer> {
    return this.get(
      `${usagePath(tenant)}/top`,
      { metric: query.metric, by: query.by, limit: query.limit, ...periodOnlyZone(query.range) },
      signal,
    );
  }

  latest(tenant: string, metric: string, signal?: AbortSignal): Promise<LatestAnswer> {
    return this.get(`${usagePath(tenant)}/latest`, { metric }, signal);
  }

  // ---- every tenant (admin key) ----

  adminMetrics(signal?: AbortSignal): Promise<MetricsAnswer> {
    return this.get('/v1/admin/metrics', {}, signal);
  }

  topTenants(
    metric: string,
    range: RangeParams,
    limit: number,
    signal?: AbortSignal,
  ): Promise<TopTenantsAnswer> {
    return this.get('/v1/admin/tenants', { metric, limit, ...periodOnlyZone(range) }, signal);
  }

  adminTimeSeries(query: SeriesQuery, signal?: AbortSignal): Promise<TimeSeriesAnswer> {
    return this.get(
      '/v1/admin/timeseries',
      { metric: query.metric, step: query.step, ...seriesRange(query) },
      signal,
    );
  }
}

export interface SeriesQuery {
  readonly metric: string;
  readonly step: Step;
  readonly range: RangeParams;
}

function usagePath(tenant: string): string {
  return `/v1/usage/${encodeURIComponent(tenant)}`;
}

/** The API takes `tz` only where it changes the answer: with a period, or local days (`step=1d`). */
function periodOnlyZone(range: RangeParams): Params {
  return 'period' in range ? { period: range.period, tz: range.tz } : { from: range.from, to: range.to };
}

function seriesRange(query: SeriesQuery): Params {
  const { range, step } = query;
  if ('period' in range) return { period: range.period, tz: range.tz };
  return { from: range.from, to: range.to, tz: step === '1d' ? range.tz : undefined };
}

function errorMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : undefined;
  } catch {
    return undefined;
  }
}
