import { createHash } from 'node:crypto';
import {
  type ClickHouseExporterOptions,
  type ResolvedExporterConfig,
  resolveExporterConfig,
} from '@tallyhouse/exporter-clickhouse';
import {
  ConfigError,
  MAX_TIMER_MS,
  positiveInt,
  type ResolvedAccumulatorOptions,
  type ResolvedFlushOptions,
  resolveAccumulatorOptions,
  resolveFlushOptions,
  timerMs,
} from '@tallyhouse/processor-tenant';

import type { LimitDefaults } from './limits/limit-policy.ts';
import { QUOTA_PERIODS } from './limits/quota.ts';
import { MAX_RETRY_AFTER_SECONDS } from './limits/tenant-limiter.ts';
import type { FsyncPolicy } from './wal/wal.ts';

export type AuthMode = 'header' | 'apikey';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** The collector's own settings; processor and exporter settings are resolved by their packages. */
export interface CollectorSettings extends LimitDefaults {
  readonly host: string;
  readonly port: number;
  readonly auth: AuthMode;
  readonly tenantHeader: string;
  readonly apiKeysFile: string | undefined;
  readonly allowTenantOverride: boolean;
  /** Largest request body accepted, measured after decompression. */
  readonly maxBodyBytes: number;
  /** Seconds clients are told to wait (Retry-After) when the collector pushes back. */
  readonly retryAfterSeconds: number;
  /** Drain budget of the processor and, after it, of the exporter (the same variable configures both). */
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Log every request durably before its 200 and replay the log at start. */
  readonly wal: boolean;
  readonly walFsync: FsyncPolicy;
  readonly walGroupCommitMs: number;
  readonly walSegmentBytes: number;
  /** Free space on the log's file system that request data may not use (kept for flush records). */
  readonly walReserveBytes: number;
  /** How long acknowledged requests are remembered, so a byte-identical resend is answered and not counted twice. */
  readonly walDedupWindowMs: number;
  /** Above this resident memory, new data gets 503; `undefined` = no limit. */
  readonly memorySoftLimitBytes: number | undefined;
  /** Above this, also flush at once and log an error. */
  readonly memoryHardLimitBytes: number | undefined;
  /** `sha256:<hex>` of TALLYHOUSE_ADMIN_KEY (the key itself is not kept): reads any tenant's usage. */
  readonly adminKeyHash: string | undefined;
  /** How long a usage answer is served from cache; 0 = no cache (concurrent identical reads still share one query). */
  readonly queryCacheTtlMs: number;
  /** Header mode only: let the tenant header alone authorise usage reads of that tenant (trusted proxy in front). */
  readonly readsTrustTenantHeader: boolean;
  /** Usage reads: lines × buckets of a time series answer, zero-filled. */
  readonly usageMaxPoints: number;
  /** Usage reads: rows one storage statement may return (so also the lines of a series, the largest top limit). */
  readonly usageMaxRows: number;
  /** Usage reads: bytes of an answer, and of one statement's result. */
  readonly usageMaxBytes: number;
  /** Usage reads: time of one read, its statements and the wait for the engine included. */
  readonly usageQueryTimeoutMs: number;
  /** Usage reads: engine memory of one statement, MiB. */
  readonly usageQueryMemoryMib: number;
  /** Usage reads running at once; past it 503 + Retry-After. */
  readonly usageMaxConcurrent: number;
}

export interface CollectorConfig {
  readonly collector: CollectorSettings;
  readonly processor: ResolvedAccumulatorOptions & ResolvedFlushOptions;
  readonly exporter: ResolvedExporterConfig;
}

type Env = Readonly<Record<string, string | undefined>>;

