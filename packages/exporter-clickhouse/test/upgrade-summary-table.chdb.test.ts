/**
 * A data directory written at schema version 4 (no summary table) opened by the current exporter: migration 5
 * creates `otel_metrics_summary` as a fresh install has it, a part the version-4 exporter spooled replays, the rows
 * written before read back unchanged, and summaries ingested after the upgrade read back exactly.
 */
import type { PointKind, SeriesPoint } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouseMetricExporter, type StorageConnection, UsageReader } from '../src/index.ts';
import { encodeBatch } from '../src/row-encoding.ts';
import { ensureSchema } from '../src/schema/migrations.ts';
import { METRIC_COLUMNS } from '../src/schema/tables.ts';
import { Spool } from '../src/spool.ts';
import { createTablePart } from '../src/table-part.ts';
import {
  embeddedStorage,
  exporterAtSchemaVersion,
  handOverToTestStore,
  mixedBatch,
  SINGLE_NODE_SCHEMA,
  schemaExecutor,
  storeConnection,
  storeStorage,
  summaryPoint,
  sumPoint,
  tempDir,
} from './support.ts';

const dataDir = tempDir('upgrade-summary-table');
/** The kinds a version-4 exporter stored. */
const KINDS_V4: readonly PointKind[] = ['sum', 'gauge', 'histogram', 'exponentialHistogram'];

/** A sum part as the version-4 exporter spooled it: format v2, row layout 2 (the layout this release writes). */
function spoolVersion4Part(batchId: string, points: readonly SeriesPoint[]): void {
  const [rows] = encodeBatch(points, { tenantAttribute: 'tenant.id' }).tables;
  if (rows === undefined) throw new Error('nothing encoded');
  new Spool(dataDir, silentLogger).write(
    createTablePart(batchId, rows.table, rows, rows.tenants, rows.points),
  );
}

/** A table's columns, codecs, sort key and indexes, as the engine describes them. */
async function tableShape(storage: StorageConnection, database: string, table: string) {
  const where = `database = '${database}' AND table = '${table}'`;
  return {
    columns: await storage.queryRows(
      `SELECT name, type, default_expression, compression_codec FROM system.columns WHERE ${where} ORDER BY position`,
    ),
    sortingKey: await storage.queryRows(
      `SELECT sorting_key, partition_key FROM system.tables WHERE database = '${database}' AND name = '${table}'`,
    ),
    indexes: await storage.queryRows(
      `SELECT name, type, expr FROM system.data_skipping_indices WHERE ${where} ORDER BY name`,
    ),
  };
}

const connections: StorageConnection[] = [];
afterAll(async () => {
  for (const connection of connections) await connection.close();
});

describe('a version-4 data directory opened by the current exporter', () => {
  it('gains the summary table, replays the old spool, keeps old rows, and stores summaries exactly', async () => {
    const summaryTables = (storage: StorageConnection) =>
      storage.queryRows<{ n: string }>(
        "SELECT count() AS n FROM system.tables WHERE database = 'otel' AND name = 'otel_metrics_summary'",
      );
    // The directory as version 4 left it, built on the embedded engine.
    const older = embeddedStorage(dataDir);
    connections.push(older);
    const previous = await exporterAtSchemaVersion(dataDir, 4, older);
    const before = mixedBatch('v4', 'old', 4, KINDS_V4);
    expect(await previous.consumeBatch(before)).toEqual({ ok: true });
    await previous.shutdown();
    expect(await summaryTables(older)).toEqual([{ n: '0' }]);
    const spooled = [sumPoint(40, { tenant: 'spooled' })];
    spoolVersion4Part('v4-spooled', spooled);

    // The current exporter opens the directory (on the HTTP store: served by a server): migration 5 runs at
    // start, then the spool replays.
    const store = await handOverToTestStore(dataDir, older);
    const storage = storeStorage(dataDir, store);
    connections.push(storage);
    const current = new ClickHouseMetricExporter({
      ...storeConnection(dataDir, store),
      logger: silentLogger,
      spool: true,
    });
    expect(current.stats().replayedParts).toBe(1);
    const summaries = [
      summaryPoint({}, { tenant: 'new', name: 'rpc.a' }),
      summaryPoint({ sum: Number.NaN, quantileValues: [] }, { tenant: 'new', name: 'rpc.b' }),
      summaryPoint(
        {
          quantileValues: Array.from({ length: 40 }, (_, index) => ({
            quantile: index / 39,
            value: index * 1.25,
          })),
        },
        { tenant: 'new', name: 'rpc.c' },
      ),
    ];
    const batch = { id: 'v5', points: summaries };
    expect(await current.consumeBatch(batch)).toEqual({ ok: true });
    // Re-sent after the upgrade (a write-ahead log replay): nothing added.
    expect(await current.consumeBatch(batch)).toEqual({ ok: true });
    for (let pass = 0; pass < 50 && current.stats().retainedParts > 0; pass++) await current.forceFlush();
    expect(current.stats().retainedParts).toBe(0);
    await current.shutdown();

    const versions = await storage.queryRows<{ Version: number }>(
      'SELECT Version FROM otel.tallyhouse_schema_versions ORDER BY Version',
    );
    expect(versions.map((row) => row.Version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const reader = new UsageReader(storage, 'otel');
    expect(await reader.points('new', 'summary')).toEqual(summaries);
    for (const [index, kind] of KINDS_V4.entries()) {
      expect(await reader.points('old', kind)).toEqual([before.points[index]]);
    }
    expect(await reader.points('spooled', 'sum')).toEqual(spooled);

    // The migrated directory's summary table is the one a fresh install creates.
    const fresh = { ...SINGLE_NODE_SCHEMA, database: 'fresh' };
    const executor = schemaExecutor(storage);
    expect((await ensureSchema(executor, fresh, silentLogger)).applied).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const migrated = await tableShape(storage, 'otel', 'otel_metrics_summary');
    expect(migrated.columns).toHaveLength(METRIC_COLUMNS.otel_metrics_summary.length);
    expect(migrated).toEqual(await tableShape(storage, 'fresh', 'otel_metrics_summary'));

    // A forced re-run of every migration changes nothing.
    await ensureSchema(executor, SINGLE_NODE_SCHEMA, silentLogger, { force: true });
    expect(await summaryTables(storage)).toEqual([{ n: '1' }]);
    expect(await reader.points('new', 'summary')).toEqual(summaries);
  });
});
