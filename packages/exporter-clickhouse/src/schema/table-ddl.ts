/**
 * DDL of the database, the tenant-first metric tables (the four of migration 1, the summary table of migration 5),
 * the dead letters and the schema-version record. Every statement is idempotent (`IF NOT EXISTS`), so running it
 * twice — or from two exporters at once — is safe. Sharded, each table is two statements (`createTableStatements`).
 */
import {
  alterTableStatement,
  createTableStatements,
  dedupSetting,
  engine,
  localTable,
  onCluster,
  quoteIdentifier,
  type SchemaOptions,
} from './sql.ts';
import {
  type ColumnDefinition,
  DEAD_LETTER_COLUMNS,
  DEAD_LETTER_TABLE,
  METRIC_COLUMNS_V1,
  METRIC_COLUMNS_V2,
  METRIC_TABLE_NAMES_V1,
  METRIC_TABLES,
  type MetricTableName,
  type MetricTableNameV1,
  QUOTA_USAGE_TABLE,
  SCHEMA_VERSION_TABLE,
  STREAM_MARK_TABLE,
} from './tables.ts';

function ttlClause(options: SchemaOptions): string {
  return options.ttlDays === undefined
    ? ''
    : `\nTTL toDateTime(TimeUnix) + toIntervalDay(${options.ttlDays})`;
}

/** Settings of the tables that hold rows as written (metric tables, dead letters). */
function rowTableSettings(options: SchemaOptions): string[] {
  const settings = ['index_granularity = 8192', dedupSetting(options)];
  if (options.ttlDays !== undefined) settings.push('ttl_only_drop_parts = 1');
  return settings;
}

/** A column's name as DDL spells it: a Nested field (`Exemplars.Value`) quoted, every other name bare. */
function columnIdentifier(name: string): string {
  return name.includes('.') ? quoteIdentifier(name) : name;
}

function columnDefinition(column: ColumnDefinition): string {
  const fallback = column.default === undefined ? '' : ` DEFAULT ${column.default}`;
  return `${columnIdentifier(column.name)} ${column.type}${fallback} CODEC(${column.codec})`;
}

function columnLines(columns: readonly ColumnDefinition[]): string[] {
  return columns.map((column) => `    ${columnDefinition(column)}`);
}

/**
 * Bloom-filter indexes on attribute keys and values, as `<name> <expression> TYPE … GRANULARITY …`: a
 * `CREATE TABLE` writes `INDEX` before each, an `ALTER TABLE` `ADD INDEX IF NOT EXISTS`.
 */
const ATTRIBUTE_INDEXES = [
  'idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1',
];

/** Added by migration 4, with `ScopeAttributes` (as upstream has them). */
const SCOPE_ATTRIBUTE_INDEXES = [
  'idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  'idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
];