export const COLLECTOR_DEFAULTS: CollectorSettings = {
  host: '127.0.0.1',
  port: 4318,
  auth: 'header',
  tenantHeader: 'x-tenant-id',
  apiKeysFile: undefined,
  allowTenantOverride: false,
  maxBodyBytes: 16 * 1024 * 1024,
  retryAfterSeconds: 5,
  shutdownTimeoutMs: 10_000,
  logLevel: 'info',
  wal: true,
  walFsync: 'group',
  walGroupCommitMs: 2,
  walSegmentBytes: 64 * 1024 * 1024,
  walReserveBytes: 16 * 1024 * 1024,
  walDedupWindowMs: 120_000,
  memorySoftLimitBytes: undefined,
  memoryHardLimitBytes: undefined,
  ratePointsPerSecond: undefined,
  rateBurst: undefined,
  quotaPoints: undefined,
  quotaPeriod: 'month',
  limitsFile: undefined,
  adminKeyHash: undefined,
  queryCacheTtlMs: 5_000,
  readsTrustTenantHeader: false,
  // The usage read bounds: why these values, in the README (Usage API → Bounded reads).
  usageMaxPoints: 200_000,
  usageMaxRows: 10_000,
  usageMaxBytes: 32 * 1024 * 1024,
  usageQueryTimeoutMs: 10_000,
  usageQueryMemoryMib: 1_024,
  usageMaxConcurrent: 8,
};

/** bin.ts exits non-zero if a drain has not finished by `2 × shutdownTimeoutMs + this` (processor, then exporter). */
export const SHUTDOWN_DEADLINE_MARGIN_MS = 5_000;

/** The process-wide exit deadline after a signal; one Node timer, so it must fit MAX_TIMER_MS. */
export function shutdownDeadlineMs(shutdownTimeoutMs: number): number {
  return 2 * shutdownTimeoutMs + SHUTDOWN_DEADLINE_MARGIN_MS;
}

/** Largest TALLYHOUSE_SHUTDOWN_TIMEOUT_MS whose exit deadline still fits one Node timer. */
export const MAX_SHUTDOWN_TIMEOUT_MS = Math.floor((MAX_TIMER_MS - SHUTDOWN_DEADLINE_MARGIN_MS) / 2);

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * Reads every setting from `env` and validates it once, at start. Errors are `ConfigError`s naming the
 * variable and the bad value. Overrides (tests, embedding) win over env.
 */
export function loadCollectorConfig(
  env: Env = process.env,
  overrides: { exporter?: ClickHouseExporterOptions; collector?: Partial<CollectorSettings> } = {},
): CollectorConfig {
  const collector: CollectorSettings = { ...collectorSettings(env), ...overrides.collector };
  const processor = { ...resolveAccumulatorOptions({}, env), ...resolveFlushOptions({}, env) };
  const exporter = resolveExporterConfig({ env, ...overrides.exporter });
  return { collector, processor, exporter };
}

