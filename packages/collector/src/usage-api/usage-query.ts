/**
 * Parses and validates usage requests into typed queries: `GET /v1/usage/{tenant}/{view}` (tenant reads) and
 * `GET /v1/admin/{view}` (every tenant; the admin key only). Every parameter is checked; an unknown, repeated,
 * missing or malformed one is a `UsageQueryError` (400) naming it.
 *
 * A range is `from`/`to` (instants), or `period` — a month `2026-03` or a day `2026-03-08` — in the calendar of
 * `tz` (an IANA name, default UTC): a customer in New York is billed on New York days. `tz` also makes `1d`
 * time-series buckets local days; anywhere else it would change nothing, and is refused rather than ignored.
 */
import { GAUGE_COMBINES, type GaugeCombine } from '@tallyhouse/exporter-clickhouse';
import { checkTimeZone, parsePeriod, tenantProblem, timeZoneProblem, UTC } from '@tallyhouse/model';
import { formatTime, parseQueryTime } from './time-format.ts';
export const USAGE_PREFIX = '/v1/usage/';
export const ADMIN_PREFIX = '/v1/admin/';
export const USAGE_VIEWS = [
  'total',
  'timeseries',
  'top',
  'latest',
  'metrics',
  'attributes',
  'limits',
] as const;
export type UsageView = (typeof USAGE_VIEWS)[number];
export const ADMIN_VIEWS = ['metrics', 'tenants', 'timeseries', 'export'] as const;
export type AdminView = (typeof ADMIN_VIEWS)[number];
export const STEPS = ['1m', '1h', '1d'] as const;
export type UsageStep = (typeof STEPS)[number];
export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const STEP_NS: Record<UsageStep, bigint> = {
  '1m': 60_000_000_000n,
  '1h': 3_600_000_000_000n,
  '1d': 86_400_000_000_000n,
};

/**
 * Most buckets one line of a time series may hold: a week at 1m (10,080) fits, as in Prometheus (11,000 points
 * per series). Lines × buckets is bounded separately (TALLYHOUSE_USAGE_MAX_POINTS).
 */
export const MAX_BUCKETS = 11_000;
export const MAX_TOP_LIMIT = 1_000;
export const DEFAULT_TOP_LIMIT = 10;
/** Most metrics and `group_by` attributes one export names. */
export const MAX_EXPORT_METRICS = 100;
export const MAX_EXPORT_GROUPS = 8;
const MAX_PARAMETER_LENGTH = 1_024;
const NANOS_PER_MS = 1_000_000n;

export class UsageQueryError extends Error {
  readonly code = 'INVALID_USAGE_QUERY';
  readonly status: number;
  /** The query parameter (or path segment) at fault. */
  readonly parameter: string;

  constructor(parameter: string, message: string, status = 400) {
    super(`${parameter}: ${message}`);
    this.parameter = parameter;
    this.status = status;
  }
}

/** The range of a read, and how it was named. */
interface RangeQuery {
  readonly fromUnixNano: bigint | undefined;
  readonly toUnixNano: bigint | undefined;
  /** `2026-03` or `2026-03-08` when the range was named by `period`. */
  readonly period: string | undefined;
  /** The canonical `tz` when given. */
  readonly timeZone: string | undefined;
}

/** What a read of one metric selects. */
interface FilterQuery extends RangeQuery {
  readonly metric: string;
  readonly service: string | undefined;
  /** Attribute key → accepted values (one value, or any of several). */
  readonly attributes: Readonly<Record<string, readonly string[]>>;
}

interface CommonQuery extends FilterQuery {
  readonly tenant: string;
}

interface SeriesQuery {
  readonly step: UsageStep;
  readonly fromUnixNano: bigint;
  readonly toUnixNano: bigint;
}

export type UsageQuery =
  | (CommonQuery & { readonly view: 'total' })
  | (CommonQuery &
      SeriesQuery & {
        readonly view: 'timeseries';
        readonly kind: 'sum' | 'gauge';
        readonly groupBy: string | undefined;
        /** Gauges: combine the sources per (unit, attributes); undefined = a line per source series. */
        readonly combine: GaugeCombine | undefined;
      })
  | (CommonQuery & { readonly view: 'top'; readonly by: string; readonly limit: number })
  | (CommonQuery & { readonly view: 'latest'; readonly combine: GaugeCombine | undefined })
  | { readonly view: 'metrics'; readonly tenant: string }
  | { readonly view: 'attributes'; readonly tenant: string; readonly metric: string }
  | { readonly view: 'limits'; readonly tenant: string };

