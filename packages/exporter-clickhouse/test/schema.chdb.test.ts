import { ConfigError, silentLogger } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openStorageConnection,
  resolveExporterConfig,
  type SchemaOptions,
  type StorageConnection,
} from '../src/index.ts';
import {
  ensureSchema,
  MIGRATIONS,
  type Migration,
  SCHEMA_VERSION,
  schemaStatements,
} from '../src/schema/migrations.ts';
import { METRIC_COLUMNS } from '../src/schema/tables.ts';
import { schemaExecutor, storeEnv, tempDir } from './support.ts';

/*
 * The metrics tables of the OpenTelemetry Collector's clickhouseexporter (its sqltemplates/metrics_*_table.sql),
 * column by column: reference data for the parity test below. Times are upstream's current DateTime64(9).
 */
const UPSTREAM_COMMON: [string, string][] = [
  ['ResourceAttributes', 'Map(LowCardinality(String), String)'],
  ['ResourceSchemaUrl', 'String'],
  ['ScopeName', 'String'],
  ['ScopeVersion', 'String'],
  ['ScopeAttributes', 'Map(LowCardinality(String), String)'],
  ['ScopeDroppedAttrCount', 'UInt32'],
  ['ScopeSchemaUrl', 'String'],
  ['ServiceName', 'LowCardinality(String)'],
  ['MetricName', 'String'],
  ['MetricDescription', 'String'],
  ['MetricUnit', 'String'],
  ['Attributes', 'Map(LowCardinality(String), String)'],
  ['StartTimeUnix', 'DateTime64(9)'],
  ['TimeUnix', 'DateTime64(9)'],
];
const UPSTREAM_EXEMPLARS: [string, string][] = [
  ['Exemplars.FilteredAttributes', 'Array(Map(LowCardinality(String), String))'],
  ['Exemplars.TimeUnix', 'Array(DateTime64(9))'],
  ['Exemplars.Value', 'Array(Float64)'],
  ['Exemplars.SpanId', 'Array(String)'],
  ['Exemplars.TraceId', 'Array(String)'],
];
const UPSTREAM_HISTOGRAM_TAIL: [string, string][] = [
  ...UPSTREAM_EXEMPLARS,
  ['Flags', 'UInt32'],
  ['Min', 'Float64'],
  ['Max', 'Float64'],
  ['AggregationTemporality', 'Int32'],
];
const UPSTREAM: Record<string, [string, string][]> = {
  otel_metrics_sum: [
    ...UPSTREAM_COMMON,
    ['Value', 'Float64'],
    ['Flags', 'UInt32'],
    ...UPSTREAM_EXEMPLARS,
    ['AggregationTemporality', 'Int32'],
    ['IsMonotonic', 'Bool'],
  ],
  otel_metrics_gauge: [...UPSTREAM_COMMON, ['Value', 'Float64'], ['Flags', 'UInt32'], ...UPSTREAM_EXEMPLARS],
  otel_metrics_histogram: [
    ...UPSTREAM_COMMON,
    ['Count', 'UInt64'],
    ['Sum', 'Float64'],
    ['BucketCounts', 'Array(UInt64)'],
    ['ExplicitBounds', 'Array(Float64)'],
    ...UPSTREAM_HISTOGRAM_TAIL,
  ],
  otel_metrics_exponential_histogram: [
    ...UPSTREAM_COMMON,
    ['Count', 'UInt64'],
    ['Sum', 'Float64'],
    ['Scale', 'Int32'],
    ['ZeroCount', 'UInt64'],
    ['PositiveOffset', 'Int32'],
    ['PositiveBucketCounts', 'Array(UInt64)'],
    ['NegativeOffset', 'Int32'],
    ['NegativeBucketCounts', 'Array(UInt64)'],
    ...UPSTREAM_HISTOGRAM_TAIL,
  ],
  otel_metrics_summary: [
    ...UPSTREAM_COMMON,
    ['Count', 'UInt64'],
    ['Sum', 'Float64'],
    ['ValueAtQuantiles.Quantile', 'Array(Float64)'],
    ['ValueAtQuantiles.Value', 'Array(Float64)'],
    ['Flags', 'UInt32'],
  ],
};

/** Same type, or one a query cannot tell apart (LowCardinality is a storage detail). */
function compatible(ours: string, upstream: string): boolean {
  return ours === upstream || ours === `LowCardinality(${upstream})`;
}

const dataDir = tempDir('schema');
let connection: StorageConnection;