function collectorSettings(env: Env): CollectorSettings {
  const auth = oneOf(
    'TALLYHOUSE_AUTH',
    env.TALLYHOUSE_AUTH,
    ['header', 'apikey'] as const,
    COLLECTOR_DEFAULTS.auth,
  );
  const apiKeysFile = nonEmpty(env.TALLYHOUSE_API_KEYS_FILE);
  if (auth === 'apikey' && apiKeysFile === undefined) {
    throw new ConfigError('TALLYHOUSE_API_KEYS_FILE', 'must name a file when TALLYHOUSE_AUTH=apikey');
  }
  const tenantHeader = (
    nonEmpty(env.TALLYHOUSE_TENANT_HEADER) ?? COLLECTOR_DEFAULTS.tenantHeader
  ).toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(tenantHeader)) {
    throw new ConfigError(
      'TALLYHOUSE_TENANT_HEADER',
      `not a valid HTTP header name: ${JSON.stringify(tenantHeader)}`,
    );
  }
  const port = positiveInt('TALLYHOUSE_PORT', undefined, env, COLLECTOR_DEFAULTS.port);
  if (port > 65_535) throw new ConfigError('TALLYHOUSE_PORT', `expected a port 1-65535, got ${port}`);
  return {
    host: nonEmpty(env.TALLYHOUSE_HOST) ?? COLLECTOR_DEFAULTS.host,
    port,
    auth,
    tenantHeader,
    apiKeysFile,
    allowTenantOverride: bool(
      'TALLYHOUSE_ALLOW_TENANT_OVERRIDE',
      env.TALLYHOUSE_ALLOW_TENANT_OVERRIDE,
      false,
    ),
    maxBodyBytes: positiveInt('TALLYHOUSE_MAX_BODY_BYTES', undefined, env, COLLECTOR_DEFAULTS.maxBodyBytes),
    retryAfterSeconds: bounded(
      'TALLYHOUSE_RETRY_AFTER_SECONDS',
      positiveInt('TALLYHOUSE_RETRY_AFTER_SECONDS', undefined, env, COLLECTOR_DEFAULTS.retryAfterSeconds),
      MAX_RETRY_AFTER_SECONDS,
      ' s (clients wait it out with a timer, which cannot wait longer)',
    ),
    shutdownTimeoutMs: bounded(
      'TALLYHOUSE_SHUTDOWN_TIMEOUT_MS',
      positiveInt('TALLYHOUSE_SHUTDOWN_TIMEOUT_MS', undefined, env, COLLECTOR_DEFAULTS.shutdownTimeoutMs),
      MAX_SHUTDOWN_TIMEOUT_MS,
      ` ms (the exit deadline, 2 × this + ${SHUTDOWN_DEADLINE_MARGIN_MS} ms, must fit the longest delay a Node.js timer can wait, ${MAX_TIMER_MS} ms)`,
    ),
    logLevel: oneOf(
      'TALLYHOUSE_LOG_LEVEL',
      env.TALLYHOUSE_LOG_LEVEL,
      LOG_LEVELS,
      COLLECTOR_DEFAULTS.logLevel,
    ),
    wal: bool('TALLYHOUSE_WAL', env.TALLYHOUSE_WAL, COLLECTOR_DEFAULTS.wal),
    walFsync: oneOf(
      'TALLYHOUSE_WAL_FSYNC',
      env.TALLYHOUSE_WAL_FSYNC,
      ['group', 'always', 'none'] as const,
      'group',
    ),
    walGroupCommitMs: timerMs(
      'TALLYHOUSE_WAL_GROUP_COMMIT_MS',
      undefined,
      env,
      COLLECTOR_DEFAULTS.walGroupCommitMs,
    ),
    walSegmentBytes: positiveInt(
      'TALLYHOUSE_WAL_SEGMENT_BYTES',
      undefined,
      env,
      COLLECTOR_DEFAULTS.walSegmentBytes,
    ),
    walDedupWindowMs: timerMs(
      'TALLYHOUSE_WAL_DEDUP_WINDOW_MS',
      undefined,
      env,
      COLLECTOR_DEFAULTS.walDedupWindowMs,
    ),
    walReserveBytes: positiveInt(
      'TALLYHOUSE_WAL_RESERVE_BYTES',
      undefined,
      env,
      COLLECTOR_DEFAULTS.walReserveBytes,
    ),
    ...memoryLimits(env),
    ...limitDefaults(env),
    ...usageReadSettings(env, auth),
    ...usageReadLimitSettings(env),
  };
}

/** TALLYHOUSE_RATE_LIMIT_*, TALLYHOUSE_QUOTA_*, TALLYHOUSE_LIMITS_FILE (read and checked by `LimitPolicy`). */
function limitDefaults(env: Env): LimitDefaults {
  const rawRate = nonEmpty(env.TALLYHOUSE_RATE_LIMIT_POINTS_PER_S);
  let ratePointsPerSecond: number | undefined;
  if (rawRate !== undefined) {
    ratePointsPerSecond = Number(rawRate);
    if (!/^\d+(\.\d+)?$/.test(rawRate) || !Number.isFinite(ratePointsPerSecond) || ratePointsPerSecond <= 0) {
      throw new ConfigError(
        'TALLYHOUSE_RATE_LIMIT_POINTS_PER_S',
        `expected a number of data points per second > 0, got ${JSON.stringify(env.TALLYHOUSE_RATE_LIMIT_POINTS_PER_S)}`,
      );
    }
  }
  const rateBurst = optionalPositiveInt('TALLYHOUSE_RATE_LIMIT_BURST', env);
  if (
    rateBurst !== undefined &&
    ratePointsPerSecond === undefined &&
    nonEmpty(env.TALLYHOUSE_LIMITS_FILE) === undefined
  ) {
    throw new ConfigError('TALLYHOUSE_RATE_LIMIT_BURST', 'needs TALLYHOUSE_RATE_LIMIT_POINTS_PER_S');
  }
  return {
    ratePointsPerSecond,
    rateBurst,
    quotaPoints: optionalPositiveInt('TALLYHOUSE_QUOTA_POINTS', env),
    quotaPeriod: oneOf('TALLYHOUSE_QUOTA_PERIOD', env.TALLYHOUSE_QUOTA_PERIOD, QUOTA_PERIODS, 'month'),
    limitsFile: nonEmpty(env.TALLYHOUSE_LIMITS_FILE),
  };
}

