CREATE DATABASE IF NOT EXISTS `otel` ON CLUSTER `tallyhouse_cluster`;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_schema_versions` ON CLUSTER `tallyhouse_cluster`
(
    Version UInt32,
    Description String,
    AppliedAt DateTime64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY Version;

CREATE TABLE IF NOT EXISTS `otel`.`otel_metrics_sum` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Bool CODEC(Delta, ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (TenantId, MetricName, ServiceName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
TTL toDateTime(TimeUnix) + toIntervalDay(90)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `otel`.`otel_metrics_gauge` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (TenantId, MetricName, ServiceName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
TTL toDateTime(TimeUnix) + toIntervalDay(90)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `otel`.`otel_metrics_histogram` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (TenantId, MetricName, ServiceName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
TTL toDateTime(TimeUnix) + toIntervalDay(90)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `otel`.`otel_metrics_exponential_histogram` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (TenantId, MetricName, ServiceName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
TTL toDateTime(TimeUnix) + toIntervalDay(90)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_dead_letters` ON CLUSTER `tallyhouse_cluster`
(
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    TableName LowCardinality(String) CODEC(ZSTD(1)),
    BatchId String CODEC(ZSTD(1)),
    ErrorCode LowCardinality(String) CODEC(ZSTD(1)),
    Error String CODEC(ZSTD(1)),
    Payload String CODEC(ZSTD(3))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (TenantId, TableName, TimeUnix)
TTL toDateTime(TimeUnix) + toIntervalDay(90)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_sum_1h` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    BucketStart DateTime('UTC'),
    Value SimpleAggregateFunction(sum, Float64),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_sum_1h_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_sum_1h`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 3600000000000) * 3600, 'UTC') AS BucketStart, sum(Value) AS Value, count() AS Rows
FROM `otel`.`otel_metrics_sum`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_sum_1d` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    BucketStart DateTime('UTC'),
    Value SimpleAggregateFunction(sum, Float64),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYear(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_sum_1d_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_sum_1d`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 86400000000000) * 86400, 'UTC') AS BucketStart, sum(Value) AS Value, count() AS Rows
FROM `otel`.`otel_metrics_sum`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_1h` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    BucketStart DateTime('UTC'),
    Latest AggregateFunction(argMax, Float64, DateTime64(9)),
    LatestTime SimpleAggregateFunction(max, DateTime64(9)),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_1h_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_gauge_1h`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 3600000000000) * 3600, 'UTC') AS BucketStart, argMaxState(Value, TimeUnix) AS Latest, max(TimeUnix) AS LatestTime, count() AS Rows
FROM `otel`.`otel_metrics_gauge`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_1d` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    BucketStart DateTime('UTC'),
    Latest AggregateFunction(argMax, Float64, DateTime64(9)),
    LatestTime SimpleAggregateFunction(max, DateTime64(9)),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYear(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_1d_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_gauge_1d`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 86400000000000) * 86400, 'UTC') AS BucketStart, argMaxState(Value, TimeUnix) AS Latest, max(TimeUnix) AS LatestTime, count() AS Rows
FROM `otel`.`otel_metrics_gauge`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_histogram_1h` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    ExplicitBounds Array(Float64),
    BucketStart DateTime('UTC'),
    Count SimpleAggregateFunction(sum, UInt64),
    Sum SimpleAggregateFunction(sum, Float64),
    BucketCounts AggregateFunction(sumForEach, Array(UInt64)),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ExplicitBounds)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_histogram_1h_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_histogram_1h`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, ExplicitBounds, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 3600000000000) * 3600, 'UTC') AS BucketStart, sum(Count) AS Count, sum(Sum) AS Sum, sumForEachState(BucketCounts) AS BucketCounts, count() AS Rows
