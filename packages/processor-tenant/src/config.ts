import { ConfigError } from './errors.ts';
import { DEFAULT_TENANT_ATTRIBUTE, tenantProblem } from './tenant.ts';

export interface AccumulatorOptions {
  /** Data-point attribute carrying the tenant. Env `TALLYHOUSE_TENANT_ATTRIBUTE`, default `tenant.id`. */
  tenantAttribute?: string;
  /** Resource attribute consulted when a point carries no tenant (asynchronous instruments). Default: `tenantAttribute`. */
  resourceTenantAttribute?: string;
  /** Tenant for points that carry none. Env `TALLYHOUSE_DEFAULT_TENANT`; unset → such points are rejected. */
  defaultTenant?: string;
  /** Resource attributes kept in series identity and storage. Env `TALLYHOUSE_KEEP_RESOURCE_ATTRIBUTES` (comma list). */
  keepResourceAttributes?: readonly string[];
  /** Distinct series per tenant before new ones fold into one overflow series. Env `TALLYHOUSE_MAX_SERIES_PER_TENANT`. */
  maxSeriesPerTenant?: number;
  /** Series held in memory (buffered + in flight) before new data is refused. Env `TALLYHOUSE_MAX_BUFFERED_SERIES`. */
  maxBufferedSeries?: number;
  /** Cumulative source streams remembered for delta conversion. Env `TALLYHOUSE_MAX_TRACKED_STREAMS`. */
  maxTrackedStreams?: number;
  /**
   * Cumulative source streams one tenant may have remembered; past it that tenant's new streams are rejected
   * (reported as rejected points), others' are not. Env `TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT`, default
   * a tenth of `maxTrackedStreams`.
   */
  maxTrackedStreamsPerTenant?: number;
  /** A cumulative stream silent this long is forgotten. Env `TALLYHOUSE_STREAM_STALENESS_MS`. */
  streamStalenessMs?: number;
  /** Bucket limit per side when exponential histograms merge. */
  maxExponentialBuckets?: number;
  /** Clock in milliseconds, injectable for tests. */
  now?: () => number;
}

export interface FlushOptions {
  /** Flush at least this often. Env `TALLYHOUSE_FLUSH_INTERVAL_MS`, default 10000. */
  flushIntervalMs?: number;
  /** Flush as soon as this many series are buffered. Env `TALLYHOUSE_FLUSH_MAX_SERIES`, default 50000. */
  flushMaxSeries?: number;
  /** Points per batch handed to the next stage. Env `TALLYHOUSE_MAX_BATCH_POINTS`, default 10000. */
  maxBatchPoints?: number;
  /** How long `shutdown()` keeps retrying to drain. Env `TALLYHOUSE_SHUTDOWN_TIMEOUT_MS`, default 10000. */
  shutdownTimeoutMs?: number;
}

export type ResolvedAccumulatorOptions = Required<Omit<AccumulatorOptions, 'defaultTenant'>> & {
  defaultTenant: string | undefined;
};
export type ResolvedFlushOptions = Required<FlushOptions>;

type Env = Readonly<Record<string, string | undefined>>;

export const ACCUMULATOR_DEFAULTS = {
  tenantAttribute: DEFAULT_TENANT_ATTRIBUTE,
  keepResourceAttributes: ['service.name'],
  maxSeriesPerTenant: 10_000,
  maxBufferedSeries: 200_000,
  maxTrackedStreams: 500_000,
  streamStalenessMs: 3_600_000,
  maxExponentialBuckets: 160,
} as const;

/**
 * Unless set, `maxTrackedStreamsPerTenant` is `maxTrackedStreams` divided by this: one tenant holds at most a
 * tenth, so it takes ten tenants at their full share to reach the global cap (README: why a tenth).
 */
export const TRACKED_STREAMS_SHARE_DIVISOR = 10;

export const FLUSH_DEFAULTS: ResolvedFlushOptions = {
  flushIntervalMs: 10_000,
  flushMaxSeries: 50_000,
  maxBatchPoints: 10_000,
  shutdownTimeoutMs: 10_000,
};

