import { silentLogger } from '@tallyhouse/model';
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
import { tempDir } from './support.ts';

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

const executor = () => ({
  command: (sql: string) => connection.command(sql),
  queryRows: <T>(sql: string) => connection.queryRows<T>(sql),
});

beforeAll(() => {
  connection = openStorageConnection(resolveExporterConfig({ dataDir, env: {} }));
});
afterAll(async () => {
  await connection.close();
});

describe('schema on the embedded engine', () => {
  it('creates the database and the four tables plus dead letters, idempotently', async () => {
    const first = await ensureSchema(executor(), options('s1'), silentLogger);
    const second = await ensureSchema(executor(), options('s1'), silentLogger);
    const forced = await ensureSchema(executor(), options('s1'), silentLogger, { force: true });
    expect(first.applied).toEqual([1, 2, 3]);
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
        'tallyhouse_dead_letters',
        'tallyhouse_schema_versions',
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
    expect(versions.map((row) => row.Version).sort()).toEqual([1, 2, 3]);
  });

  it('has bloom-filter indexes on attribute keys and values, the dedup window and codecs', async () => {
    await ensureSchema(executor(), options('s2'), silentLogger);
    const indexes = await connection.queryRows<{ table: string; name: string; type: string; expr: string }>(
      "SELECT table, name, type, expr FROM system.data_skipping_indices WHERE database = 's2' AND table = 'otel_metrics_sum' ORDER BY name",
    );
    expect(indexes.map((index) => [index.name, index.type, index.expr])).toEqual([
      ['idx_attr_key', 'bloom_filter', 'mapKeys(Attributes)'],
      ['idx_attr_value', 'bloom_filter', 'mapValues(Attributes)'],
      ['idx_res_attr_key', 'bloom_filter', 'mapKeys(ResourceAttributes)'],
      ['idx_res_attr_value', 'bloom_filter', 'mapValues(ResourceAttributes)'],
    ]);
    const [table] = await connection.queryRows<{ create_table_query: string }>(
      "SELECT create_table_query FROM system.tables WHERE database = 's2' AND name = 'otel_metrics_gauge'",
    );
    expect(table?.create_table_query).toContain('non_replicated_deduplication_window = 10000');
    expect(table?.create_table_query).toContain('`TimeUnix` DateTime64(9) CODEC(Delta(8), ZSTD(1))');
    expect(table?.create_table_query).toContain('PARTITION BY toDate(TimeUnix)');
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

  it('parses the cluster DDL (ON CLUSTER, Replicated engines) with the real parser', async () => {
    const cluster = options('otel', { cluster: 'tallyhouse_cluster', ttlDays: 90 });
    for (const statement of schemaStatements(cluster)) {
      const [row] = await connection.queryRows<{ formatted: string }>(
        `SELECT formatQuery(${`'${statement.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`}) AS formatted`,
      );
      expect(row?.formatted).toContain('ON CLUSTER tallyhouse_cluster');
    }
  });
});