FROM `otel`.`otel_metrics_histogram`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ExplicitBounds;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_histogram_1d` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    ExplicitBounds Array(Float64),
    BucketStart DateTime('UTC'),
    Count SimpleAggregateFunction(sum, UInt64),
    Sum SimpleAggregateFunction(sum, Float64),
    BucketCounts AggregateFunction(sumForEach, Array(UInt64)),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYear(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ExplicitBounds)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_histogram_1d_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_histogram_1d`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, ExplicitBounds, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 86400000000000) * 86400, 'UTC') AS BucketStart, sum(Count) AS Count, sum(Sum) AS Sum, sumForEachState(BucketCounts) AS BucketCounts, count() AS Rows
FROM `otel`.`otel_metrics_histogram`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ExplicitBounds;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_source_1h` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    ResourceAttributes Map(LowCardinality(String), String),
    ScopeName LowCardinality(String),
    ScopeVersion LowCardinality(String),
    BucketStart DateTime('UTC'),
    Latest AggregateFunction(argMax, Float64, DateTime64(9)),
    LatestTime SimpleAggregateFunction(max, DateTime64(9)),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ResourceAttributes, ScopeName, ScopeVersion)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_source_1h_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_gauge_source_1h`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, ResourceAttributes, ScopeName, ScopeVersion, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 3600000000000) * 3600, 'UTC') AS BucketStart, argMaxState(Value, TimeUnix) AS Latest, max(TimeUnix) AS LatestTime, count() AS Rows
FROM `otel`.`otel_metrics_gauge`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ResourceAttributes, ScopeName, ScopeVersion;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_source_1d` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String),
    MetricName LowCardinality(String),
    MetricUnit LowCardinality(String),
    ServiceName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    ResourceAttributes Map(LowCardinality(String), String),
    ScopeName LowCardinality(String),
    ScopeVersion LowCardinality(String),
    BucketStart DateTime('UTC'),
    Latest AggregateFunction(argMax, Float64, DateTime64(9)),
    LatestTime SimpleAggregateFunction(max, DateTime64(9)),
    Rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYear(BucketStart)
ORDER BY (TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ResourceAttributes, ScopeName, ScopeVersion)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.`tallyhouse_usage_gauge_source_1d_mv` ON CLUSTER `tallyhouse_cluster`
TO `otel`.`tallyhouse_usage_gauge_source_1d`
AS
SELECT TenantId, MetricName, MetricUnit, ServiceName, Attributes, ResourceAttributes, ScopeName, ScopeVersion, toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, 86400000000000) * 86400, 'UTC') AS BucketStart, argMaxState(Value, TimeUnix) AS Latest, max(TimeUnix) AS LatestTime, count() AS Rows
FROM `otel`.`otel_metrics_gauge`
GROUP BY TenantId, MetricName, BucketStart, ServiceName, MetricUnit, Attributes, ResourceAttributes, ScopeName, ScopeVersion;

DROP VIEW IF EXISTS `otel`.`tallyhouse_usage_gauge_1h_mv` ON CLUSTER `tallyhouse_cluster`;

DROP TABLE IF EXISTS `otel`.`tallyhouse_usage_gauge_1h` ON CLUSTER `tallyhouse_cluster`;

DROP VIEW IF EXISTS `otel`.`tallyhouse_usage_gauge_1d_mv` ON CLUSTER `tallyhouse_cluster`;

DROP TABLE IF EXISTS `otel`.`tallyhouse_usage_gauge_1d` ON CLUSTER `tallyhouse_cluster`;

ALTER TABLE `otel`.`otel_metrics_sum` ON CLUSTER `tallyhouse_cluster`
    ADD COLUMN IF NOT EXISTS ResourceSchemaUrl String CODEC(ZSTD(1)) AFTER ResourceAttributes,
    ADD COLUMN IF NOT EXISTS ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)) AFTER ScopeVersion,
    ADD COLUMN IF NOT EXISTS ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)) AFTER ScopeAttributes,
    ADD COLUMN IF NOT EXISTS ScopeSchemaUrl String CODEC(ZSTD(1)) AFTER ScopeDroppedAttrCount,
    ADD COLUMN IF NOT EXISTS Flags UInt32 CODEC(ZSTD(1)) AFTER Value,
    ADD COLUMN IF NOT EXISTS `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(1)) AFTER Flags,
    ADD COLUMN IF NOT EXISTS `Exemplars.TimeUnix` Array(DateTime64(9)) CODEC(ZSTD(1)) AFTER `Exemplars.FilteredAttributes`,
    ADD COLUMN IF NOT EXISTS `Exemplars.Value` Array(Float64) CODEC(ZSTD(1)) AFTER `Exemplars.TimeUnix`,
    ADD COLUMN IF NOT EXISTS `Exemplars.SpanId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.Value`,
    ADD COLUMN IF NOT EXISTS `Exemplars.TraceId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.SpanId`;