const MIN_ADMIN_KEY_LENGTH = 16;

function usageReadSettings(
  env: Env,
  auth: AuthMode,
): Pick<CollectorSettings, 'adminKeyHash' | 'queryCacheTtlMs' | 'readsTrustTenantHeader'> {
  const adminKey = nonEmpty(env.TALLYHOUSE_ADMIN_KEY);
  let adminKeyHash: string | undefined;
  if (adminKey !== undefined) {
    if (adminKey.toLowerCase().startsWith('sha256:')) {
      adminKeyHash = adminKey.toLowerCase();
      if (!/^sha256:[0-9a-f]{64}$/.test(adminKeyHash)) {
        throw new ConfigError('TALLYHOUSE_ADMIN_KEY', 'a sha256: key must be followed by 64 hex digits');
      }
    } else if (adminKey.length < MIN_ADMIN_KEY_LENGTH || /\s/.test(adminKey)) {
      throw new ConfigError(
        'TALLYHOUSE_ADMIN_KEY',
        `must be at least ${MIN_ADMIN_KEY_LENGTH} characters without spaces (got ${adminKey.length} characters)`,
      );
    } else {
      adminKeyHash = `sha256:${createHash('sha256').update(adminKey, 'utf8').digest('hex')}`;
    }
  }
  const rawTtl = nonEmpty(env.TALLYHOUSE_QUERY_CACHE_TTL_MS);
  let queryCacheTtlMs = COLLECTOR_DEFAULTS.queryCacheTtlMs;
  if (rawTtl !== undefined) {
    queryCacheTtlMs = Number(rawTtl);
    if (!/^\d+$/.test(rawTtl) || !Number.isSafeInteger(queryCacheTtlMs)) {
      throw new ConfigError(
        'TALLYHOUSE_QUERY_CACHE_TTL_MS',
        `expected an integer ≥ 0 (milliseconds), got ${JSON.stringify(env.TALLYHOUSE_QUERY_CACHE_TTL_MS)}`,
      );
    }
    bounded('TALLYHOUSE_QUERY_CACHE_TTL_MS', queryCacheTtlMs, MAX_TIMER_MS, TIMER_REASON);
  }
  const readsTrustTenantHeader = bool(
    'TALLYHOUSE_READS_TRUST_TENANT_HEADER',
    env.TALLYHOUSE_READS_TRUST_TENANT_HEADER,
    false,
  );
  if (readsTrustTenantHeader && auth !== 'header') {
    throw new ConfigError('TALLYHOUSE_READS_TRUST_TENANT_HEADER', 'only applies with TALLYHOUSE_AUTH=header');
  }
  return { adminKeyHash, queryCacheTtlMs, readsTrustTenantHeader };
}

/** TALLYHOUSE_USAGE_*: the bounds of one usage read. Each upper bound keeps an answer something memory can hold. */
function usageReadLimitSettings(
  env: Env,
): Pick<
  CollectorSettings,
  | 'usageMaxPoints'
  | 'usageMaxRows'
  | 'usageMaxBytes'
  | 'usageQueryTimeoutMs'
  | 'usageQueryMemoryMib'
  | 'usageMaxConcurrent'
