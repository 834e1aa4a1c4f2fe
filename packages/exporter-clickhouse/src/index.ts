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
export {
  EmbeddedEngineUnavailableError,
  ExporterConfigError,
  ExporterShutDownError,
  RetentionFullError,
  RowEncodingError,
  type RowRejectionCode,
  SchemaVersionError,
} from './errors.ts';
export {
  ClickHouseMetricExporter,
  type ClickHouseMetricExporterOptions,
  type ShutdownReport,
  type UnwrittenPart,
} from './exporter.ts';
export { defaultLogger, type ExporterLogger, silentLogger } from './logger.ts';
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
export {
  createDatabaseStatement,
  createDeadLetterTableStatement,
  createMetricTableStatement,
  createSchemaVersionTableStatement,
  ensureSchema,
  MIGRATIONS,
  type Migration,
  SCHEMA_VERSION,
  type SchemaExecutor,
  type SchemaOptions,
  type SchemaResult,
  schemaStatements,
} from './schema.ts';
export type { ExporterStats } from './stats.ts';
export { deduplicationToken } from './table-part.ts';
export {
  type ColumnDefinition,
  DEAD_LETTER_COLUMNS,
  DEAD_LETTER_TABLE,
  METRIC_COLUMNS,
  METRIC_TABLE_NAMES,
  METRIC_TABLES,
  type MetricTableName,
  SCHEMA_VERSION_TABLE,
} from './tables.ts';
export {
  decodeRow,
  type GaugeLatest,
  type SumTotal,
  TenantUsageReader,
  type TimeRange,
} from './tenant-reads.ts';