ALTER TABLE `otel`.`otel_metrics_sum` ON CLUSTER `tallyhouse_cluster`
    ADD INDEX IF NOT EXISTS idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE `otel`.`otel_metrics_gauge` ON CLUSTER `tallyhouse_cluster`
    ADD COLUMN IF NOT EXISTS ResourceSchemaUrl String CODEC(ZSTD(1)) AFTER ResourceAttributes,
    ADD COLUMN IF NOT EXISTS ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)) AFTER ScopeVersion,
    ADD COLUMN IF NOT EXISTS ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)) AFTER ScopeAttributes,
    ADD COLUMN IF NOT EXISTS ScopeSchemaUrl String CODEC(ZSTD(1)) AFTER ScopeDroppedAttrCount,
    ADD COLUMN IF NOT EXISTS Flags UInt32 CODEC(ZSTD(1)) AFTER Value,
    ADD COLUMN IF NOT EXISTS `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(1)) AFTER Flags,
    ADD COLUMN IF NOT EXISTS `Exemplars.TimeUnix` Array(DateTime64(9)) CODEC(ZSTD(1)) AFTER `Exemplars.FilteredAttributes`,
    ADD COLUMN IF NOT EXISTS `Exemplars.Value` Array(Float64) CODEC(ZSTD(1)) AFTER `Exemplars.TimeUnix`,
    ADD COLUMN IF NOT EXISTS `Exemplars.SpanId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.Value`,
    ADD COLUMN IF NOT EXISTS `Exemplars.TraceId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.SpanId`;

ALTER TABLE `otel`.`otel_metrics_gauge` ON CLUSTER `tallyhouse_cluster`
    ADD INDEX IF NOT EXISTS idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE `otel`.`otel_metrics_histogram` ON CLUSTER `tallyhouse_cluster`
    ADD COLUMN IF NOT EXISTS ResourceSchemaUrl String CODEC(ZSTD(1)) AFTER ResourceAttributes,
    ADD COLUMN IF NOT EXISTS ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)) AFTER ScopeVersion,
    ADD COLUMN IF NOT EXISTS ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)) AFTER ScopeAttributes,
    ADD COLUMN IF NOT EXISTS ScopeSchemaUrl String CODEC(ZSTD(1)) AFTER ScopeDroppedAttrCount,
    ADD COLUMN IF NOT EXISTS `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(1)) AFTER ExplicitBounds,
    ADD COLUMN IF NOT EXISTS `Exemplars.TimeUnix` Array(DateTime64(9)) CODEC(ZSTD(1)) AFTER `Exemplars.FilteredAttributes`,
    ADD COLUMN IF NOT EXISTS `Exemplars.Value` Array(Float64) CODEC(ZSTD(1)) AFTER `Exemplars.TimeUnix`,
    ADD COLUMN IF NOT EXISTS `Exemplars.SpanId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.Value`,
    ADD COLUMN IF NOT EXISTS `Exemplars.TraceId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.SpanId`,
    ADD COLUMN IF NOT EXISTS Flags UInt32 CODEC(ZSTD(1)) AFTER `Exemplars.TraceId`,
    ADD COLUMN IF NOT EXISTS AggregationTemporality Int32 DEFAULT 1 CODEC(ZSTD(1)) AFTER Max;

