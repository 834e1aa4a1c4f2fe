/**
 * A data directory written at schema version 3 (row layout 1: no upstream schema-URL, scope-attribute, flag or
 * exemplar columns) opened by the current exporter: migration 4 adds the columns in place, rows written before
 * read their defaults, a part spooled by the old exporter (spool format v1, layout-1 rows) replays into the
 * migrated tables, and new points with exemplars on every kind read back exactly.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exemplar, PointKind, SeriesPoint } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouseMetricExporter, type StorageConnection, UsageReader } from '../src/index.ts';
import { encodeBatch } from '../src/row-encoding.ts';
import { ensureSchema, MIGRATIONS } from '../src/schema/migrations.ts';
import { METRIC_TABLES } from '../src/schema/tables.ts';
import { deduplicationToken } from '../src/table-part.ts';
import {
  embeddedStorage,
  exporterAtSchemaVersion,
  handOverToTestStore,
  inOlderLayout,
  mixedBatch,
  SINGLE_NODE_SCHEMA,
  schemaExecutor,
  storeConnection,
  storeStorage,
  sumPoint,
  tempDir,
} from './support.ts';

const dataDir = tempDir('upgrade-upstream-columns');
/** The kinds a version-3 exporter stored (summaries came with version 5). */
const KINDS: readonly PointKind[] = ['sum', 'gauge', 'histogram', 'exponentialHistogram'];

const EXEMPLARS: readonly Exemplar[] = [
  {
    filteredAttributes: { 'user.id': 'u7' },
    timeUnixNano: 1_700_000_005_000_000_001n,
    value: 9.75,
    spanId: 'b7ad6b7169203331',
    traceId: '0af7651916cd43dd8448eb211c80319c',
  },
];

function withUpstreamFields(point: SeriesPoint): SeriesPoint {
  return {
    ...point,
    resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
    scope: { ...point.scope, attributes: { pool: 'primary' }, schemaUrl: 'https://example.com/s' },
    exemplars: EXEMPLARS,
  };
}

/** A part as the schema-version-3 exporter spooled it: format v1, no layout field, layout-1 rows. */
function writeVersion1SpoolFile(batchId: string, points: readonly SeriesPoint[]): void {
  const [rows] = encodeBatch(points, { tenantAttribute: 'tenant.id' }).tables;
  if (rows === undefined) throw new Error('nothing encoded');
  const body = inOlderLayout(rows.table, `${rows.lines.join('\n')}\n`, 1);
  const token = deduplicationToken(batchId, rows.table, body);
  const directory = join(dataDir, 'spool');
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    // Named as the spool names a part's file (by its token).
    join(directory, `${createHash('sha256').update(token).digest('hex').slice(0, 40)}.json`),
    JSON.stringify({
      format: 'tallyhouse-spool-v1',
      batchId,
      table: rows.table,
      token,
      body,
      rows: rows.lines.length,
      tenants: rows.tenants,
      attempts: 1,
    }),
  );
}

const connections: StorageConnection[] = [];
afterAll(async () => {
  for (const connection of connections) await connection.close();
});

