/**
 * Options of the exporter, their environment variables and defaults, parsed and validated in one place.
 * Everything else in the package receives a `ResolvedExporterConfig`.
 */
import { resolve } from 'node:path';
import type { ClickHouseClientConfigOptions } from '@clickhouse/client';
import { MAX_TIMER_MS } from '@tallyhouse/processor-tenant';
import { ExporterConfigError } from './errors.ts';
import { defaultLogger, type ExporterLogger } from './logger.ts';

/** The `@clickhouse/client` backend connection contract (HTTP, chDB, or a wrapper around either). */
export type ClickHouseConnection = NonNullable<ClickHouseClientConfigOptions['connection']>;

export interface ClickHouseExporterOptions {
  /** `http(s)://host:port` of a ClickHouse server. Unset → embedded chDB. Env `CLICKHOUSE_URL`. */
  url?: string;
  /** Env `CLICKHOUSE_USER`, default `default`. */
  username?: string;
  /** Env `CLICKHOUSE_PASSWORD`, default empty. */
  password?: string;
  /** Database of all tables. Env `CLICKHOUSE_DATABASE`, default `otel`. */
  database?: string;
  /** Embedded chDB data, spool and dead-letter files. Env `TALLYHOUSE_DATA_DIR`, default `./.tallyhouse`. */
  dataDir?: string;
  /** Attribute key that carries the tenant; never written into `Attributes`. Env `TALLYHOUSE_TENANT_ATTRIBUTE`. */
  tenantAttribute?: string;
  /** Create database, tables and run migrations at start. Env `TALLYHOUSE_CREATE_SCHEMA`, default true. */
  createSchema?: boolean;
  /** Drop rows older than this many days (table TTL at creation). Env `TALLYHOUSE_TTL_DAYS`, default none. */
  ttlDays?: number;
  /** Create tables `ON CLUSTER <name>` with `Replicated*MergeTree`. Env `TALLYHOUSE_CLICKHOUSE_CLUSTER`. */
  cluster?: string;
  /** ZooKeeper/Keeper path of replicated tables (macros allowed). */
  replicationPath?: string;
  /** Replica name of replicated tables (macros allowed). */
  replicaName?: string;
  /** Insert blocks remembered for deduplication per table. Env `TALLYHOUSE_DEDUP_WINDOW`, default 10000. */
  dedupWindow?: number;
  /** Use async inserts (wait + deduplicate). Env `TALLYHOUSE_ASYNC_INSERT`, default false. */
  asyncInsert?: boolean;
  /** HTTP request timeout. Env `TALLYHOUSE_REQUEST_TIMEOUT_MS`, default 30000. */
  requestTimeoutMs?: number;
  /** First retry delay cap (full jitter). Env `TALLYHOUSE_RETRY_INITIAL_MS`, default 1000. */
  retryInitialDelayMs?: number;
  /** Largest retry delay cap. Env `TALLYHOUSE_RETRY_MAX_MS`, default 30000. */
  retryMaxDelayMs?: number;
  /** Rows kept for retry before `consumeBatch` refuses. Env `TALLYHOUSE_RETAIN_MAX_ROWS`, default 1000000. */
  maxRetainedRows?: number;
  /** Encoded bytes kept for retry before refusing. Env `TALLYHOUSE_RETAIN_MAX_BYTES`, default 256 MiB. */
  maxRetainedBytes?: number;
  /** Keep retained batches on disk and replay them at start. Env `TALLYHOUSE_SPOOL`, default false. */
  spool?: boolean;
  /** How long `shutdown()` tries to write what is retained. Env `TALLYHOUSE_SHUTDOWN_TIMEOUT_MS`, default 10000. */
  shutdownTimeoutMs?: number;
  /** Where warnings and errors go. Default: `console` for warn/error. */
  logger?: ExporterLogger;
  /**
   * A pre-built `@clickhouse/client` connection used instead of `url`/embedded (tests wrap the real one with
   * fault injection; embedders can plug a custom transport).
   */
  connection?: ClickHouseConnection;
  /** Random source in [0, 1) for retry jitter. Default `Math.random`. */
  random?: () => number;
  /** Environment to read defaults from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedExporterConfig {
  readonly url: string | undefined;
  readonly username: string;
  readonly password: string;
  readonly database: string;
  readonly dataDir: string;
  readonly tenantAttribute: string;
  readonly createSchema: boolean;
  readonly ttlDays: number | undefined;
  readonly cluster: string | undefined;
  readonly replicationPath: string;
  readonly replicaName: string;
  readonly dedupWindow: number;
  readonly asyncInsert: boolean;
  readonly requestTimeoutMs: number;
  readonly retryInitialDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly maxRetainedRows: number;
  readonly maxRetainedBytes: number;
  readonly spool: boolean;
  readonly shutdownTimeoutMs: number;
  readonly logger: ExporterLogger;
  readonly connection: ClickHouseConnection | undefined;
  readonly random: () => number;
}

export const DEFAULTS = {
  username: 'default',
  password: '',
  database: 'otel',
  dataDir: './.tallyhouse',
  tenantAttribute: 'tenant.id',
  createSchema: true,
  replicationPath: '/clickhouse/tables/{shard}/{database}/{table}',
  replicaName: '{replica}',
  dedupWindow: 10_000,
  asyncInsert: false,
  requestTimeoutMs: 30_000,
  retryInitialDelayMs: 1_000,
  retryMaxDelayMs: 30_000,
  maxRetainedRows: 1_000_000,
  maxRetainedBytes: 256 * 1024 * 1024,
  spool: false,
  shutdownTimeoutMs: 10_000,
} as const;

/** Identifiers we interpolate into DDL: database and cluster names. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function resolveExporterConfig(options: ClickHouseExporterOptions = {}): ResolvedExporterConfig {
  const env = options.env ?? process.env;
  const text = (option: string | undefined, variable: string): string | undefined => {
    // An empty string means "unset", as for environment variables.
    if (option !== undefined) return option === '' ? undefined : option;
    const value = env[variable];
    return value === undefined || value === '' ? undefined : value;
  };

  const url = text(options.url, 'CLICKHOUSE_URL');
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ExporterConfigError(`CLICKHOUSE_URL (url) is not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ExporterConfigError(
        `CLICKHOUSE_URL (url) must be http:// or https://, got ${JSON.stringify(parsed.protocol)}`,
      );
    }
  }

  const database = text(options.database, 'CLICKHOUSE_DATABASE') ?? DEFAULTS.database;
  if (!IDENTIFIER.test(database)) {
    throw new ExporterConfigError(
      `CLICKHOUSE_DATABASE (database) must match ${IDENTIFIER.source}, got ${JSON.stringify(database)}`,
    );
  }
  const cluster = text(options.cluster, 'TALLYHOUSE_CLICKHOUSE_CLUSTER');
  if (cluster !== undefined && !IDENTIFIER.test(cluster)) {
    throw new ExporterConfigError(
      `TALLYHOUSE_CLICKHOUSE_CLUSTER (cluster) must match ${IDENTIFIER.source}, got ${JSON.stringify(cluster)}`,
    );
  }
  const tenantAttribute =
    text(options.tenantAttribute, 'TALLYHOUSE_TENANT_ATTRIBUTE') ?? DEFAULTS.tenantAttribute;

  const retryInitialDelayMs = int(
    options.retryInitialDelayMs,
    env,
    'TALLYHOUSE_RETRY_INITIAL_MS',
    'retryInitialDelayMs',
    DEFAULTS.retryInitialDelayMs,
    1,
    MAX_TIMER_MS,
  );
  const retryMaxDelayMs = int(
    options.retryMaxDelayMs,
    env,
    'TALLYHOUSE_RETRY_MAX_MS',
    'retryMaxDelayMs',
    DEFAULTS.retryMaxDelayMs,
    1,
    MAX_TIMER_MS,
  );
  if (retryMaxDelayMs < retryInitialDelayMs) {
    throw new ExporterConfigError(
      `TALLYHOUSE_RETRY_MAX_MS (retryMaxDelayMs) ${retryMaxDelayMs} is below TALLYHOUSE_RETRY_INITIAL_MS (retryInitialDelayMs) ${retryInitialDelayMs}`,
    );
  }

  const ttl = options.ttlDays ?? optionalInt(env, 'TALLYHOUSE_TTL_DAYS');
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl < 1)) {
    throw new ExporterConfigError(`TALLYHOUSE_TTL_DAYS (ttlDays) must be a whole number ≥ 1, got ${ttl}`);
  }

  return {
    url,
    username: text(options.username, 'CLICKHOUSE_USER') ?? DEFAULTS.username,
    password: options.password ?? env.CLICKHOUSE_PASSWORD ?? DEFAULTS.password,
    database,
    dataDir: resolve(text(options.dataDir, 'TALLYHOUSE_DATA_DIR') ?? DEFAULTS.dataDir),
    tenantAttribute,
    createSchema: bool(options.createSchema, env, 'TALLYHOUSE_CREATE_SCHEMA', DEFAULTS.createSchema),
    ttlDays: ttl,
    cluster,
    replicationPath: options.replicationPath ?? DEFAULTS.replicationPath,
    replicaName: options.replicaName ?? DEFAULTS.replicaName,
    dedupWindow: int(
      options.dedupWindow,
      env,
      'TALLYHOUSE_DEDUP_WINDOW',
      'dedupWindow',
      DEFAULTS.dedupWindow,
      1,
    ),
    asyncInsert: bool(options.asyncInsert, env, 'TALLYHOUSE_ASYNC_INSERT', DEFAULTS.asyncInsert),
    requestTimeoutMs: int(
      options.requestTimeoutMs,
      env,
      'TALLYHOUSE_REQUEST_TIMEOUT_MS',
      'requestTimeoutMs',
      DEFAULTS.requestTimeoutMs,
      1,
      MAX_TIMER_MS,
    ),
    retryInitialDelayMs,
    retryMaxDelayMs,
    maxRetainedRows: int(
      options.maxRetainedRows,
      env,
      'TALLYHOUSE_RETAIN_MAX_ROWS',
      'maxRetainedRows',
      DEFAULTS.maxRetainedRows,
      0,
    ),
    maxRetainedBytes: int(
      options.maxRetainedBytes,
      env,
      'TALLYHOUSE_RETAIN_MAX_BYTES',
      'maxRetainedBytes',
      DEFAULTS.maxRetainedBytes,
      0,
    ),
    spool: bool(options.spool, env, 'TALLYHOUSE_SPOOL', DEFAULTS.spool),
    shutdownTimeoutMs: int(
      options.shutdownTimeoutMs,
      env,
      'TALLYHOUSE_SHUTDOWN_TIMEOUT_MS',
      'shutdownTimeoutMs',
      DEFAULTS.shutdownTimeoutMs,
      0,
      MAX_TIMER_MS,
    ),
    logger: options.logger ?? defaultLogger,
    connection: options.connection,
    random: options.random ?? Math.random,
  };
}

function optionalInt(
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
): number | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw))
    throw new ExporterConfigError(`${variable} must be a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function int(
  option: number | undefined,
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
  name: string,
  fallback: number,
  min: number,
  // Durations that reach a timer pass MAX_TIMER_MS: Node fires a longer timer after 1 ms instead.
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  const value = option ?? optionalInt(env, variable) ?? fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ExporterConfigError(`${variable} (${name}) must be a whole number ≥ ${min}, got ${value}`);
  }
  if (value > max) {
    throw new ExporterConfigError(
      `${variable} (${name}) must be at most ${max} ms (the longest delay a Node.js timer can wait), got ${value}`,
    );
  }
  return value;
}

function bool(
  option: boolean | undefined,
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
  fallback: boolean,
): boolean {
  if (option !== undefined) return option;
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const lower = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off'].includes(lower)) return false;
  throw new ExporterConfigError(
    `${variable} must be true/false (or 1/0, on/off), got ${JSON.stringify(raw)}`,
  );
}