ALTER TABLE `otel`.`otel_metrics_histogram` ON CLUSTER `tallyhouse_cluster`
    ADD INDEX IF NOT EXISTS idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE `otel`.`otel_metrics_exponential_histogram` ON CLUSTER `tallyhouse_cluster`
    ADD COLUMN IF NOT EXISTS ResourceSchemaUrl String CODEC(ZSTD(1)) AFTER ResourceAttributes,
    ADD COLUMN IF NOT EXISTS ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)) AFTER ScopeVersion,
    ADD COLUMN IF NOT EXISTS ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)) AFTER ScopeAttributes,
    ADD COLUMN IF NOT EXISTS ScopeSchemaUrl String CODEC(ZSTD(1)) AFTER ScopeDroppedAttrCount,
    ADD COLUMN IF NOT EXISTS `Exemplars.FilteredAttributes` Array(Map(LowCardinality(String), String)) CODEC(ZSTD(1)) AFTER NegativeBucketCounts,
    ADD COLUMN IF NOT EXISTS `Exemplars.TimeUnix` Array(DateTime64(9)) CODEC(ZSTD(1)) AFTER `Exemplars.FilteredAttributes`,
    ADD COLUMN IF NOT EXISTS `Exemplars.Value` Array(Float64) CODEC(ZSTD(1)) AFTER `Exemplars.TimeUnix`,
    ADD COLUMN IF NOT EXISTS `Exemplars.SpanId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.Value`,
    ADD COLUMN IF NOT EXISTS `Exemplars.TraceId` Array(String) CODEC(ZSTD(1)) AFTER `Exemplars.SpanId`,
    ADD COLUMN IF NOT EXISTS Flags UInt32 CODEC(ZSTD(1)) AFTER `Exemplars.TraceId`,
    ADD COLUMN IF NOT EXISTS AggregationTemporality Int32 DEFAULT 1 CODEC(ZSTD(1)) AFTER Max;

ALTER TABLE `otel`.`otel_metrics_exponential_histogram` ON CLUSTER `tallyhouse_cluster`
    ADD INDEX IF NOT EXISTS idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1;

CREATE TABLE IF NOT EXISTS `otel`.`otel_metrics_summary` ON CLUSTER `tallyhouse_cluster`
(
    TenantId LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    `ValueAtQuantiles.Quantile` Array(Float64) CODEC(ZSTD(1)),
    `ValueAtQuantiles.Value` Array(Float64) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (TenantId, MetricName, ServiceName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
TTL toDateTime(TimeUnix) + toIntervalDay(90)
SETTINGS index_granularity = 8192, replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_stream_marks` ON CLUSTER `tallyhouse_cluster`
(
    TenantId String,
    StreamKey String,
    Owner LowCardinality(String),
    Kind Enum8('counted' = 1, 'claim' = 2),
    StartTimeUnix DateTime64(9),
    TimeUnix DateTime64(9),
    Value String,
    WrittenAt DateTime64(6) DEFAULT now64(6)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', WrittenAt)
ORDER BY (TenantId, StreamKey, Owner, Kind)
TTL toDateTime(WrittenAt) + toIntervalDay(400);

CREATE TABLE IF NOT EXISTS `otel`.`tallyhouse_quota_usage` ON CLUSTER `tallyhouse_cluster`
(
    TenantId String,
    Period Enum8('hour' = 1, 'day' = 2, 'month' = 3),
    PeriodStart DateTime64(3),
    Owner LowCardinality(String),
    Used UInt64,
    WrittenAt DateTime64(6) DEFAULT now64(6)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', WrittenAt)
ORDER BY (TenantId, Period, PeriodStart, Owner)
TTL toDateTime(PeriodStart) + toIntervalDay(400);
