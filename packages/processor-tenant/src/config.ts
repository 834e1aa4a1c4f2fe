import {
  ConfigError,
  DEFAULT_TENANT_ATTRIBUTE,
  type Env,
  readDurationMs,
  readInteger,
  readList,
  readText,
  requireName,
  tenantProblem,
} from '@tallyhouse/model';

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
export function resolveAccumulatorOptions(
  options: AccumulatorOptions = {},
  env: Env = process.env,
): ResolvedAccumulatorOptions {
  const tenantAttribute = requireName(
    'TALLYHOUSE_TENANT_ATTRIBUTE',
    readText('TALLYHOUSE_TENANT_ATTRIBUTE', options.tenantAttribute, env) ??
      ACCUMULATOR_DEFAULTS.tenantAttribute,
  );
  const resourceTenantAttribute = requireName(
    'resourceTenantAttribute',
    options.resourceTenantAttribute ?? tenantAttribute,
  );
  const defaultTenant = readText('TALLYHOUSE_DEFAULT_TENANT', options.defaultTenant, env);
  if (defaultTenant !== undefined) {
    const problem = tenantProblem(defaultTenant);
    if (problem) throw new ConfigError('TALLYHOUSE_DEFAULT_TENANT', problem);
  }
  const keepResourceAttributes =
    readList('TALLYHOUSE_KEEP_RESOURCE_ATTRIBUTES', options.keepResourceAttributes, env) ??
    ACCUMULATOR_DEFAULTS.keepResourceAttributes;
  for (const name of keepResourceAttributes) requireName('TALLYHOUSE_KEEP_RESOURCE_ATTRIBUTES', name);
  const maxTrackedStreams = readInteger(
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
    maxSeriesPerTenant: readInteger(
      'TALLYHOUSE_MAX_SERIES_PER_TENANT',
      options.maxSeriesPerTenant,
      env,
      ACCUMULATOR_DEFAULTS.maxSeriesPerTenant,
    ),
    maxBufferedSeries: readInteger(
      'TALLYHOUSE_MAX_BUFFERED_SERIES',
      options.maxBufferedSeries,
      env,
      ACCUMULATOR_DEFAULTS.maxBufferedSeries,
    ),
    maxTrackedStreams,
    maxTrackedStreamsPerTenant: readInteger(
      'TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT',
      options.maxTrackedStreamsPerTenant,
      env,
      Math.max(1, Math.floor(maxTrackedStreams / TRACKED_STREAMS_SHARE_DIVISOR)),
    ),
    streamStalenessMs: readDurationMs(
      'TALLYHOUSE_STREAM_STALENESS_MS',
      options.streamStalenessMs,
      env,
      ACCUMULATOR_DEFAULTS.streamStalenessMs,
    ),
    maxExponentialBuckets: atLeastTwoBuckets(options.maxExponentialBuckets),
    now: options.now ?? Date.now,
  };
}

export function resolveFlushOptions(
  options: FlushOptions = {},
  env: Env = process.env,
): ResolvedFlushOptions {
  return {
    flushIntervalMs: readDurationMs(
      'TALLYHOUSE_FLUSH_INTERVAL_MS',
      options.flushIntervalMs,
      env,
      FLUSH_DEFAULTS.flushIntervalMs,
    ),
    flushMaxSeries: readInteger(
      'TALLYHOUSE_FLUSH_MAX_SERIES',
      options.flushMaxSeries,
      env,
      FLUSH_DEFAULTS.flushMaxSeries,
    ),
    maxBatchPoints: readInteger(
      'TALLYHOUSE_MAX_BATCH_POINTS',
      options.maxBatchPoints,
      env,
      FLUSH_DEFAULTS.maxBatchPoints,
    ),
    // 0 = one attempt to drain, no waiting: the same rule as the exporter's, which reads the same variable.
    shutdownTimeoutMs: readDurationMs(
      'TALLYHOUSE_SHUTDOWN_TIMEOUT_MS',
      options.shutdownTimeoutMs,
      env,
      FLUSH_DEFAULTS.shutdownTimeoutMs,
      0,
    ),
  };
}

// Buckets -1 and 0 straddle 1 at every scale and never merge, so fewer than two cannot hold every histogram.
function atLeastTwoBuckets(option: number | undefined): number {
  const value = readInteger('maxExponentialBuckets', option, {}, ACCUMULATOR_DEFAULTS.maxExponentialBuckets);
  if (value < 2) throw new ConfigError('maxExponentialBuckets', `must be at least 2, got ${value}`);
  return value;
}