describe('a version-3 data directory opened by the current exporter', () => {
  it('gains the upstream columns, old rows read the defaults, an old spool replays, exemplars round-trip', async () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The previous schema version, and rows as its exporter wrote them (row layout 1), on the embedded engine.
    const older = embeddedStorage(dataDir);
    connections.push(older);
    const previous = await exporterAtSchemaVersion(dataDir, 3, older);
    const before = mixedBatch('v3', 'old', 3, KINDS);
    expect(await previous.consumeBatch(before)).toEqual({ ok: true });
    await previous.shutdown();
    const [missing] = await older.queryRows<{ n: string }>(
      "SELECT count() AS n FROM system.columns WHERE database = 'otel' AND (name = 'Flags' OR name LIKE 'Exemplars.%')",
    );
    expect(missing?.n).toBe('0');
    // The old exporter's spool: a sum part it acknowledged but never wrote.
    const spooled = [
      sumPoint(40, { tenant: 'spooled' }),
      sumPoint(2, { tenant: 'spooled', name: 'test.other' }),
    ];
    writeVersion1SpoolFile('v3-spooled', spooled);

    // The current exporter opens the directory (on the HTTP store: served by a server): migrations 4 and 5 run
    // at start, then the spool replays.
    const store = await handOverToTestStore(dataDir, older);
    const storage = storeStorage(dataDir, store);
    connections.push(storage);
    const executor = schemaExecutor(storage);
    const current = new ClickHouseMetricExporter({
      ...storeConnection(dataDir, store),
      logger: silentLogger,
      spool: true,
    });
    expect(current.stats().replayedParts).toBe(1);
    const after = mixedBatch('v4', 'new', 5, KINDS);
    const withExemplars = { ...after, points: after.points.map(withUpstreamFields) };
    expect(await current.consumeBatch(withExemplars)).toEqual({ ok: true });
    for (let pass = 0; pass < 50 && current.stats().retainedParts > 0; pass++) await current.forceFlush();
    expect(current.stats().retainedParts).toBe(0);
    await current.shutdown();
    expect(readdirSync(join(dataDir, 'spool')).filter((name) => name.endsWith('.json'))).toEqual([]);

    const versions = await storage.queryRows<{ Version: number }>(
      'SELECT Version FROM otel.tallyhouse_schema_versions ORDER BY Version',
    );
    expect(versions.map((row) => row.Version)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const reader = new UsageReader(storage, 'otel');
    for (const [index, kind] of KINDS.entries()) {
      // Old rows come back as they were written: every new field absent.
      expect(await reader.points('old', kind)).toEqual([before.points[index]]);
      // New rows carry exemplars, schema URLs and scope attributes.
      expect(await reader.points('new', kind)).toEqual([withExemplars.points[index]]);
    }
    expect(await reader.points('spooled', 'sum')).toEqual(
      [...spooled].sort((a, b) => a.metric.name.localeCompare(b.metric.name)),
    );

    // The stored defaults of the old rows, as an upstream query sees them.
    for (const kind of KINDS) {
      const temporality = kind === 'gauge' ? '' : ', AggregationTemporality';
      const rows = await storage.queryRows<Record<string, unknown>>(
        `SELECT ResourceSchemaUrl, ScopeAttributes, ScopeDroppedAttrCount, ScopeSchemaUrl, Flags,
                length(Exemplars.TraceId) AS exemplars${temporality}
         FROM otel.${METRIC_TABLES[kind]} WHERE TenantId = 'old'`,
      );
      expect(rows).toEqual([
        {
          ResourceSchemaUrl: '',
          ScopeAttributes: {},
          ScopeDroppedAttrCount: 0,
          ScopeSchemaUrl: '',
          Flags: 0,
          exemplars: '0',
          // Sums always wrote 1; histogram rows read the column's DEFAULT 1 (they were deltas too).
          ...(kind === 'gauge' ? {} : { AggregationTemporality: 1 }),
        },
      ]);
    }
    const exemplarRows = await storage.queryRows<{ table: string; n: string }>(
      `SELECT 'gauge' AS table, count() AS n FROM otel.otel_metrics_gauge ARRAY JOIN Exemplars
       WHERE TenantId = 'new' AND Exemplars.TraceId = '0af7651916cd43dd8448eb211c80319c'`,
    );
    expect(exemplarRows).toEqual([{ table: 'gauge', n: '1' }]);

    // Usage over old and new rows: the rollups fed before and after the migration agree with raw rows.
    const raw = new UsageReader(storage, 'otel', { useRollups: false });
    for (const tenant of ['old', 'new', 'spooled']) {
      expect(await reader.sumTotals(tenant)).toEqual(await raw.sumTotals(tenant));
    }
    expect((await reader.sumTotals('spooled')).map((total) => total.total).sort()).toEqual([2, 40]);

    // A forced re-run of every migration changes nothing.
    const columnsBefore = await storage.queryRows<{ table: string; name: string; type: string }>(
      "SELECT table, name, type FROM system.columns WHERE database = 'otel' AND table LIKE 'otel_metrics_%' ORDER BY table, position",
    );
    await ensureSchema(executor, SINGLE_NODE_SCHEMA, silentLogger, { force: true });
    expect(
      await storage.queryRows(
        "SELECT table, name, type FROM system.columns WHERE database = 'otel' AND table LIKE 'otel_metrics_%' ORDER BY table, position",
      ),
    ).toEqual(columnsBefore);
    expect(await reader.points('new', 'histogram')).toEqual([withExemplars.points[2]]);
  });
});