export type AdminUsageQuery =
  | { readonly view: 'metrics' }
  | (FilterQuery & { readonly view: 'tenants'; readonly limit: number })
  | (FilterQuery & SeriesQuery & { readonly view: 'timeseries'; readonly groupBy: string | undefined })
  | (RangeQuery & {
      readonly view: 'export';
      readonly metrics: readonly string[];
      readonly groupBy: readonly string[];
      readonly format: ExportFormat;
    });

const FILTER = ['metric', 'from', 'to', 'service'];
const CALENDAR = ['period', 'tz'];
const PARAMETERS: Record<UsageView, readonly string[]> = {
  total: [...FILTER, ...CALENDAR],
  timeseries: [...FILTER, ...CALENDAR, 'step', 'kind', 'group_by', 'combine'],
  top: [...FILTER, ...CALENDAR, 'by', 'limit'],
  latest: [...FILTER, 'combine'],
  metrics: [],
  attributes: ['metric'],
  limits: [],
};
const ADMIN_PARAMETERS: Record<AdminView, readonly string[]> = {
  metrics: [],
  tenants: [...FILTER, ...CALENDAR, 'limit'],
  timeseries: [...FILTER, ...CALENDAR, 'step', 'group_by'],
  export: ['metric', 'from', 'to', ...CALENDAR, 'group_by', 'format'],
};
/** Views whose `attr.<key>` filters apply. */
const FILTERED = new Set(['total', 'timeseries', 'top', 'latest', 'tenants']);
/** Parameters an export may repeat. */
const EXPORT_REPEATED = new Set(['metric', 'group_by']);

/** `{ tenant, view }` of a usage path, or a 404-style error. The tenant segment is percent-decoded. */
export function parseUsagePath(pathname: string): { tenant: string; view: UsageView } {
  const rest = pathname.slice(USAGE_PREFIX.length).split('/');
  if (rest.length !== 2 || !(USAGE_VIEWS as readonly string[]).includes(rest[1]!)) {
    throw new UsageQueryError(
      'path',
      `no usage route ${JSON.stringify(pathname)}; use /v1/usage/{tenant}/(${USAGE_VIEWS.join('|')})`,
      404,
    );
  }
  let tenant: string;
  try {
    tenant = decodeURIComponent(rest[0]!);
  } catch {
    throw new UsageQueryError('tenant', 'the path segment is not valid percent-encoded UTF-8');
  }
  return { tenant, view: rest[1] as UsageView };
}

/** The view of an admin path, or a 404-style error. */
export function parseAdminPath(pathname: string): AdminView {
  const view = pathname.slice(ADMIN_PREFIX.length);
  if (!(ADMIN_VIEWS as readonly string[]).includes(view)) {
    throw new UsageQueryError(
      'path',
      `no admin route ${JSON.stringify(pathname)}; use /v1/admin/(${ADMIN_VIEWS.join('|')})`,
      404,
    );
  }
  return view as AdminView;
}

/** Checks the tenant named in the path. */
export function checkTenant(tenant: string): string {
  const problem = tenantProblem(tenant);
  if (problem !== undefined) throw new UsageQueryError('tenant', problem);
  return tenant;
}

export function parseUsageQuery(tenant: string, view: UsageView, search: URLSearchParams): UsageQuery {
  const given = collect(search, view, PARAMETERS[view], new Set());
  if (view === 'metrics' || view === 'limits') return { view, tenant };
  if (view === 'attributes') return { view, tenant, metric: given.required('metric') };
  const combine = parseCombine(given);
  const filter = (step?: UsageStep) => parseFilter(given, step);
  switch (view) {
    case 'total':
      return { ...filter(), tenant, view };
    case 'latest':
      return { ...filter(), tenant, view, combine };
    case 'top':
      return { ...filter(), tenant, view, by: given.required('by'), limit: parseLimit(given) };
    case 'timeseries': {
      const step = parseStep(given);
      const rawKind = given.single.get('kind') ?? 'sum';
      if (rawKind !== 'sum' && rawKind !== 'gauge') {
        throw new UsageQueryError('kind', `expected sum or gauge, got ${JSON.stringify(rawKind)}`);
      }
      const groupBy = parseGroupBy(given);
      if (groupBy !== undefined && rawKind === 'gauge') {
        throw new UsageQueryError('group_by', 'only for kind=sum (gauges answer one line per series)');
      }
      if (combine !== undefined && rawKind !== 'gauge') {
        throw new UsageQueryError('combine', 'only for kind=gauge (sums already add up across sources)');
      }
      const base = filter(step);
      return { ...base, ...seriesRange(base, step), tenant, view, kind: rawKind, groupBy, combine };
    }
  }
}