const options = (database: string, extra: Partial<SchemaOptions> = {}): SchemaOptions => ({
  database,
  cluster: undefined,
  replicationPath: '/clickhouse/tables/{shard}/{database}/{table}',
  replicaName: '{replica}',
  ttlDays: undefined,
  dedupWindow: 10_000,
  ...extra,
});

const executor = () => schemaExecutor(connection);

beforeAll(() => {
  connection = openStorageConnection(resolveExporterConfig({ dataDir, env: storeEnv() }));
});
afterAll(async () => {
  await connection.close();
});

describe('schema on the embedded engine', () => {
  it('creates the database and the five metric tables plus dead letters, idempotently', async () => {
    const first = await ensureSchema(executor(), options('s1'), silentLogger);
    const second = await ensureSchema(executor(), options('s1'), silentLogger);
    const forced = await ensureSchema(executor(), options('s1'), silentLogger, { force: true });
    expect(first.applied).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(second.applied).toEqual([]);
    expect(forced.applied).toEqual([]);
    const tables = await connection.queryRows<{ name: string; sorting_key: string; engine: string }>(
      "SELECT name, sorting_key, engine FROM system.tables WHERE database = 's1' ORDER BY name",
    );
    expect(tables.map((table) => table.name).filter((name) => !name.startsWith('tallyhouse_usage_'))).toEqual(
      [
        'otel_metrics_exponential_histogram',
        'otel_metrics_gauge',
        'otel_metrics_histogram',
        'otel_metrics_sum',
        'otel_metrics_summary',
        'tallyhouse_dead_letters',
        'tallyhouse_quota_usage',
        'tallyhouse_schema_versions',
        'tallyhouse_stream_marks',
      ],
    );
    // Migrations 2 and 3: a rollup table and its materialized view per kind and grain; gauges per source.
    expect(
      tables.map((table) => table.name).filter((name) => name.startsWith('tallyhouse_usage_gauge')),
    ).toEqual([
      'tallyhouse_usage_gauge_source_1d',
      'tallyhouse_usage_gauge_source_1d_mv',
      'tallyhouse_usage_gauge_source_1h',
      'tallyhouse_usage_gauge_source_1h_mv',
    ]);
    expect(tables.filter((table) => table.name.startsWith('tallyhouse_usage_'))).toHaveLength(12);
    for (const table of tables.filter((t) => t.name.startsWith('otel_metrics_'))) {
      expect(table.sorting_key.startsWith('TenantId,')).toBe(true);
      expect(table.engine).toBe('MergeTree');
    }
    const versions = await connection.queryRows<{ Version: number }>(
      'SELECT Version FROM s1.tallyhouse_schema_versions',
    );
    expect(versions.map((row) => row.Version).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('has bloom-filter indexes on attribute keys and values, the dedup window and codecs', async () => {
    await ensureSchema(executor(), options('s2'), silentLogger);
    // The summary table, created by migration 5, has the indexes migration 4 gave the others.
    for (const table of ['otel_metrics_sum', 'otel_metrics_summary']) {
      const indexes = await connection.queryRows<{ name: string; type: string; expr: string }>(
        `SELECT name, type, expr FROM system.data_skipping_indices WHERE database = 's2' AND table = '${table}' ORDER BY name`,
      );
      expect(indexes.map((index) => [index.name, index.type, index.expr])).toEqual([
        ['idx_attr_key', 'bloom_filter', 'mapKeys(Attributes)'],
        ['idx_attr_value', 'bloom_filter', 'mapValues(Attributes)'],
        ['idx_res_attr_key', 'bloom_filter', 'mapKeys(ResourceAttributes)'],
        ['idx_res_attr_value', 'bloom_filter', 'mapValues(ResourceAttributes)'],
        ['idx_scope_attr_key', 'bloom_filter', 'mapKeys(ScopeAttributes)'],
        ['idx_scope_attr_value', 'bloom_filter', 'mapValues(ScopeAttributes)'],
      ]);
    }
    const [table] = await connection.queryRows<{ create_table_query: string }>(
      "SELECT create_table_query FROM system.tables WHERE database = 's2' AND name = 'otel_metrics_gauge'",
    );
    expect(table?.create_table_query).toContain('non_replicated_deduplication_window = 10000');
    expect(table?.create_table_query).toContain('`TimeUnix` DateTime64(9) CODEC(Delta(8), ZSTD(1))');
    expect(table?.create_table_query).toContain('PARTITION BY toDate(TimeUnix)');
  });

  it('has every upstream clickhouseexporter column under its name with a compatible type, in layout order', async () => {
    await ensureSchema(executor(), options('s5'), silentLogger);
    for (const [table, upstream] of Object.entries(UPSTREAM)) {
      const columns = await connection.queryRows<{ name: string; type: string; default_expression: string }>(
        `SELECT name, type, default_expression FROM system.columns WHERE database = 's5' AND table = '${table}' ORDER BY position`,
      );
      const types = new Map(columns.map((column) => [column.name, column.type]));
      for (const [name, type] of upstream) {
        expect({ table, name, compatible: compatible(types.get(name) ?? 'missing', type) }).toEqual({
          table,
          name,
          compatible: true,
        });
      }
      // Upstream's columns plus TenantId, nothing else; the table's order is the encoder's row order.
      expect(columns.map((column) => column.name).sort()).toEqual(
        ['TenantId', ...upstream.map(([name]) => name)].sort(),
      );
      expect(columns.map((column) => [column.name, column.type])).toEqual(
        METRIC_COLUMNS[table as keyof typeof METRIC_COLUMNS].map((column) => [column.name, column.type]),
      );
      // Only the histogram temporality has a default of its own: rows written before it existed were deltas too.
      expect(columns.filter((column) => column.default_expression !== '')).toEqual(
        table.includes('histogram')
          ? [{ name: 'AggregationTemporality', type: 'Int32', default_expression: '1' }]
          : [],
      );
    }
  });

  it('adds a TTL in days when asked', async () => {
    await ensureSchema(executor(), options('s3', { ttlDays: 30 }), silentLogger);
    const [table] = await connection.queryRows<{ create_table_query: string }>(
      "SELECT create_table_query FROM system.tables WHERE database = 's3' AND name = 'otel_metrics_sum'",
    );
    expect(table?.create_table_query).toContain('TTL toDateTime(TimeUnix) + toIntervalDay(30)');
  });

  it('applies only the migrations not yet recorded, in order', async () => {
    await ensureSchema(executor(), options('s4'), silentLogger);
    const next = SCHEMA_VERSION + 1;
    const v2: Migration = {
      version: next,
      description: 'add a column',
      statements: (o) => [
        `ALTER TABLE ${o.database}.otel_metrics_sum ADD COLUMN IF NOT EXISTS Note String DEFAULT ''`,
      ],
    };
    const upgraded = await ensureSchema(executor(), options('s4'), silentLogger, {
      migrations: [...MIGRATIONS, v2],
    });
    expect(upgraded).toEqual({ applied: [next], version: next });
    const again = await ensureSchema(executor(), options('s4'), silentLogger, {
      migrations: [...MIGRATIONS, v2],
    });
    expect(again.applied).toEqual([]);
    const columns = await connection.queryRows<{ name: string }>(
      "SELECT name FROM system.columns WHERE database = 's4' AND table = 'otel_metrics_sum' AND name = 'Note'",
    );
    expect(columns).toHaveLength(1);
    // An older exporter meeting the newer schema continues (forward-only migrations keep columns compatible).
    const older = await ensureSchema(executor(), options('s4'), silentLogger);
    expect(older).toEqual({ applied: [], version: next });
  });

  it('refuses to shard a database created unsharded, naming the table, before changing anything', async () => {
    await ensureSchema(executor(), options('unsharded'), silentLogger);
    // The engine here has no cluster: ON CLUSTER is left out so the statements before the check can run.
    const clusterless = {
      command: (sql: string) => connection.command(sql.replaceAll(' ON CLUSTER `tallyhouse_cluster`', '')),
      queryRows: <T>(sql: string) => connection.queryRows<T>(sql),
    };
    const sharded = options('unsharded', { cluster: 'tallyhouse_cluster', sharded: true });
    const error = await ensureSchema(clusterless, sharded, silentLogger).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(
      /TALLYHOUSE_CLICKHOUSE_SHARDED.*unsharded\.\w+ exists as a \w*MergeTree table, not a Distributed one/,
    );
    const tables = await connection.queryRows<{ name: string }>(
      "SELECT name FROM system.tables WHERE database = 'unsharded' AND name LIKE '%\\_local'",
    );
    expect(tables).toEqual([]);
  });

  it.each([
    ['replicated', false],
    ['sharded and replicated', true],
  ])(
    'parses the %s cluster DDL (ON CLUSTER, Replicated and Distributed engines) with the real parser',
    async (_, sharded) => {
      const cluster = options('otel', { cluster: 'tallyhouse_cluster', ttlDays: 90, sharded });
      for (const statement of schemaStatements(cluster)) {
        const [row] = await connection.queryRows<{ formatted: string }>(
          `SELECT formatQuery(${`'${statement.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`}) AS formatted`,
        );
        expect(row?.formatted).toContain('ON CLUSTER tallyhouse_cluster');
      }
    },
  );
});
