/**
 * The storage tables and their columns, in insert order. DDL, row encoding and reads all derive from here,
 * so the column order of a JSONCompactEachRow row can never drift from the table definition.
 */
import type { PointKind } from '@tallyhouse/model';

export interface ColumnDefinition {
  /** A dotted name (`Exemplars.Value`) is one array of a Nested structure, stored as such (flattened). */
  readonly name: string;
  readonly type: string;
  readonly codec: string;
  /** A `DEFAULT` expression, only where the type's own default would misdescribe rows written before it existed. */
  readonly default?: string;
}

export const METRIC_TABLES = {
  sum: 'otel_metrics_sum',
  gauge: 'otel_metrics_gauge',
  histogram: 'otel_metrics_histogram',
  exponentialHistogram: 'otel_metrics_exponential_histogram',
  summary: 'otel_metrics_summary',
} as const satisfies Record<PointKind, string>;

export type MetricTableName = (typeof METRIC_TABLES)[PointKind];

export const METRIC_TABLE_NAMES: readonly MetricTableName[] = Object.values(METRIC_TABLES);

/** The metric tables of migration 1, the only ones row layout 1 has (the summary table came with migration 5). */
export type MetricTableNameV1 = Exclude<MetricTableName, typeof METRIC_TABLES.summary>;

export const DEAD_LETTER_TABLE = 'tallyhouse_dead_letters';
export const SCHEMA_VERSION_TABLE = 'tallyhouse_schema_versions';
/** Shared marks of cumulative streams: what each collector counted of each stream (stream-marks-table.ts). */
export const STREAM_MARK_TABLE = 'tallyhouse_stream_marks';
/** Each collector's data-point quota counters per tenant and period (quota-usage-table.ts). */
export const QUOTA_USAGE_TABLE = 'tallyhouse_quota_usage';

const ZSTD = 'ZSTD(1)';
const DELTA_ZSTD = 'Delta, ZSTD(1)';

/*
 * Row layouts. A layout is the column list rows are encoded in; each is frozen once released, because the
 * migrations that create a layout's columns (a migration's statements never change) and spooled parts written in
 * it (replayed after an upgrade) both depend on it.
 *
 * - Layout 1 (schema versions 1–3): what migration 1 creates.
 * - Layout 2 (schema versions 4 and later): every column of the upstream `clickhouseexporter` metrics tables, under
 *   the same name, with a compatible type, in upstream's relative order — migration 4 adds the ones layout 1
 *   lacked, each after its predecessor here. `ServiceName` stays where layout 1 put it (before the scope columns;
 *   upstream has it after them): moving an existing column buys nothing, every insert and read names its columns.
 *   The summary table (migration 5) is created in layout 2 and has no layout-1 form. Adding it changed no other
 *   table's columns, so it needed no layout of its own: parts spooled by a version-4 exporter replay here, and a
 *   version-4 exporter still replays this one's parts of the other tables.
 */

const TENANT: ColumnDefinition = { name: 'TenantId', type: 'LowCardinality(String)', codec: ZSTD };
const RESOURCE_ATTRIBUTES: ColumnDefinition = {
  name: 'ResourceAttributes',
  type: 'Map(LowCardinality(String), String)',
  codec: ZSTD,
};
const SERVICE_NAME: ColumnDefinition = { name: 'ServiceName', type: 'LowCardinality(String)', codec: ZSTD };
const SCOPE_NAME_VERSION: readonly ColumnDefinition[] = [
  { name: 'ScopeName', type: 'String', codec: ZSTD },
  { name: 'ScopeVersion', type: 'String', codec: ZSTD },
];
const METRIC_AND_TIME: readonly ColumnDefinition[] = [
  { name: 'MetricName', type: 'LowCardinality(String)', codec: ZSTD },
  { name: 'MetricDescription', type: 'String', codec: ZSTD },
  { name: 'MetricUnit', type: 'String', codec: ZSTD },
  { name: 'Attributes', type: 'Map(LowCardinality(String), String)', codec: ZSTD },
  { name: 'StartTimeUnix', type: 'DateTime64(9)', codec: DELTA_ZSTD },
  { name: 'TimeUnix', type: 'DateTime64(9)', codec: DELTA_ZSTD },
];