/** An admin request's query; `accept` (the Accept header) chooses an export's format when `format` is absent. */
export function parseAdminQuery(
  view: AdminView,
  search: URLSearchParams,
  accept: string | undefined,
): AdminUsageQuery {
  const given = collect(
    search,
    view,
    ADMIN_PARAMETERS[view],
    view === 'export' ? EXPORT_REPEATED : new Set(),
  );
  switch (view) {
    case 'metrics':
      return { view };
    case 'tenants':
      return { ...parseFilter(given), view, limit: parseLimit(given) };
    case 'timeseries': {
      const step = parseStep(given);
      const base = parseFilter(given, step);
      return { ...base, ...seriesRange(base, step), view, groupBy: parseGroupBy(given) };
    }
    case 'export': {
      const metrics = given.repeated.get('metric') ?? [];
      if (metrics.length === 0)
        throw new UsageQueryError('metric', 'required (repeat it for several metrics)');
      if (metrics.length > MAX_EXPORT_METRICS) {
        throw new UsageQueryError(
          'metric',
          `at most ${MAX_EXPORT_METRICS} metrics per export, got ${metrics.length}`,
        );
      }
      const groupBy = given.repeated.get('group_by') ?? [];
      if (groupBy.length > MAX_EXPORT_GROUPS) {
        throw new UsageQueryError(
          'group_by',
          `at most ${MAX_EXPORT_GROUPS} attributes, got ${groupBy.length}`,
        );
      }
      if (new Set(groupBy).size !== groupBy.length)
        throw new UsageQueryError('group_by', 'an attribute is named twice');
      const range = parseRange(given);
      if (range.fromUnixNano === undefined || range.toUnixNano === undefined) {
        throw new UsageQueryError(
          'period',
          'required: a month (2026-03) or day (2026-03-08), or both from and to',
        );
      }
      return { ...range, view, metrics, groupBy, format: parseFormat(given, accept) };
    }
  }
}

/** The parameters of one request, checked against what its view takes. */
interface GivenParameters {
  readonly single: ReadonlyMap<string, string>;
  readonly repeated: ReadonlyMap<string, readonly string[]>;
  readonly attributes: Readonly<Record<string, readonly string[]>>;
  required(name: string): string;
}

function collect(
  search: URLSearchParams,
  view: string,
  allowed: readonly string[],
  repeatable: ReadonlySet<string>,
): GivenParameters {
  const single = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  const attributeValues = new Map<string, string[]>();
  for (const [name, value] of search) {
    if (value.length > MAX_PARAMETER_LENGTH) {
      throw new UsageQueryError(name, `longer than ${MAX_PARAMETER_LENGTH} characters`);
    }
    if (name.startsWith('attr.') && FILTERED.has(view)) {
      const key = name.slice('attr.'.length);
      if (key === '') throw new UsageQueryError(name, 'the attribute key after "attr." is empty');
      const values = attributeValues.get(key) ?? [];
      values.push(value);
      attributeValues.set(key, values);
      continue;
    }
    if (!allowed.includes(name)) {
      const expected = allowed.length === 0 ? 'none' : allowed.join(', ');
      throw new UsageQueryError(
        name,
        `unknown parameter for /${view}; expected ${expected}${FILTERED.has(view) ? ' or attr.<key>' : ''}`,
      );
    }
    if (repeatable.has(name)) {
      if (value === '') throw new UsageQueryError(name, 'empty');
      repeated.set(name, [...(repeated.get(name) ?? []), value]);
      continue;
    }
    if (single.has(name)) throw new UsageQueryError(name, 'given more than once');
    single.set(name, value);
  }
  return {
    single,
    repeated,
    // A Map first: an attribute named `__proto__` must stay an ordinary key.
    attributes: Object.fromEntries(attributeValues),
    required(name) {
      const value = single.get(name);
      if (value === undefined || value === '') throw new UsageQueryError(name, 'required');
      return value;
    },
  };
}

function parseFilter(given: GivenParameters, step?: UsageStep): FilterQuery {
  const service = given.single.get('service');
  if (service === '') throw new UsageQueryError('service', 'empty');
  return {
    metric: given.required('metric'),
    service,
    attributes: given.attributes,
    ...parseRange(given, step),
  };
}