/** Options win over environment variables, which win over defaults. Every value is validated here, once. */
export function resolveAccumulatorOptions(options: AccumulatorOptions = {}, env: Env = process.env) {
  const tenantAttribute =
    options.tenantAttribute ?? env.TALLYHOUSE_TENANT_ATTRIBUTE ?? ACCUMULATOR_DEFAULTS.tenantAttribute;
  requireName('TALLYHOUSE_TENANT_ATTRIBUTE', tenantAttribute);
  const resourceTenantAttribute = options.resourceTenantAttribute ?? tenantAttribute;
  requireName('resourceTenantAttribute', resourceTenantAttribute);
  const defaultTenant = options.defaultTenant ?? emptyToUndefined(env.TALLYHOUSE_DEFAULT_TENANT);
  if (defaultTenant !== undefined) {
    const problem = tenantProblem(defaultTenant);
    if (problem) throw new ConfigError('TALLYHOUSE_DEFAULT_TENANT', problem);
  }
  const keepResourceAttributes =
    options.keepResourceAttributes ??
    parseList(env.TALLYHOUSE_KEEP_RESOURCE_ATTRIBUTES) ??
    ACCUMULATOR_DEFAULTS.keepResourceAttributes;
  for (const name of keepResourceAttributes) requireName('TALLYHOUSE_KEEP_RESOURCE_ATTRIBUTES', name);
  const maxTrackedStreams = positiveInt(
    'TALLYHOUSE_MAX_TRACKED_STREAMS',
    options.maxTrackedStreams,
    env,
    ACCUMULATOR_DEFAULTS.maxTrackedStreams,
  );
  return {
    tenantAttribute,
    resourceTenantAttribute,
    defaultTenant,
    keepResourceAttributes: [...keepResourceAttributes],
    maxSeriesPerTenant: positiveInt(
      'TALLYHOUSE_MAX_SERIES_PER_TENANT',
      options.maxSeriesPerTenant,
      env,
      ACCUMULATOR_DEFAULTS.maxSeriesPerTenant,
    ),
    maxBufferedSeries: positiveInt(
      'TALLYHOUSE_MAX_BUFFERED_SERIES',
      options.maxBufferedSeries,
      env,
      ACCUMULATOR_DEFAULTS.maxBufferedSeries,
    ),
    maxTrackedStreams,
    maxTrackedStreamsPerTenant: positiveInt(
      'TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT',
      options.maxTrackedStreamsPerTenant,
      env,
      Math.max(1, Math.floor(maxTrackedStreams / TRACKED_STREAMS_SHARE_DIVISOR)),
    ),
    streamStalenessMs: timerMs(
      'TALLYHOUSE_STREAM_STALENESS_MS',
      options.streamStalenessMs,
      env,
      ACCUMULATOR_DEFAULTS.streamStalenessMs,
    ),
    maxExponentialBuckets: atLeastTwoBuckets(options.maxExponentialBuckets),
    now: options.now ?? Date.now,
  } satisfies ResolvedAccumulatorOptions;
}

export function resolveFlushOptions(
  options: FlushOptions = {},
  env: Env = process.env,
): ResolvedFlushOptions {
  return {
    flushIntervalMs: timerMs(
      'TALLYHOUSE_FLUSH_INTERVAL_MS',
      options.flushIntervalMs,
      env,
      FLUSH_DEFAULTS.flushIntervalMs,
    ),
    flushMaxSeries: positiveInt(
      'TALLYHOUSE_FLUSH_MAX_SERIES',
      options.flushMaxSeries,
      env,
      FLUSH_DEFAULTS.flushMaxSeries,
    ),
    maxBatchPoints: positiveInt(
      'TALLYHOUSE_MAX_BATCH_POINTS',
      options.maxBatchPoints,
      env,
      FLUSH_DEFAULTS.maxBatchPoints,
    ),
    shutdownTimeoutMs: timerMs(
      'TALLYHOUSE_SHUTDOWN_TIMEOUT_MS',
      options.shutdownTimeoutMs,
      env,
      FLUSH_DEFAULTS.shutdownTimeoutMs,
    ),
  };
}

/** A positive safe integer from the option, else the env variable, else the default; errors name the variable. */
export function positiveInt(
  variable: string,
  option: number | undefined,
  env: Env,
  fallback: number,
): number {
  const raw = option ?? emptyToUndefined(env[variable]);
  if (raw === undefined) return fallback;
  const value = typeof raw === 'number' ? raw : /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(variable, `expected a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * The longest delay Node's timers can wait (2^31−1 ms, about 24.8 days). Node does not refuse a longer one: it
 * fires after 1 ms — a flush loop spinning, or a drain deadline passed before it starts.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** `positiveInt` for a duration in ms that ends up in a timer or deadline: at most `MAX_TIMER_MS`. */
export function timerMs(variable: string, option: number | undefined, env: Env, fallback: number): number {
  const value = positiveInt(variable, option, env, fallback);
  if (value > MAX_TIMER_MS) {
    throw new ConfigError(
      variable,
      `expected at most ${MAX_TIMER_MS} ms (the longest delay a Node.js timer can wait), got ${value}`,
    );
  }
  return value;
}

// Buckets -1 and 0 straddle 1 at every scale and never merge, so fewer than two cannot hold every histogram.
function atLeastTwoBuckets(option: number | undefined): number {
  const value = positiveInt('maxExponentialBuckets', option, {}, ACCUMULATOR_DEFAULTS.maxExponentialBuckets);
  if (value < 2) throw new ConfigError('maxExponentialBuckets', `must be at least 2, got ${value}`);
  return value;
}

function requireName(variable: string, name: string) {
  if (typeof name !== 'string' || name.trim() === '' || name !== name.trim()) {
    throw new ConfigError(
      variable,
      `expected a non-empty attribute name without surrounding spaces, got ${JSON.stringify(name)}`,
    );
  }
}

function parseList(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function emptyToUndefined(raw: string | undefined): string | undefined {
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}