> {
  const setting = (variable: string, fallback: number, max: number, unit: string) =>
    bounded(variable, positiveInt(variable, undefined, env, fallback), max, unit);
  const d = COLLECTOR_DEFAULTS;
  return {
    usageMaxPoints: setting(
      'TALLYHOUSE_USAGE_MAX_POINTS',
      d.usageMaxPoints,
      10_000_000,
      ' points (an answer is built and held whole in memory)',
    ),
    usageMaxRows: setting(
      'TALLYHOUSE_USAGE_MAX_ROWS',
      d.usageMaxRows,
      10_000_000,
      ' rows (an answer is built and held whole in memory)',
    ),
    usageMaxBytes: setting(
      'TALLYHOUSE_USAGE_MAX_BYTES',
      d.usageMaxBytes,
      1024 * MIB,
      ' bytes (an answer is held whole in memory, and cached)',
    ),
    usageQueryTimeoutMs: timerMs('TALLYHOUSE_USAGE_QUERY_TIMEOUT_MS', undefined, env, d.usageQueryTimeoutMs),
    usageQueryMemoryMib: setting(
      'TALLYHOUSE_USAGE_QUERY_MEMORY_MIB',
      d.usageQueryMemoryMib,
      1_048_576,
      ' MiB',
    ),
    usageMaxConcurrent: setting(
      'TALLYHOUSE_USAGE_MAX_CONCURRENT',
      d.usageMaxConcurrent,
      1_000,
      ' reads (each may hold an answer of up to TALLYHOUSE_USAGE_MAX_BYTES)',
    ),
  };
}

const MIB = 1024 * 1024;

/** Hard limit from TALLYHOUSE_MEMORY_LIMIT_MIB; soft from TALLYHOUSE_MEMORY_SOFT_LIMIT_MIB, default 80% of hard. */
function memoryLimits(env: Env): Pick<CollectorSettings, 'memorySoftLimitBytes' | 'memoryHardLimitBytes'> {
  const hardMib = optionalPositiveInt('TALLYHOUSE_MEMORY_LIMIT_MIB', env);
  const softMib = optionalPositiveInt('TALLYHOUSE_MEMORY_SOFT_LIMIT_MIB', env);
  if (hardMib === undefined) {
    if (softMib !== undefined)
      throw new ConfigError('TALLYHOUSE_MEMORY_SOFT_LIMIT_MIB', 'needs TALLYHOUSE_MEMORY_LIMIT_MIB');
    return { memorySoftLimitBytes: undefined, memoryHardLimitBytes: undefined };
  }
  const soft = softMib ?? Math.floor(hardMib * 0.8);
  if (soft > hardMib) {
    throw new ConfigError(
      'TALLYHOUSE_MEMORY_SOFT_LIMIT_MIB',
      `${soft} is above TALLYHOUSE_MEMORY_LIMIT_MIB ${hardMib}`,
    );
  }
  return { memorySoftLimitBytes: soft * MIB, memoryHardLimitBytes: hardMib * MIB };
}

const TIMER_REASON = ' ms (the longest delay a Node.js timer can wait)';

/** `value` if at most `max`; otherwise an error naming the variable, the maximum and why (`unit` starts with the unit). */
function bounded(variable: string, value: number, max: number, unit: string): number {
  if (value > max) throw new ConfigError(variable, `expected at most ${max}${unit}, got ${value}`);
  return value;
}

function optionalPositiveInt(variable: string, env: Env): number | undefined {
  return nonEmpty(env[variable]) === undefined ? undefined : positiveInt(variable, undefined, env, 1);
}

function oneOf<T extends string>(
  variable: string,
  raw: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = nonEmpty(raw);
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(variable, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
}

function bool(variable: string, raw: string | undefined, fallback: boolean): boolean {
  const value = nonEmpty(raw)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(variable, `expected true or false, got ${JSON.stringify(raw)}`);
}

function nonEmpty(raw: string | undefined): string | undefined {
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}