const COMMON_COLUMNS_V1: readonly ColumnDefinition[] = [
  TENANT,
  RESOURCE_ATTRIBUTES,
  SERVICE_NAME,
  ...SCOPE_NAME_VERSION,
  ...METRIC_AND_TIME,
];

const VALUE: ColumnDefinition = { name: 'Value', type: 'Float64', codec: ZSTD };
const SUM_TEMPORALITY: ColumnDefinition = { name: 'AggregationTemporality', type: 'Int32', codec: ZSTD };
const IS_MONOTONIC: ColumnDefinition = { name: 'IsMonotonic', type: 'Bool', codec: DELTA_ZSTD };
const COUNT_SUM: readonly ColumnDefinition[] = [
  { name: 'Count', type: 'UInt64', codec: DELTA_ZSTD },
  { name: 'Sum', type: 'Float64', codec: ZSTD },
];
const EXPLICIT_BUCKETS: readonly ColumnDefinition[] = [
  { name: 'BucketCounts', type: 'Array(UInt64)', codec: ZSTD },
  { name: 'ExplicitBounds', type: 'Array(Float64)', codec: ZSTD },
];
const EXPONENTIAL_BUCKETS: readonly ColumnDefinition[] = [
  { name: 'Scale', type: 'Int32', codec: ZSTD },
  { name: 'ZeroCount', type: 'UInt64', codec: ZSTD },
  { name: 'PositiveOffset', type: 'Int32', codec: ZSTD },
  { name: 'PositiveBucketCounts', type: 'Array(UInt64)', codec: ZSTD },
  { name: 'NegativeOffset', type: 'Int32', codec: ZSTD },
  { name: 'NegativeBucketCounts', type: 'Array(UInt64)', codec: ZSTD },
];
const MIN_MAX: readonly ColumnDefinition[] = [
  { name: 'Min', type: 'Float64', codec: ZSTD },
  { name: 'Max', type: 'Float64', codec: ZSTD },
];

/** Layout 1: the metric tables as migration 1 creates them (frozen). */
export const METRIC_COLUMNS_V1: Readonly<Record<MetricTableNameV1, readonly ColumnDefinition[]>> = {
  otel_metrics_sum: [...COMMON_COLUMNS_V1, VALUE, SUM_TEMPORALITY, IS_MONOTONIC],
  otel_metrics_gauge: [...COMMON_COLUMNS_V1, VALUE],
  otel_metrics_histogram: [...COMMON_COLUMNS_V1, ...COUNT_SUM, ...EXPLICIT_BUCKETS, ...MIN_MAX],
  otel_metrics_exponential_histogram: [
    ...COMMON_COLUMNS_V1,
    ...COUNT_SUM,
    ...EXPONENTIAL_BUCKETS,
    ...MIN_MAX,
  ],
};

const COMMON_COLUMNS_V2: readonly ColumnDefinition[] = [
  TENANT,
  RESOURCE_ATTRIBUTES,
  { name: 'ResourceSchemaUrl', type: 'String', codec: ZSTD },
  SERVICE_NAME,
  ...SCOPE_NAME_VERSION,
  { name: 'ScopeAttributes', type: 'Map(LowCardinality(String), String)', codec: ZSTD },
  { name: 'ScopeDroppedAttrCount', type: 'UInt32', codec: ZSTD },
  { name: 'ScopeSchemaUrl', type: 'String', codec: ZSTD },
  ...METRIC_AND_TIME,
];

const FLAGS: ColumnDefinition = { name: 'Flags', type: 'UInt32', codec: ZSTD };

/** Upstream's `Exemplars Nested(...)`, as the engine stores it: one array per field, all of a row's equally long. */
const EXEMPLARS: readonly ColumnDefinition[] = [
  { name: 'Exemplars.FilteredAttributes', type: 'Array(Map(LowCardinality(String), String))', codec: ZSTD },
  { name: 'Exemplars.TimeUnix', type: 'Array(DateTime64(9))', codec: ZSTD },
  { name: 'Exemplars.Value', type: 'Array(Float64)', codec: ZSTD },
  { name: 'Exemplars.SpanId', type: 'Array(String)', codec: ZSTD },
  { name: 'Exemplars.TraceId', type: 'Array(String)', codec: ZSTD },
];

/**
 * Histogram rows have always been deltas, like sums: rows written before the column existed read `1` too
 * (`DEFAULT 1`), so no row ever claims an unspecified temporality.
 */
