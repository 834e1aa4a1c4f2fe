/**
 * The SQL building blocks every DDL statement shares: schema options, identifier and string quoting, the
 * cluster clause, table engines, the deduplication window and the shape of a `CREATE TABLE`. The table DDL
 * (`table-ddl.ts`) and the rollup DDL (`rollups.ts`) both build on it; neither imports the other.
 */

export interface SchemaOptions {
  readonly database: string;
  /** `ON CLUSTER <name>` and `Replicated*MergeTree` when set. */
  readonly cluster: string | undefined;
  readonly replicationPath: string;
  readonly replicaName: string;
  readonly ttlDays: number | undefined;
  /** Insert blocks remembered per table for `insert_deduplication_token`. */
  readonly dedupWindow: number;
  /**
   * Several shards (needs `cluster`): each table is a replicated `<name>_local` on every node plus a `Distributed`
   * table under the table's own name, sharded by tenant; inserts and reads use the `Distributed` names.
   */
  readonly sharded?: boolean;
}

/** The table that holds the rows: `<name>_local` behind a `Distributed` table when sharded, else the table itself. */
export function localTable(options: SchemaOptions, table: string): string {
  return options.sharded ? `${table}_local` : table;
}

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function qualified(options: Pick<SchemaOptions, 'database'>, table: string): string {
  return `${quoteIdentifier(options.database)}.${quoteIdentifier(table)}`;
}

export function onCluster(options: SchemaOptions): string {
  return options.cluster === undefined ? '' : ` ON CLUSTER ${quoteIdentifier(options.cluster)}`;
}

/** `version`: the column a `ReplacingMergeTree` keeps the highest of (else the last inserted row wins). */
export function engine(
  options: SchemaOptions,
  family: 'MergeTree' | 'ReplacingMergeTree' | 'AggregatingMergeTree',
  version?: string,
): string {
  const extra = version === undefined ? [] : [version];
  if (options.cluster === undefined) return `${family}(${extra.join(', ')})`;
  return `Replicated${family}(${[quoteString(options.replicationPath), quoteString(options.replicaName), ...extra].join(', ')})`;
}

/** Plain MergeTree needs `non_replicated_deduplication_window` for tokens to deduplicate; replicated tables use Keeper. */
export function dedupSetting(options: SchemaOptions): string {
  return options.cluster === undefined
    ? `non_replicated_deduplication_window = ${options.dedupWindow}`
    : `replicated_deduplication_window = ${options.dedupWindow}`;
}

/** What differs between the tables the exporter creates; `createTableStatement` writes the rest alike. */
export interface TableSpec {
  readonly table: string;
  /**
   * How a sharded setup spreads its rows (`Distributed`'s sharding key): by tenant by default, so a tenant's rows
   * live on one shard and its reads can skip the others.
   */
  readonly shardBy?: string;
  /** Column (and index) lines, indented. */
  readonly columns: readonly string[];
  readonly engine: string;
  readonly partitionBy?: string;
  /** The sort key, and whatever follows it on the same clause (a TTL). */
  readonly orderBy: string;
  readonly settings?: readonly string[];
}

export function createTableStatement(options: SchemaOptions, spec: TableSpec): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(options, spec.table)}${onCluster(options)}`,
    '(',
    spec.columns.join(',\n'),
    ')',
    `ENGINE = ${spec.engine}`,
    ...(spec.partitionBy === undefined ? [] : [`PARTITION BY ${spec.partitionBy}`]),
    `ORDER BY ${spec.orderBy}`,
    ...(spec.settings === undefined ? [] : [`SETTINGS ${spec.settings.join(', ')}`]),
  ].join('\n');
}

/** The sharding key of tables that hold a tenant's rows. */
const TENANT_SHARDING_KEY = 'cityHash64(TenantId)';

/**
 * The statements that create a table: the table itself; or, sharded, its replicated `<name>_local` table on every
 * node and then the `Distributed` table under its name (columns taken from the local one).
 */
export function createTableStatements(options: SchemaOptions, spec: TableSpec): string[] {
  if (!options.sharded) return [createTableStatement(options, spec)];
  const local = localTable(options, spec.table);
  return [
    createTableStatement(options, { ...spec, table: local }),
    [
      `CREATE TABLE IF NOT EXISTS ${qualified(options, spec.table)}${onCluster(options)}`,
      `AS ${qualified(options, local)}`,
      `ENGINE = Distributed(${quoteString(options.cluster ?? '')}, ${quoteString(options.database)}, ${quoteString(local)}, ${spec.shardBy ?? TENANT_SHARDING_KEY})`,
    ].join('\n'),
  ];
}

/** `DROP TABLE` of a table and, sharded, of its local table too. */
export function dropTableStatements(options: SchemaOptions, table: string): string[] {
  const names = options.sharded ? [table, localTable(options, table)] : [table];
  return names.map((name) => `DROP TABLE IF EXISTS ${qualified(options, name)}${onCluster(options)}`);
}

/** `ALTER TABLE … [ON CLUSTER …]` with one action per line (each idempotent: `IF NOT EXISTS`). */
export function alterTableStatement(
  options: SchemaOptions,
  table: string,
  actions: readonly string[],
): string {
  return [
    `ALTER TABLE ${qualified(options, table)}${onCluster(options)}`,
    actions.map((action) => `    ${action}`).join(',\n'),
  ].join('\n');
}
