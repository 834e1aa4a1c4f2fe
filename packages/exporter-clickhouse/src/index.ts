export {
  type ClickHouseConnection,
  type ClickHouseExporterOptions,
  DEFAULTS,
  type ResolvedExporterConfig,
  resolveExporterConfig,
} from './config.ts';
export {
  type BackendKind,
  embeddedDataPath,
  openEmbeddedConnection,
  openStorageConnection,
  type StorageConnection,
} from './connection.ts';
export { type DeadLetter, type DeadLetterDestination, DeadLetterSink } from './dead-letters.ts';
export { fsyncDirectory, writeAll, writeFileDurably } from './durable-file.ts';
export {
  EmbeddedEngineUnavailableError,
  ExporterShutDownError,
  RetentionFullError,
  RowEncodingError,
  type RowRejectionCode,
  SchemaVersionError,
} from './errors.ts';
export { ClickHouseMetricExporter, type ClickHouseMetricExporterOptions } from './exporter.ts';
export {
  backoffDelayMs,
  type ClassificationContext,
  classifyFailure,
  type FailureClassification,
  type FailureKind,
} from './retry-policy.ts';
export {
  attributeMap,
  type EncodedBatch,
  type EncodedTableRows,
  encodeBatch,
  encodeRow,
  float,
  type RejectedPoint,
} from './row-encoding.ts';
export { bucketExpression, type Step } from './schema/buckets.ts';
export {
  ensureSchema,
  MIGRATIONS,
  type Migration,
  SCHEMA_VERSION,
  type SchemaExecutor,
  type SchemaResult,
  schemaStatements,
} from './schema/migrations.ts';
export {
  createRollupTableStatement,
  createRollupViewStatement,
  type RollupGrain,
  type RollupKind,
  rollupBackfillStatements,
  rollupMigrationStatements,
  rollupTable,
} from './schema/rollups.ts';
export type { SchemaOptions } from './schema/sql.ts';
export {
  createDatabaseStatement,
  createDeadLetterTableStatement,
  createMetricTableStatement,
  createSchemaVersionTableStatement,
} from './schema/table-ddl.ts';
export {
  type ColumnDefinition,
  DEAD_LETTER_COLUMNS,
  DEAD_LETTER_TABLE,
  METRIC_COLUMNS,
  METRIC_TABLE_NAMES,
  METRIC_TABLES,
  type MetricTableName,
  SCHEMA_VERSION_TABLE,
} from './schema/tables.ts';
export type { ShutdownReport, UnwrittenPart } from './shutdown.ts';
export type { ExporterStats } from './stats.ts';
export { deduplicationToken } from './table-part.ts';
export type { QueryConnection } from './usage/bounded-read.ts';
export { histogramQuantile, type PercentileMethod } from './usage/percentiles.ts';
export type {
  GaugeLatest,
  HistogramPercentiles,
  MetricQuery,
  PercentileQuery,
  SumTotal,
  TenantTotal,
  TimeRange,
  TimeSeries,
  TimeSeriesLine,
  TimeSeriesPoint,
  TimeSeriesQuery,
  TopEntry,
  TopNQuery,
  UsageFilter,
  UsageTotal,
} from './usage/query-types.ts';
export { planRange, type RangePart } from './usage/range-plan.ts';
export { ReadLimitError, ReadTimeoutError, Slicer } from './usage/read-limits.ts';
export { decodeFloat, decodeRow } from './usage/row-decoding.ts';
export {
  AdminQuery,
  assertTenantScoped,
  TENANT_PREDICATE,
  TenantScopedQuery,
  UnscopedQueryError,
} from './usage/tenant-scope.ts';
export { UsageReader, type UsageReaderOptions } from './usage/usage-reader.ts';