const HISTOGRAM_TEMPORALITY: ColumnDefinition = {
  name: 'AggregationTemporality',
  type: 'Int32',
  codec: ZSTD,
  default: '1',
};

/** Upstream's `ValueAtQuantiles Nested(Quantile Float64, Value Float64)`, flattened like `Exemplars`. */
const VALUE_AT_QUANTILES: readonly ColumnDefinition[] = [
  { name: 'ValueAtQuantiles.Quantile', type: 'Array(Float64)', codec: ZSTD },
  { name: 'ValueAtQuantiles.Value', type: 'Array(Float64)', codec: ZSTD },
];

/** Layout 2: layout 1 plus every other upstream column, and upstream's summary table (frozen). */
export const METRIC_COLUMNS_V2: Readonly<Record<MetricTableName, readonly ColumnDefinition[]>> = {
  otel_metrics_sum: [...COMMON_COLUMNS_V2, VALUE, FLAGS, ...EXEMPLARS, SUM_TEMPORALITY, IS_MONOTONIC],
  otel_metrics_gauge: [...COMMON_COLUMNS_V2, VALUE, FLAGS, ...EXEMPLARS],
  otel_metrics_histogram: [
    ...COMMON_COLUMNS_V2,
    ...COUNT_SUM,
    ...EXPLICIT_BUCKETS,
    ...EXEMPLARS,
    FLAGS,
    ...MIN_MAX,
    HISTOGRAM_TEMPORALITY,
  ],
  otel_metrics_exponential_histogram: [
    ...COMMON_COLUMNS_V2,
    ...COUNT_SUM,
    ...EXPONENTIAL_BUCKETS,
    ...EXEMPLARS,
    FLAGS,
    ...MIN_MAX,
    HISTOGRAM_TEMPORALITY,
  ],
  // As upstream: no exemplars (an OTLP summary point has none) and no temporality.
  otel_metrics_summary: [...COMMON_COLUMNS_V2, ...COUNT_SUM, ...VALUE_AT_QUANTILES, FLAGS],
};

export type RowLayout = 1 | 2;

const LAYOUTS = {
  1: METRIC_COLUMNS_V1,
  2: METRIC_COLUMNS_V2,
} as const satisfies Record<
  RowLayout,
  Readonly<Partial<Record<MetricTableName, readonly ColumnDefinition[]>>>
>;

/** The layout the row encoder writes. */
export const CURRENT_ROW_LAYOUT = 2 satisfies RowLayout;

/** The columns of the current layout, in table order: what the encoder writes and `UsageReader.points` reads. */
export const METRIC_COLUMNS: Readonly<Record<MetricTableName, readonly ColumnDefinition[]>> =
  LAYOUTS[CURRENT_ROW_LAYOUT];

/** The metric tables of layout 1, in `METRIC_TABLES` order. */
export const METRIC_TABLE_NAMES_V1: readonly MetricTableNameV1[] = METRIC_TABLE_NAMES.filter(
  (table): table is MetricTableNameV1 => firstRowLayout(table) === 1,
);

/** The columns a row of `layout` holds, in row order (an insert names them). */
export function layoutColumns(table: MetricTableName, layout: RowLayout): readonly ColumnDefinition[] {
  const columns = tableInLayout(table, layout);
  if (columns === undefined) throw new RangeError(`${table} has no row layout ${layout}`);
  return columns;
}

/** A layout rows of `table` have been written in (a spool record's, say). */
export function isRowLayoutOf(table: MetricTableName, value: unknown): value is RowLayout {
  return (value === 1 || value === 2) && tableInLayout(table, value) !== undefined;
}

/** The layout `table`'s rows were first written in: 1, or 2 for the summary table (created in layout 2). */
export function firstRowLayout(table: MetricTableName): RowLayout {
  return tableInLayout(table, 1) === undefined ? 2 : 1;
}

/** `table`'s columns in `layout`; `undefined` for a table created after that layout. */
function tableInLayout(table: MetricTableName, layout: RowLayout): readonly ColumnDefinition[] | undefined {
  const tables: Readonly<Partial<Record<MetricTableName, readonly ColumnDefinition[]>>> = LAYOUTS[layout];
  return tables[table];
}

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
