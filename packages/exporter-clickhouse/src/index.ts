/**
 * The public surface of the exporter: the stage, its options, the storage connection, the usage reader with its
 * query and answer types, the reports and counters, and the errors (each with a stable `code`). Everything else
 * (encoding, retry policy, schema statements, SQL assembly) is internal to the package.
 */
export {
  type ClickHouseConnection,
  type ClickHouseExporterOptions,
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
export type { DeadLetter } from './dead-letters.ts';
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
  ClickHouseQuotaUsage,
  type OwnedQuotaCounter,
  type QuotaCounter,
  type QuotaPeriodName,
} from './quota-usage-table.ts';
export { type RollupGrain, type RollupKind, rollupBackfillStatements } from './schema/rollups.ts';
export type { SchemaOptions } from './schema/sql.ts';
export type { ShutdownReport, UnwrittenPart } from './shutdown.ts';
export type { ExporterStats } from './stats.ts';
export { ClickHouseStreamMarks } from './stream-marks-table.ts';
export type { QueryConnection } from './usage/bounded-read.ts';
export { GAUGE_COMBINES } from './usage/gauge-combine.ts';
export type { PercentileMethod } from './usage/percentiles.ts';
export type {
  AttributeKey,
  CombinedGaugeLatest,
  GaugeCombine,
  GaugeLatest,
  GaugeLatestQuery,
  GaugeSource,
  HistogramPercentiles,
  MetricQuery,
  PercentileQuery,
  PeriodTotal,
  PeriodTotalsQuery,
  StoredMetric,
  SumTotal,
  TenantEntry,
  TenantTotal,
  TimeRange,
  TimeSeries,
  TimeSeriesLine,
  TimeSeriesPoint,
  TimeSeriesQuery,
  TopEntry,
  TopNQuery,
  TopTenantsQuery,
  UsageFilter,
  UsageTotal,
} from './usage/query-types.ts';
export { ReadLimitError, ReadTimeoutError } from './usage/read-limits.ts';
export { UnscopedQueryError } from './usage/tenant-scope.ts';
export { UsageReader, type UsageReaderOptions } from './usage/usage-reader.ts';
