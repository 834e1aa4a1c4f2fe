/**
 * DDL of the database, the tenant-first metric tables, the dead letters and the schema-version record. Every
 * statement is idempotent (`IF NOT EXISTS`), so running it twice — or from two exporters at once — is safe.
 */
import {
  createTableStatement,
  dedupSetting,
  engine,
  onCluster,
  quoteIdentifier,
  type SchemaOptions,
} from './sql.ts';
import {
  type ColumnDefinition,
  DEAD_LETTER_COLUMNS,
  DEAD_LETTER_TABLE,
  METRIC_COLUMNS,
  type MetricTableName,
  SCHEMA_VERSION_TABLE,
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

function columnLines(columns: readonly ColumnDefinition[]): string[] {
  return columns.map((column) => `    ${column.name} ${column.type} CODEC(${column.codec})`);
}

export function createDatabaseStatement(options: SchemaOptions): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(options.database)}${onCluster(options)}`;
}

export function createMetricTableStatement(options: SchemaOptions, table: MetricTableName): string {
  const indexes = [
    '    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
    '    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1',
    '    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1',
    '    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1',
  ];
  return createTableStatement(options, {
    table,
    columns: [...columnLines(METRIC_COLUMNS[table]), ...indexes],
    engine: engine(options, 'MergeTree'),
    partitionBy: 'toDate(TimeUnix)',
    orderBy:
      '(TenantId, MetricName, ServiceName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)' +
      ttlClause(options),
    settings: rowTableSettings(options),
  });
}

export function createDeadLetterTableStatement(options: SchemaOptions): string {
  return createTableStatement(options, {
    table: DEAD_LETTER_TABLE,
    columns: columnLines(DEAD_LETTER_COLUMNS),
    engine: engine(options, 'MergeTree'),
    partitionBy: 'toDate(TimeUnix)',
    orderBy: `(TenantId, TableName, TimeUnix)${ttlClause(options)}`,
    settings: rowTableSettings(options),
  });
}

export function createSchemaVersionTableStatement(options: SchemaOptions): string {
  return createTableStatement(options, {
    table: SCHEMA_VERSION_TABLE,
    columns: ['    Version UInt32', '    Description String', '    AppliedAt DateTime64(3)'],
    engine: engine(options, 'ReplacingMergeTree'),
    orderBy: 'Version',
  });
}
