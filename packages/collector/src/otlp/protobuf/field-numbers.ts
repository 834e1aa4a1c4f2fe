/**
 * Field numbers of the OTLP messages, one object per message, keys spelled and ordered as the .proto files of
 * opentelemetry-proto declare them (package `opentelemetry.proto.*.v1`). The decoders switch on
 * `tag >>> 3` against these, so each `case` reads like the line of the .proto it implements.
 *
 * Fields Tallyhouse does not read are listed too, marked "skipped": they are skipped like unknown fields,
 * whatever their wire type.
 */

// ---- collector/metrics/v1/metrics_service.proto ----

export const ExportMetricsServiceRequest = { resource_metrics: 1 } as const;

// ---- resource/v1/resource.proto ----

export const Resource = {
  attributes: 1,
  dropped_attributes_count: 2, // skipped
} as const;

// ---- common/v1/common.proto ----

export const AnyValue = {
  string_value: 1,
  bool_value: 2,
  int_value: 3,
  double_value: 4,
  array_value: 5,
  kvlist_value: 6,
  bytes_value: 7,
  string_value_strindex: 8, // skipped: profiles only; OTLP says to ignore it elsewhere
} as const;

export const ArrayValue = { values: 1 } as const;

export const KeyValueList = { values: 1 } as const;

export const KeyValue = {
  key: 1,
  value: 2,
  key_strindex: 3, // skipped: profiles only; OTLP says to ignore it elsewhere
} as const;

export const InstrumentationScope = {
  name: 1,
  version: 2,
  attributes: 3, // skipped
  dropped_attributes_count: 4, // skipped
} as const;

// ---- metrics/v1/metrics.proto ----

export const ResourceMetrics = {
  resource: 1,
  scope_metrics: 2,
  schema_url: 3, // skipped
} as const;

export const ScopeMetrics = {
  scope: 1,
  metrics: 2,
  schema_url: 3, // skipped
} as const;

export const Metric = {
  name: 1,
  description: 2,
  unit: 3,
  // oneof data
  gauge: 5,
  sum: 7,
  histogram: 9,
  exponential_histogram: 10,
  summary: 11,
  metadata: 12, // skipped
} as const;

export const Gauge = { data_points: 1 } as const;

export const Sum = { data_points: 1, aggregation_temporality: 2, is_monotonic: 3 } as const;

export const Histogram = { data_points: 1, aggregation_temporality: 2 } as const;

export const ExponentialHistogram = { data_points: 1, aggregation_temporality: 2 } as const;

/** Its data points are only counted (Summary is not supported), so `SummaryDataPoint` is not listed. */
export const Summary = { data_points: 1 } as const;

export const NumberDataPoint = {
  attributes: 7,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  // oneof value
  as_double: 4,
  as_int: 6,
  exemplars: 5, // skipped
  flags: 8,
} as const;

export const HistogramDataPoint = {
  attributes: 9,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  bucket_counts: 6,
  explicit_bounds: 7,
  exemplars: 8, // skipped
  flags: 10,
  min: 11,
  max: 12,
} as const;

export const ExponentialHistogramDataPoint = {
  attributes: 1,
  start_time_unix_nano: 2,
  time_unix_nano: 3,
  count: 4,
  sum: 5,
  scale: 6,
  zero_count: 7,
  positive: 8,
  negative: 9,
  flags: 10,
  exemplars: 11, // skipped
  min: 12,
  max: 13,
  zero_threshold: 14, // skipped
} as const;

/** `ExponentialHistogramDataPoint.Buckets`. */
export const Buckets = { offset: 1, bucket_counts: 2 } as const;
