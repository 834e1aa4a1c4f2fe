/**
 * The forward migrations that bring a database up to date, and `ensureSchema`, which applies those not yet
 * recorded in `tallyhouse_schema_versions`. Every statement is idempotent, so a re-run (forced after a table
 * went missing, or from two exporters at once) is safe.
 */
import { ConfigError, type Logger } from '@tallyhouse/model';
import { SchemaVersionError } from '../errors.ts';
import { gaugeSourceMigrationStatements, rollupMigrationStatements } from './rollups.ts';
import { qualified, quoteString, type SchemaOptions } from './sql.ts';
import {
  createDatabaseStatement,
  createDeadLetterTableStatements,
  createMetricTableStatements,
  createQuotaUsageTableStatements,
  createSchemaVersionTableStatements,
  createStreamMarkTableStatements,
  createSummaryTableStatements,
  upstreamColumnsMigrationStatements,
} from './table-ddl.ts';
import { METRIC_TABLE_NAMES, METRIC_TABLE_NAMES_V1, SCHEMA_VERSION_TABLE } from './tables.ts';

export interface Migration {
  readonly version: number;
  readonly description: string;
  statements(options: SchemaOptions): string[];
}

/** Runs one SQL statement (DDL or a small insert); reads return JSON rows. */
export interface SchemaExecutor {
  command(sql: string): Promise<void>;
  queryRows<T>(sql: string): Promise<T[]>;
}

/** Forward migrations, oldest first. A new schema change is a new entry with the next version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'tenant-first metric tables and dead letters',
    statements: (options) => [
      ...METRIC_TABLE_NAMES_V1.flatMap((table) => createMetricTableStatements(options, table)),
      ...createDeadLetterTableStatements(options),
    ],
  },
  {
    version: 2,
    description: 'hourly and daily usage rollups (tables, materialized views, backfill)',
    statements: (options) => rollupMigrationStatements(options),
  },
  {
    version: 3,
    description:
      'gauge rollups per source series (resource attributes and scope), backfilled; old gauge rollups dropped',
    statements: (options) => gaugeSourceMigrationStatements(options),
  },
  {
    version: 4,
    description:
      'every column of the upstream clickhouseexporter metrics tables (schema URLs, scope attributes, flags, exemplars, histogram temporality); scope attribute indexes',
    statements: (options) => upstreamColumnsMigrationStatements(options),
  },
  {
    version: 5,
    description:
      'summary points in otel_metrics_summary (the upstream clickhouseexporter summary table, tenant first); no rollups',
    statements: (options) => createSummaryTableStatements(options),
  },
  {
    version: 6,
    description:
      'shared marks of cumulative streams (tallyhouse_stream_marks): several collectors never count a stream twice',
    statements: (options) => createStreamMarkTableStatements(options),
  },
  {
    version: 7,
    description:
      "each collector's data-point quota counters (tallyhouse_quota_usage): a tenant's quota holds across collectors",
    statements: (options) => createQuotaUsageTableStatements(options),
  },
];

export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

/** Every statement `ensureSchema` may run, in order, for a fresh database (used by the DDL goldens). */
export function schemaStatements(
  options: SchemaOptions,
  migrations: readonly Migration[] = MIGRATIONS,
): string[] {
  return [
    createDatabaseStatement(options),
    ...createSchemaVersionTableStatements(options),
    ...migrations.flatMap((migration) => migration.statements(options)),
  ];
}

/**
 * A sharded setup over a database created unsharded would find its tables under the names its `Distributed`
 * tables need, and `CREATE … IF NOT EXISTS` would keep them silently: rows would then stay on one shard. Refused,
 * naming the table; moving an existing database onto shards is the operator's (README "Cluster deployment").
 */
async function refuseUnshardedTables(executor: SchemaExecutor, options: SchemaOptions): Promise<void> {
  const names = [SCHEMA_VERSION_TABLE, ...METRIC_TABLE_NAMES].map(quoteString).join(', ');
  const tables = await executor.queryRows<{ name: string; engine: string }>(
    `SELECT name, engine FROM system.tables WHERE database = ${quoteString(options.database)} AND name IN (${names})`,
  );
  const unsharded = tables.find((table) => table.engine !== 'Distributed');
  if (unsharded !== undefined) {
    throw new ConfigError(
      'TALLYHOUSE_CLICKHOUSE_SHARDED',
      `${options.database}.${unsharded.name} exists as a ${unsharded.engine} table, not a Distributed one: this database was created unsharded and cannot be sharded in place`,
    );
  }
}

export interface SchemaResult {
  readonly applied: readonly number[];
  readonly version: number;
}

/**
 * Creates the database and the version record, then applies every migration not yet recorded, in order.
 * `force` re-runs all migrations (their statements are idempotent) — used when a table went missing.
 */
export async function ensureSchema(
  executor: SchemaExecutor,
  options: SchemaOptions,
  logger: Logger,
  { migrations = MIGRATIONS, force = false }: { migrations?: readonly Migration[]; force?: boolean } = {},
): Promise<SchemaResult> {
  await executor.command(createDatabaseStatement(options));
  if (options.sharded) await refuseUnshardedTables(executor, options);
  for (const statement of createSchemaVersionTableStatements(options)) await executor.command(statement);
  const recorded = await executor.queryRows<{ Version: number | string }>(
    `SELECT DISTINCT Version FROM ${qualified(options, SCHEMA_VERSION_TABLE)} ORDER BY Version`,
  );
  const done = new Set(recorded.map((row) => Number(row.Version)));
  const known = Math.max(0, ...migrations.map((migration) => migration.version));
  const newest = Math.max(0, ...done);
  if (newest > known) {
    // A newer exporter migrated this database. Its tables are a superset by construction (forward-only).
    logger.warn(
      {},
      new SchemaVersionError(
        `database ${options.database} is at schema version ${newest}, newer than this exporter's ${known}; continuing`,
      ).message,
    );
  }
  const applied: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version) && !force) continue;
    for (const statement of migration.statements(options)) await executor.command(statement);
    if (!done.has(migration.version)) {
      await executor.command(
        `INSERT INTO ${qualified(options, SCHEMA_VERSION_TABLE)} (Version, Description, AppliedAt) ` +
          `VALUES (${migration.version}, ${quoteString(migration.description)}, now64(3))`,
      );
      applied.push(migration.version);
      logger.info({}, `applied schema migration ${migration.version}: ${migration.description}`);
    }
  }
  return { applied, version: Math.max(newest, known) };
}
