/**
 * The storage tables and their columns, in insert order. DDL, row encoding and reads all derive from here,
 * so the column order of a JSONCompactEachRow row can never drift from the table definition.
 */
import type { PointKind } from '@tallyhouse/model';

export interface ColumnDefinition {
  readonly name: string;
  readonly type: string;
  readonly codec: string;
}

export const METRIC_TABLES = {
  sum: 'otel_metrics_sum',
  gauge: 'otel_metrics_gauge',
  histogram: 'otel_metrics_histogram',
  exponentialHistogram: 'otel_metrics_exponential_histogram',
} as const satisfies Record<PointKind, string>;

export type MetricTableName = (typeof METRIC_TABLES)[PointKind];

export const METRIC_TABLE_NAMES: readonly MetricTableName[] = Object.values(METRIC_TABLES);

export const DEAD_LETTER_TABLE = 'tallyhouse_dead_letters';
export const SCHEMA_VERSION_TABLE = 'tallyhouse_schema_versions';

const ZSTD = 'ZSTD(1)';
const DELTA_ZSTD = 'Delta, ZSTD(1)';

const COMMON_COLUMNS: readonly ColumnDefinition[] = [
  { name: 'TenantId', type: 'LowCardinality(String)', codec: ZSTD },
  { name: 'ResourceAttributes', type: 'Map(LowCardinality(String), String)', codec: ZSTD },
  { name: 'ServiceName', type: 'LowCardinality(String)', codec: ZSTD },
  { name: 'ScopeName', type: 'String', codec: ZSTD },
  { name: 'ScopeVersion', type: 'String', codec: ZSTD },
  { name: 'MetricName', type: 'LowCardinality(String)', codec: ZSTD },
  { name: 'MetricDescription', type: 'String', codec: ZSTD },
  { name: 'MetricUnit', type: 'String', codec: ZSTD },
  { name: 'Attributes', type: 'Map(LowCardinality(String), String)', codec: ZSTD },
  { name: 'StartTimeUnix', type: 'DateTime64(9)', codec: DELTA_ZSTD },
  { name: 'TimeUnix', type: 'DateTime64(9)', codec: DELTA_ZSTD },
];

export const METRIC_COLUMNS: Readonly<Record<MetricTableName, readonly ColumnDefinition[]>> = {
  otel_metrics_sum: [
    ...COMMON_COLUMNS,
    { name: 'Value', type: 'Float64', codec: ZSTD },
    { name: 'AggregationTemporality', type: 'Int32', codec: ZSTD },
    { name: 'IsMonotonic', type: 'Bool', codec: DELTA_ZSTD },
  ],
  otel_metrics_gauge: [...COMMON_COLUMNS, { name: 'Value', type: 'Float64', codec: ZSTD }],
  otel_metrics_histogram: [
    ...COMMON_COLUMNS,
    { name: 'Count', type: 'UInt64', codec: DELTA_ZSTD },
    { name: 'Sum', type: 'Float64', codec: ZSTD },
    { name: 'BucketCounts', type: 'Array(UInt64)', codec: ZSTD },
    { name: 'ExplicitBounds', type: 'Array(Float64)', codec: ZSTD },
    { name: 'Min', type: 'Float64', codec: ZSTD },
    { name: 'Max', type: 'Float64', codec: ZSTD },
  ],
  otel_metrics_exponential_histogram: [
    ...COMMON_COLUMNS,
    { name: 'Count', type: 'UInt64', codec: DELTA_ZSTD },
    { name: 'Sum', type: 'Float64', codec: ZSTD },
    { name: 'Scale', type: 'Int32', codec: ZSTD },
    { name: 'ZeroCount', type: 'UInt64', codec: ZSTD },
    { name: 'PositiveOffset', type: 'Int32', codec: ZSTD },
    { name: 'PositiveBucketCounts', type: 'Array(UInt64)', codec: ZSTD },
    { name: 'NegativeOffset', type: 'Int32', codec: ZSTD },
    { name: 'NegativeBucketCounts', type: 'Array(UInt64)', codec: ZSTD },
    { name: 'Min', type: 'Float64', codec: ZSTD },
    { name: 'Max', type: 'Float64', codec: ZSTD },
  ],
};

export const DEAD_LETTER_COLUMNS: readonly ColumnDefinition[] = [
  { name: 'TimeUnix', type: 'DateTime64(9)', codec: DELTA_ZSTD },
  { name: 'TenantId', type: 'LowCardinality(String)', codec: ZSTD },
  { name: 'TableName', type: 'LowCardinality(String)', codec: ZSTD },
  { name: 'BatchId', type: 'String', codec: ZSTD },
  { name: 'ErrorCode', type: 'LowCardinality(String)', codec: ZSTD },
  { name: 'Error', type: 'String', codec: ZSTD },
  { name: 'Payload', type: 'String', codec: 'ZSTD(3)' },
];

export function columnNames(columns: readonly ColumnDefinition[]): string[] {
  return columns.map((column) => column.name);
}