export function createDatabaseStatement(options: SchemaOptions): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(options.database)}${onCluster(options)}`;
}

/** A metric table as migration 1 creates it: row layout 1 (later migrations add columns). */
export function createMetricTableStatements(options: SchemaOptions, table: MetricTableNameV1): string[] {
  return metricTableStatements(options, table, METRIC_COLUMNS_V1[table], ATTRIBUTE_INDEXES);
}

/**
 * Migration 5: the summary table, in row layout 2 from the start, with the indexes the other metric tables have
 * after migration 4.
 */
export function createSummaryTableStatements(options: SchemaOptions): string[] {
  const table = METRIC_TABLES.summary;
  return metricTableStatements(options, table, METRIC_COLUMNS_V2[table], [
    ...ATTRIBUTE_INDEXES,
    ...SCOPE_ATTRIBUTE_INDEXES,
  ]);
}

/** What every metric table shares: tenant-first sort key, daily partitions, dedup window, TTL when configured. */
function metricTableStatements(
  options: SchemaOptions,
  table: MetricTableName,
  columns: readonly ColumnDefinition[],
  indexes: readonly string[],
): string[] {
  return createTableStatements(options, {
    table,
    columns: [...columnLines(columns), ...indexes.map((index) => `    INDEX ${index}`)],
    engine: engine(options, 'MergeTree'),
    partitionBy: 'toDate(TimeUnix)',
    orderBy:
      '(TenantId, MetricName, ServiceName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)' +
      ttlClause(options),
    settings: rowTableSettings(options),
  });
}

export function createDeadLetterTableStatements(options: SchemaOptions): string[] {
  return createTableStatements(options, {
    table: DEAD_LETTER_TABLE,
    columns: columnLines(DEAD_LETTER_COLUMNS),
    engine: engine(options, 'MergeTree'),
    partitionBy: 'toDate(TimeUnix)',
    orderBy: `(TenantId, TableName, TimeUnix)${ttlClause(options)}`,
    settings: rowTableSettings(options),
  });
}

/**
 * Migration 6: the latest mark per tenant, stream, owner and kind (a replacing table by write time). Marks outlive
 * the metric rows' TTL: a stream silent for months that comes back must still find that it was counted.
 */
export function createStreamMarkTableStatements(options: SchemaOptions): string[] {
  return createTableStatements(options, {
    table: STREAM_MARK_TABLE,
    columns: [
      '    TenantId String',
      '    StreamKey String',
      '    Owner LowCardinality(String)',
      "    Kind Enum8('counted' = 1, 'claim' = 2)",
      '    StartTimeUnix DateTime64(9)',
      '    TimeUnix DateTime64(9)',
      '    Value String',
      '    WrittenAt DateTime64(6) DEFAULT now64(6)',
    ],
    engine: engine(options, 'ReplacingMergeTree', 'WrittenAt'),
    orderBy: '(TenantId, StreamKey, Owner, Kind)\nTTL toDateTime(WrittenAt) + toIntervalDay(400)',
  });
}

/**
 * Migration 7: each collector's quota counter per tenant and period — the whole counter, not an increment, so
 * writing it again (a retry) changes nothing; the latest per tenant, period and owner wins. A tenant's usage is
 * the sum over owners, so its quota holds across collectors and across moves.
 */
export function createQuotaUsageTableStatements(options: SchemaOptions): string[] {
  return createTableStatements(options, {
    table: QUOTA_USAGE_TABLE,
    columns: [
      '    TenantId String',
      "    Period Enum8('hour' = 1, 'day' = 2, 'month' = 3)",
      '    PeriodStart DateTime64(3)',
      '    Owner LowCardinality(String)',
      '    Used UInt64',
      '    WrittenAt DateTime64(6) DEFAULT now64(6)',
    ],
    engine: engine(options, 'ReplacingMergeTree', 'WrittenAt'),
    orderBy: '(TenantId, Period, PeriodStart, Owner)\nTTL toDateTime(PeriodStart) + toIntervalDay(400)',
  });
}

/** Sharded, the versions are read through the `Distributed` table: whichever shard a record landed on. */
export function createSchemaVersionTableStatements(options: SchemaOptions): string[] {
  return createTableStatements(options, {
    table: SCHEMA_VERSION_TABLE,
    shardBy: 'Version',
    columns: ['    Version UInt32', '    Description String', '    AppliedAt DateTime64(3)'],
    engine: engine(options, 'ReplacingMergeTree'),
    orderBy: 'Version',
  });
}

/**
 * Migration 4: the columns of row layout 2 that layout 1 lacks, each added after its predecessor in layout 2 (so
 * an upgraded table and a new one have the same columns in the same order), then the scope-attribute indexes.
 * Rows written before read the type's default (`''`, `{}`, `0`, `[]`) or the column's `DEFAULT`.
 */
export function upstreamColumnsMigrationStatements(options: SchemaOptions): string[] {
  return METRIC_TABLE_NAMES_V1.flatMap((table) => {
    const existing = new Set(METRIC_COLUMNS_V1[table].map((column) => column.name));
    const target = METRIC_COLUMNS_V2[table];
    const additions: string[] = [];
    target.forEach((column, index) => {
      if (existing.has(column.name)) return;
      const previous = target[index - 1] as ColumnDefinition;
      additions.push(
        `ADD COLUMN IF NOT EXISTS ${columnDefinition(column)} AFTER ${columnIdentifier(previous.name)}`,
      );
    });
    const local = localTable(options, table);
    return [
      alterTableStatement(options, local, additions),
      // Sharded, the Distributed table takes the columns too (it has no indexes: they live with the rows).
      ...(local === table ? [] : [alterTableStatement(options, table, additions)]),
      alterTableStatement(
        options,
        local,
        SCOPE_ATTRIBUTE_INDEXES.map((index) => `ADD INDEX IF NOT EXISTS ${index}`),
      ),
    ];
  });
}
