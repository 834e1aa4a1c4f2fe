import { createHash } from 'node:crypto';
import {
  type ClickHouseExporterOptions,
  type ResolvedExporterConfig,
  resolveExporterConfig,
} from '@tallyhouse/exporter-clickhouse';
import {
  ConfigError,
  type Env,
  envValue,
  MAX_TIMER_MS,
  readBoolean,
  readChoice,
  readDurationMs,
  readInteger,
  readOptionalInteger,
  readOptionalPositiveNumber,
  readText,
} from '@tallyhouse/model';
import {
  type ResolvedAccumulatorOptions,
  type ResolvedFlushOptions,
  resolveAccumulatorOptions,
  resolveFlushOptions,
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
  /** OTLP/gRPC on the same host; `'off'`: no gRPC listener. */
  readonly grpcPort: number | 'off';
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
  /**
   * Resolve cumulative streams against shared marks in ClickHouse, so collectors sharing a store never count a
   * stream twice when tenants move between them. Env `TALLYHOUSE_STREAM_MARKS`; default on with a server store
   * (`CLICKHOUSE_URL`), off with the embedded one, which no other collector can share.
   */
  readonly streamMarks: boolean;
  /**
   * Count each tenant's quota across every collector sharing the store (counters in ClickHouse) instead of per
   * collector. Env `TALLYHOUSE_SHARED_QUOTAS`; default as `streamMarks`.
   */
  readonly sharedQuotas: boolean;
  /**
   * How often quota counters are saved (locally, and to ClickHouse when shared) and the other collectors' read:
   * the overshoot bound of a shared quota. Env `TALLYHOUSE_QUOTA_SYNC_MS`, default 1000.
   */
  readonly quotaSyncMs: number;
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

export const COLLECTOR_DEFAULTS: CollectorSettings = {
  host: '127.0.0.1',
  port: 4318,
  grpcPort: 4317,
  auth: 'header',
  tenantHeader: 'x-tenant-id',
  apiKeysFile: undefined,
  allowTenantOverride: false,
  maxBodyBytes: 16 * 1024 * 1024,
  retryAfterSeconds: 5,
  shutdownTimeoutMs: 10_000,
  logLevel: 'info',
  wal: true,
  // With the embedded store; a server store (CLICKHOUSE_URL), which other collectors can share, turns both on.
  streamMarks: false,
  sharedQuotas: false,
  quotaSyncMs: 1_000,
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
  const exporter = resolveExporterConfig({ env, ...overrides.exporter });
  // Only a server store can be shared: the embedded engine's data dir belongs to this one process.
  const sharedStore = exporter.url !== undefined;
  const collector: CollectorSettings = { ...collectorSettings(env, sharedStore), ...overrides.collector };
  const processor = { ...resolveAccumulatorOptions({}, env), ...resolveFlushOptions({}, env) };
  return { collector, processor, exporter };
}

function collectorSettings(env: Env, sharedStore: boolean): CollectorSettings {
  const auth = readChoice(
    'TALLYHOUSE_AUTH',
    undefined,
    env,
    ['header', 'apikey'] as const,
    COLLECTOR_DEFAULTS.auth,
  );
  const apiKeysFile = readText('TALLYHOUSE_API_KEYS_FILE', undefined, env);
  if (auth === 'apikey' && apiKeysFile === undefined) {
    throw new ConfigError('TALLYHOUSE_API_KEYS_FILE', 'must name a file when TALLYHOUSE_AUTH=apikey');
  }
  const tenantHeader = (
    readText('TALLYHOUSE_TENANT_HEADER', undefined, env) ?? COLLECTOR_DEFAULTS.tenantHeader
  ).toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(tenantHeader)) {
    throw new ConfigError(
      'TALLYHOUSE_TENANT_HEADER',
      `not a valid HTTP header name: ${JSON.stringify(tenantHeader)}`,
    );
  }
  const port = readInteger('TALLYHOUSE_PORT', undefined, env, COLLECTOR_DEFAULTS.port);
  if (port > 65_535) throw new ConfigError('TALLYHOUSE_PORT', `expected a port 1-65535, got ${port}`);
  const grpcPort = readGrpcPort(env);
  if (grpcPort === port)
    throw new ConfigError(
      'TALLYHOUSE_GRPC_PORT',
      `${grpcPort} is TALLYHOUSE_PORT too: give OTLP/gRPC its own port, or turn it off with off`,
    );
  const integer = (variable: string, fallback: number, max?: number, maxReason?: string) =>
    readInteger(variable, undefined, env, fallback, { max, maxReason });
  const duration = (variable: string, fallback: number) => readDurationMs(variable, undefined, env, fallback);
  const d = COLLECTOR_DEFAULTS;
  return {
    host: readText('TALLYHOUSE_HOST', undefined, env) ?? d.host,
    port,
    grpcPort,
    auth,
    tenantHeader,
    apiKeysFile,
    allowTenantOverride: readBoolean('TALLYHOUSE_ALLOW_TENANT_OVERRIDE', undefined, env, false),
    maxBodyBytes: integer('TALLYHOUSE_MAX_BODY_BYTES', d.maxBodyBytes),
    retryAfterSeconds: integer(
      'TALLYHOUSE_RETRY_AFTER_SECONDS',
      d.retryAfterSeconds,
      MAX_RETRY_AFTER_SECONDS,
      ' s (clients wait it out with a timer, which cannot wait longer)',
    ),
    // 0 = one attempt to drain (the processor's and the exporter's rule for the same variable).
    shutdownTimeoutMs: readInteger('TALLYHOUSE_SHUTDOWN_TIMEOUT_MS', undefined, env, d.shutdownTimeoutMs, {
      min: 0,
      max: MAX_SHUTDOWN_TIMEOUT_MS,
      maxReason: ` ms (the exit deadline, 2 × this + ${SHUTDOWN_DEADLINE_MARGIN_MS} ms, must fit the longest delay a Node.js timer can wait, ${MAX_TIMER_MS} ms)`,
    }),
    logLevel: readChoice('TALLYHOUSE_LOG_LEVEL', undefined, env, LOG_LEVELS, d.logLevel),
    wal: readBoolean('TALLYHOUSE_WAL', undefined, env, d.wal),
    streamMarks: readBoolean('TALLYHOUSE_STREAM_MARKS', undefined, env, sharedStore),
    sharedQuotas: readBoolean('TALLYHOUSE_SHARED_QUOTAS', undefined, env, sharedStore),
    quotaSyncMs: readInteger('TALLYHOUSE_QUOTA_SYNC_MS', undefined, env, d.quotaSyncMs, {
      min: 50,
      max: 60_000,
      maxReason: ' ms (it bounds how far a tenant can go past a quota shared by several collectors)',
    }),
    walFsync: readChoice(
      'TALLYHOUSE_WAL_FSYNC',
      undefined,
      env,
      ['group', 'always', 'none'] as const,
      d.walFsync,
    ),
    walGroupCommitMs: duration('TALLYHOUSE_WAL_GROUP_COMMIT_MS', d.walGroupCommitMs),
    walSegmentBytes: integer('TALLYHOUSE_WAL_SEGMENT_BYTES', d.walSegmentBytes),
    walDedupWindowMs: duration('TALLYHOUSE_WAL_DEDUP_WINDOW_MS', d.walDedupWindowMs),
    walReserveBytes: integer('TALLYHOUSE_WAL_RESERVE_BYTES', d.walReserveBytes),
    ...memoryLimits(env),
    ...limitDefaults(env),
    ...usageReadSettings(env, auth),
    ...usageReadLimitSettings(env),
  };
}

