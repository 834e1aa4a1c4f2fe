/**
 * Options of the exporter, their environment variables and defaults, parsed and validated in one place.
 * Everything else in the package receives a `ResolvedExporterConfig`.
 */
import { resolve } from 'node:path';
import type { ClickHouseClientConfigOptions } from '@clickhouse/client';
import {
  ConfigError,
  consoleLogger,
  type Env,
  type Logger,
  readBoolean,
  readDurationMs,
  readInteger,
  readOptionalInteger,
  readText,
} from '@tallyhouse/model';

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
  /**
   * The cluster has several shards: replicated `<table>_local` tables on every node, `Distributed` tables sharded by
   * tenant under the table names, inserts and reads through them. Needs `cluster` and `url`. Env
   * `TALLYHOUSE_CLICKHOUSE_SHARDED`, default false.
   */
  sharded?: boolean;
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
  logger?: Logger;
  /**
   * A pre-built `@clickhouse/client` connection used instead of `url`/embedded (tests wrap the real one with
   * fault injection; embedders can plug a custom transport).
   */
  connection?: ClickHouseConnection;
  /** Random source in [0, 1) for retry jitter. Default `Math.random`. */
  random?: () => number;
  /** Environment to read defaults from. Default `process.env`. */
  env?: Env;
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
  readonly sharded: boolean;
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
  readonly logger: Logger;
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
  const env: Env = options.env ?? process.env;
  const url = readText('CLICKHOUSE_URL', options.url, env);
  if (url !== undefined) checkUrl(url);
  const database = identifier(
    'CLICKHOUSE_DATABASE',
    readText('CLICKHOUSE_DATABASE', options.database, env) ?? DEFAULTS.database,
  );
  const cluster = readText('TALLYHOUSE_CLICKHOUSE_CLUSTER', options.cluster, env);
  if (cluster !== undefined) identifier('TALLYHOUSE_CLICKHOUSE_CLUSTER', cluster);
  const sharded = readBoolean('TALLYHOUSE_CLICKHOUSE_SHARDED', options.sharded, env, false);
  if (sharded && (cluster === undefined || url === undefined)) {
    throw new ConfigError(
      'TALLYHOUSE_CLICKHOUSE_SHARDED',
      'a sharded setup needs TALLYHOUSE_CLICKHOUSE_CLUSTER (its remote_servers name) and CLICKHOUSE_URL (a server of it)',
    );
  }
  const retryInitialDelayMs = readDurationMs(
    'TALLYHOUSE_RETRY_INITIAL_MS',
    options.retryInitialDelayMs,
    env,
    DEFAULTS.retryInitialDelayMs,
  );
  const retryMaxDelayMs = readDurationMs(
    'TALLYHOUSE_RETRY_MAX_MS',
    options.retryMaxDelayMs,
    env,
    DEFAULTS.retryMaxDelayMs,
  );
  if (retryMaxDelayMs < retryInitialDelayMs) {
    throw new ConfigError(
      'TALLYHOUSE_RETRY_MAX_MS',
      `${retryMaxDelayMs} is below TALLYHOUSE_RETRY_INITIAL_MS ${retryInitialDelayMs}`,
    );
  }
  return {
    url,
    username: readText('CLICKHOUSE_USER', options.username, env) ?? DEFAULTS.username,
    // Taken as given: a password may be empty or have surrounding spaces.
    password: options.password ?? env.CLICKHOUSE_PASSWORD ?? DEFAULTS.password,
    database,
    dataDir: resolve(readText('TALLYHOUSE_DATA_DIR', options.dataDir, env) ?? DEFAULTS.dataDir),
    tenantAttribute:
      readText('TALLYHOUSE_TENANT_ATTRIBUTE', options.tenantAttribute, env) ?? DEFAULTS.tenantAttribute,
    createSchema: readBoolean('TALLYHOUSE_CREATE_SCHEMA', options.createSchema, env, DEFAULTS.createSchema),
    ttlDays: readOptionalInteger('TALLYHOUSE_TTL_DAYS', options.ttlDays, env),
    cluster,
    sharded,
    replicationPath: options.replicationPath ?? DEFAULTS.replicationPath,
    replicaName: options.replicaName ?? DEFAULTS.replicaName,
    dedupWindow: readInteger('TALLYHOUSE_DEDUP_WINDOW', options.dedupWindow, env, DEFAULTS.dedupWindow),
    asyncInsert: readBoolean('TALLYHOUSE_ASYNC_INSERT', options.asyncInsert, env, DEFAULTS.asyncInsert),
    requestTimeoutMs: readDurationMs(
      'TALLYHOUSE_REQUEST_TIMEOUT_MS',
      options.requestTimeoutMs,
      env,
      DEFAULTS.requestTimeoutMs,
    ),
    retryInitialDelayMs,
    retryMaxDelayMs,
    maxRetainedRows: readInteger(
      'TALLYHOUSE_RETAIN_MAX_ROWS',
      options.maxRetainedRows,
      env,
      DEFAULTS.maxRetainedRows,
      { min: 0 },
    ),
    maxRetainedBytes: readInteger(
      'TALLYHOUSE_RETAIN_MAX_BYTES',
      options.maxRetainedBytes,
      env,
      DEFAULTS.maxRetainedBytes,
      { min: 0 },
    ),
    spool: readBoolean('TALLYHOUSE_SPOOL', options.spool, env, DEFAULTS.spool),
    // 0 = one attempt to write what is retained, no waiting (the processor reads the same variable alike).
    shutdownTimeoutMs: readDurationMs(
      'TALLYHOUSE_SHUTDOWN_TIMEOUT_MS',
      options.shutdownTimeoutMs,
      env,
      DEFAULTS.shutdownTimeoutMs,
      0,
    ),
    logger: options.logger ?? consoleLogger('tallyhouse/exporter-clickhouse'),
    connection: options.connection,
    random: options.random ?? Math.random,
  };
}

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('CLICKHOUSE_URL', `not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(
      'CLICKHOUSE_URL',
      `must be http:// or https://, got ${JSON.stringify(parsed.protocol)}`,
    );
  }
}

/** Database and cluster names are interpolated into DDL, so they must be plain identifiers. */
function identifier(variable: string, name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new ConfigError(variable, `must match ${IDENTIFIER.source}, got ${JSON.stringify(name)}`);
  }
  return name;
}
