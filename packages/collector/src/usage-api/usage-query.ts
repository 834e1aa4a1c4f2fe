/**
 * Parses and validates a `GET /v1/usage/{tenant}/{view}` request into a typed query. Every parameter is checked;
 * an unknown, repeated, missing or malformed one is a `UsageQueryError` (400) naming it.
 */
import { GAUGE_COMBINES, type GaugeCombine } from '@tallyhouse/exporter-clickhouse';
import { tenantProblem } from '@tallyhouse/model';
import { formatTime, parseQueryTime } from './time-format.ts';

export const USAGE_PREFIX = '/v1/usage/';
export const USAGE_VIEWS = ['total', 'timeseries', 'top', 'latest'] as const;
export type UsageView = (typeof USAGE_VIEWS)[number];
export const STEPS = ['1m', '1h', '1d'] as const;
export type UsageStep = (typeof STEPS)[number];

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
const MAX_PARAMETER_LENGTH = 1_024;

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

interface CommonQuery {
  readonly tenant: string;
  readonly metric: string;
  readonly service: string | undefined;
  /** Attribute key → accepted values (one value, or any of several). */
  readonly attributes: Readonly<Record<string, readonly string[]>>;
  readonly fromUnixNano: bigint | undefined;
  readonly toUnixNano: bigint | undefined;
}

export type UsageQuery =
  | (CommonQuery & { readonly view: 'total' })
  | (CommonQuery & {
      readonly view: 'timeseries';
      readonly step: UsageStep;
      readonly kind: 'sum' | 'gauge';
      readonly groupBy: string | undefined;
      /** Gauges: combine the sources per (unit, attributes); undefined = a line per source series. */
      readonly combine: GaugeCombine | undefined;
      readonly fromUnixNano: bigint;
      readonly toUnixNano: bigint;
    })
  | (CommonQuery & { readonly view: 'top'; readonly by: string; readonly limit: number })
  | (CommonQuery & { readonly view: 'latest'; readonly combine: GaugeCombine | undefined });

const COMMON = ['metric', 'from', 'to', 'service'];
const PARAMETERS: Record<UsageView, readonly string[]> = {
  total: COMMON,
  timeseries: [...COMMON, 'step', 'kind', 'group_by', 'combine'],
  top: [...COMMON, 'by', 'limit'],
  latest: [...COMMON, 'combine'],
};

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

/** Checks the tenant named in the path. */
export function checkTenant(tenant: string): string {
  const problem = tenantProblem(tenant);
  if (problem !== undefined) throw new UsageQueryError('tenant', problem);
  return tenant;
}