/** TALLYHOUSE_RATE_LIMIT_*, TALLYHOUSE_QUOTA_*, TALLYHOUSE_LIMITS_FILE (read and checked by `LimitPolicy`). */
function limitDefaults(env: Env): LimitDefaults {
  const ratePointsPerSecond = readOptionalPositiveNumber(
    'TALLYHOUSE_RATE_LIMIT_POINTS_PER_S',
    undefined,
    env,
    'a number of data points per second',
  );
  const rateBurst = readOptionalInteger('TALLYHOUSE_RATE_LIMIT_BURST', undefined, env);
  const limitsFile = readText('TALLYHOUSE_LIMITS_FILE', undefined, env);
  if (rateBurst !== undefined && ratePointsPerSecond === undefined && limitsFile === undefined) {
    throw new ConfigError('TALLYHOUSE_RATE_LIMIT_BURST', 'needs TALLYHOUSE_RATE_LIMIT_POINTS_PER_S');
  }
  return {
    ratePointsPerSecond,
    rateBurst,
    quotaPoints: readOptionalInteger('TALLYHOUSE_QUOTA_POINTS', undefined, env),
    quotaPeriod: readChoice('TALLYHOUSE_QUOTA_PERIOD', undefined, env, QUOTA_PERIODS, 'month'),
    limitsFile,
  };
}

const MIN_ADMIN_KEY_LENGTH = 16;

function usageReadSettings(
  env: Env,
  auth: AuthMode,
): Pick<CollectorSettings, 'adminKeyHash' | 'queryCacheTtlMs' | 'readsTrustTenantHeader'> {
  const adminKey = readText('TALLYHOUSE_ADMIN_KEY', undefined, env);
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
  // 0 turns the cache off.
  const queryCacheTtlMs = readDurationMs(
    'TALLYHOUSE_QUERY_CACHE_TTL_MS',
    undefined,
    env,
    COLLECTOR_DEFAULTS.queryCacheTtlMs,
    0,
  );
  const readsTrustTenantHeader = readBoolean('TALLYHOUSE_READS_TRUST_TENANT_HEADER', undefined, env, false);
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
  const setting = (variable: string, fallback: number, max: number, maxReason: string) =>
    readInteger(variable, undefined, env, fallback, { max, maxReason });
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
    usageQueryTimeoutMs: readDurationMs(
      'TALLYHOUSE_USAGE_QUERY_TIMEOUT_MS',
      undefined,
      env,
      d.usageQueryTimeoutMs,
    ),
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
  const hardMib = readOptionalInteger('TALLYHOUSE_MEMORY_LIMIT_MIB', undefined, env);
  const softMib = readOptionalInteger('TALLYHOUSE_MEMORY_SOFT_LIMIT_MIB', undefined, env);
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

/** `TALLYHOUSE_GRPC_PORT`: a TCP port, or `off` for no OTLP/gRPC listener. */
function readGrpcPort(env: Env): number | 'off' {
  const raw = envValue(env, 'TALLYHOUSE_GRPC_PORT')?.trim();
  if (raw?.toLowerCase() === 'off') return 'off';
  if (raw !== undefined && !/^\d+$/.test(raw))
    throw new ConfigError(
      'TALLYHOUSE_GRPC_PORT',
      `expected a port 1-65535 or off, got ${JSON.stringify(raw)}`,
    );
  return readInteger('TALLYHOUSE_GRPC_PORT', undefined, env, COLLECTOR_DEFAULTS.grpcPort as number, {
    max: 65_535,
    maxReason: ' (a TCP port), or off',
  });
}