/** `from`/`to`, or `period` in `tz`; `tz` only where it changes the answer (a period, `1d` buckets). */
function parseRange(given: GivenParameters, step?: UsageStep): RangeQuery {
  const time = (name: string): bigint | undefined => {
    const raw = given.single.get(name);
    if (raw === undefined) return undefined;
    const value = parseQueryTime(raw);
    if (value === undefined) {
      throw new UsageQueryError(
        name,
        `expected RFC 3339 (2025-01-31T00:00:00Z) or Unix milliseconds, got ${JSON.stringify(raw)}`,
      );
    }
    return value;
  };
  const rawZone = given.single.get('tz');
  let timeZone: string | undefined;
  if (rawZone !== undefined) {
    const problem = timeZoneProblem(rawZone);
    if (problem !== undefined) throw new UsageQueryError('tz', problem);
    timeZone = checkTimeZone(rawZone);
  }
  const period = given.single.get('period');
  if (period !== undefined) {
    for (const name of ['from', 'to']) {
      if (given.single.has(name)) {
        throw new UsageQueryError('period', `give either period or from/to, not both (${name} was given)`);
      }
    }
    let named: ReturnType<typeof parsePeriod>;
    try {
      named = parsePeriod(period, timeZone ?? UTC);
    } catch (error) {
      throw new UsageQueryError('period', (error as Error).message);
    }
    return {
      fromUnixNano: BigInt(named.startMs) * NANOS_PER_MS,
      toUnixNano: BigInt(named.endMs) * NANOS_PER_MS,
      period,
      timeZone,
    };
  }
  if (timeZone !== undefined && step !== '1d') {
    throw new UsageQueryError(
      'tz',
      'only with period (a local month or day) or step=1d (local days); with from/to alone it changes nothing',
    );
  }
  const fromUnixNano = time('from');
  const toUnixNano = time('to');
  if (fromUnixNano !== undefined && toUnixNano !== undefined && toUnixNano <= fromUnixNano) {
    throw new UsageQueryError(
      'to',
      `must be after from (${formatTime(fromUnixNano)}), got ${formatTime(toUnixNano)}`,
    );
  }
  return { fromUnixNano, toUnixNano, period: undefined, timeZone };
}

function parseStep(given: GivenParameters): UsageStep {
  const rawStep = given.required('step');
  if (!(STEPS as readonly string[]).includes(rawStep)) {
    throw new UsageQueryError('step', `expected one of ${STEPS.join(', ')}, got ${JSON.stringify(rawStep)}`);
  }
  return rawStep as UsageStep;
}

/** A time series needs both bounds, and at most `MAX_BUCKETS` buckets of its step. */
function seriesRange(range: RangeQuery, step: UsageStep): SeriesQuery {
  const { fromUnixNano, toUnixNano } = range;
  if (fromUnixNano === undefined) throw new UsageQueryError('from', 'required for a time series (or period)');
  if (toUnixNano === undefined) throw new UsageQueryError('to', 'required for a time series (or period)');
  const stepNs = STEP_NS[step];
  const buckets = (toUnixNano - fromUnixNano + stepNs - 1n) / stepNs + 1n;
  if (buckets > BigInt(MAX_BUCKETS)) {
    throw new UsageQueryError(
      'step',
      `from..to holds about ${buckets} buckets of ${step}, more than ${MAX_BUCKETS}: use a larger step or a shorter range`,
    );
  }
  return { step, fromUnixNano, toUnixNano };
}

function parseGroupBy(given: GivenParameters): string | undefined {
  const groupBy = given.single.get('group_by');
  if (groupBy === '') throw new UsageQueryError('group_by', 'empty');
  return groupBy;
}

function parseCombine(given: GivenParameters): GaugeCombine | undefined {
  const combine = given.single.get('combine');
  if (combine !== undefined && !(GAUGE_COMBINES as readonly string[]).includes(combine)) {
    throw new UsageQueryError(
      'combine',
      `expected one of ${GAUGE_COMBINES.join(', ')}, got ${JSON.stringify(combine)}`,
    );
  }
  return combine as GaugeCombine | undefined;
}

function parseLimit(given: GivenParameters): number {
  const raw = given.single.get('limit');
  if (raw === undefined) return DEFAULT_TOP_LIMIT;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_TOP_LIMIT) {
    throw new UsageQueryError(
      'limit',
      `expected an integer from 1 to ${MAX_TOP_LIMIT}, got ${JSON.stringify(raw)}`,
    );
  }
  return limit;
}

/** `format`, else the Accept header (`text/csv` → csv), else JSON lines. */
function parseFormat(given: GivenParameters, accept: string | undefined): ExportFormat {
  const format = given.single.get('format');
  if (format !== undefined) {
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new UsageQueryError(
        'format',
        `expected one of ${EXPORT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`,
      );
    }
    return format as ExportFormat;
  }
  return accept !== undefined && /\btext\/csv\b/i.test(accept) ? 'csv' : 'jsonl';
}

/** A stable key of everything that decides the answer — the tenant (or `admin`) first. */
export function cacheKey(query: UsageQuery | AdminUsageQuery): string {
  const scope = 'tenant' in query ? { tenant: query.tenant } : { admin: true };
  const given = 'attributes' in query ? query.attributes : {};
  const attributes = Object.keys(given)
    .sort()
    .map((key) => [key, [...(given[key] ?? [])].sort()]);
  return JSON.stringify({ ...scope, ...query, attributes }, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}