export function parseUsageQuery(tenant: string, view: UsageView, search: URLSearchParams): UsageQuery {
  const allowed = PARAMETERS[view];
  const single = new Map<string, string>();
  const attributeValues = new Map<string, string[]>();
  for (const [name, value] of search) {
    if (value.length > MAX_PARAMETER_LENGTH) {
      throw new UsageQueryError(name, `longer than ${MAX_PARAMETER_LENGTH} characters`);
    }
    if (name.startsWith('attr.')) {
      const key = name.slice('attr.'.length);
      if (key === '') throw new UsageQueryError(name, 'the attribute key after "attr." is empty');
      const values = attributeValues.get(key) ?? [];
      values.push(value);
      attributeValues.set(key, values);
      continue;
    }
    if (!allowed.includes(name)) {
      throw new UsageQueryError(
        name,
        `unknown parameter for /${view}; expected ${allowed.join(', ')} or attr.<key>`,
      );
    }
    if (single.has(name)) throw new UsageQueryError(name, 'given more than once');
    single.set(name, value);
  }
  // A Map first: an attribute named `__proto__` must stay an ordinary key.
  const attributes: Record<string, readonly string[]> = Object.fromEntries(attributeValues);
  const required = (name: string): string => {
    const value = single.get(name);
    if (value === undefined || value === '') throw new UsageQueryError(name, 'required');
    return value;
  };
  const time = (name: string): bigint | undefined => {
    const raw = single.get(name);
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
  const fromUnixNano = time('from');
  const toUnixNano = time('to');
  if (fromUnixNano !== undefined && toUnixNano !== undefined && toUnixNano <= fromUnixNano) {
    throw new UsageQueryError(
      'to',
      `must be after from (${formatTime(fromUnixNano)}), got ${formatTime(toUnixNano)}`,
    );
  }
  const service = single.get('service');
  if (service === '') throw new UsageQueryError('service', 'empty');
  const rawCombine = single.get('combine');
  if (rawCombine !== undefined && !(GAUGE_COMBINES as readonly string[]).includes(rawCombine)) {
    throw new UsageQueryError(
      'combine',
      `expected one of ${GAUGE_COMBINES.join(', ')}, got ${JSON.stringify(rawCombine)}`,
    );
  }
  const combine = rawCombine as GaugeCombine | undefined;
  const common: CommonQuery = {
    tenant,
    metric: required('metric'),
    service,
    attributes,
    fromUnixNano,
    toUnixNano,
  };
  switch (view) {
    case 'total':
      return { ...common, view };
    case 'latest':
      return { ...common, view, combine };
    case 'top': {
      const by = required('by');
      const rawLimit = single.get('limit');
      const limit = rawLimit === undefined ? DEFAULT_TOP_LIMIT : Number(rawLimit);
      if (rawLimit !== undefined && (!/^\d+$/.test(rawLimit) || limit < 1 || limit > MAX_TOP_LIMIT)) {
        throw new UsageQueryError(
          'limit',
          `expected an integer from 1 to ${MAX_TOP_LIMIT}, got ${JSON.stringify(rawLimit)}`,
        );
      }
      return { ...common, view, by, limit };
    }
    case 'timeseries': {
      const rawStep = required('step');
      if (!(STEPS as readonly string[]).includes(rawStep)) {
        throw new UsageQueryError(
          'step',
          `expected one of ${STEPS.join(', ')}, got ${JSON.stringify(rawStep)}`,
        );
      }
      const step = rawStep as UsageStep;
      const rawKind = single.get('kind') ?? 'sum';
      if (rawKind !== 'sum' && rawKind !== 'gauge') {
        throw new UsageQueryError('kind', `expected sum or gauge, got ${JSON.stringify(rawKind)}`);
      }
      const groupBy = single.get('group_by');
      if (groupBy === '') throw new UsageQueryError('group_by', 'empty');
      if (groupBy !== undefined && rawKind === 'gauge') {
        throw new UsageQueryError('group_by', 'only for kind=sum (gauges answer one line per series)');
      }
      if (combine !== undefined && rawKind !== 'gauge') {
        throw new UsageQueryError('combine', 'only for kind=gauge (sums already add up across sources)');
      }
      if (fromUnixNano === undefined) throw new UsageQueryError('from', 'required for a time series');
      if (toUnixNano === undefined) throw new UsageQueryError('to', 'required for a time series');
      const stepNs = STEP_NS[step];
      const buckets = (toUnixNano - fromUnixNano + stepNs - 1n) / stepNs + 1n;
      if (buckets > BigInt(MAX_BUCKETS)) {
        throw new UsageQueryError(
          'step',
          `from..to holds about ${buckets} buckets of ${step}, more than ${MAX_BUCKETS}: use a larger step or a shorter range`,
        );
      }
      return { ...common, view, step, kind: rawKind, groupBy, combine, fromUnixNano, toUnixNano };
    }
  }
}

/** A stable key of everything that decides the answer — the tenant first. */
export function cacheKey(query: UsageQuery): string {
  const attributes = Object.keys(query.attributes)
    .sort()
    .map((key) => [key, [...(query.attributes[key] ?? [])].sort()]);
  return JSON.stringify({ ...query, attributes }, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}
