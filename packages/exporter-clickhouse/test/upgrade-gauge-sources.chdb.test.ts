/**
 * A data directory written at schema version 2 (gauge rollups mixing sources) opened by the current exporter:
 * migration 3 moves the gauge rollups to per-source tables, backfilled from the raw rows once, drops the old ones,
 * and reads after more ingest answer per source — rollups equal to raw rows.
 */
import type { SeriesPoint } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouseMetricExporter, type StorageConnection, UsageReader } from '../src/index.ts';
import { ensureSchema, MIGRATIONS } from '../src/schema/migrations.ts';
import {
  embeddedStorage,
  exporterAtSchemaVersion,
  gaugePoint,
  handOverToTestStore,
  SINGLE_NODE_SCHEMA,
  schemaExecutor,
  storeConnection,
  storeStorage,
  tempDir,
} from './support.ts';

const dataDir = tempDir('upgrade-gauge-sources');
const HOUR = 3_600_000_000_000n;
/** 2024-06-01T00:00:00Z */
const T0 = 1_717_200_000_000_000_000n;
const TENANT = 'upgraded';

function hostGauge(host: string, value: number, time: bigint): SeriesPoint {
  const point = gaugePoint(value, { tenant: TENANT, name: 'disk.used', time, start: time, attributes: {} });
  return { ...point, resource: { 'service.name': 'store', 'host.name': host } };
}

const connections: StorageConnection[] = [];
afterAll(async () => {
  for (const connection of connections) await connection.close();
});

describe('a version-2 data directory opened by the current exporter', () => {
  it('migrates the gauge rollups to per-source ones, backfilled, and reads per source after more ingest', async () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The previous schema version, and rows as its exporter wrote them (row layout 1), on the embedded engine.
    const older = embeddedStorage(dataDir);
    connections.push(older);
    const previous = await exporterAtSchemaVersion(dataDir, 2, older);
    const before = [hostGauge('a', 40, T0 + HOUR / 2n), hostGauge('b', 90, T0 + HOUR / 4n)];
    expect((await previous.consumeBatch({ id: 'v2', points: before })).ok).toBe(true);
    await previous.shutdown();
    // Version 2 kept one value for both hosts in the hour: the newer one's (host a's 40).
    const mixed = await older.queryRows<{ Latest: number; Rows: string }>(
      `SELECT argMaxMerge(Latest) AS Latest, sum(Rows) AS Rows FROM otel.tallyhouse_usage_gauge_1h
       WHERE TenantId = {tenant:String}`,
      { tenant: TENANT },
    );
    expect(mixed).toEqual([{ Latest: 40, Rows: '2' }]);

    // The current exporter opens the directory (on the HTTP store: served by a server): migrations 3 to 5 run
    // at start.
    const store = await handOverToTestStore(dataDir, older);
    const storage = storeStorage(dataDir, store);
    connections.push(storage);
    const executor = schemaExecutor(storage);
    const current = new ClickHouseMetricExporter({
      ...storeConnection(dataDir, store),
      logger: silentLogger,
    });
    expect(
      (await current.consumeBatch({ id: 'v3', points: [hostGauge('b', 95, T0 + 2n * HOUR + 1n)] })).ok,
    ).toBe(true);
    await current.shutdown();
    const versions = await storage.queryRows<{ Version: number }>(
      'SELECT Version FROM otel.tallyhouse_schema_versions ORDER BY Version',
    );
    expect(versions.map((row) => row.Version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const gaugeTables = await storage.queryRows<{ name: string }>(
      "SELECT name FROM system.tables WHERE database = 'otel' AND name LIKE 'tallyhouse_usage_gauge%' ORDER BY name",
    );
    expect(gaugeTables.map((table) => table.name)).toEqual([
      'tallyhouse_usage_gauge_source_1d',
      'tallyhouse_usage_gauge_source_1d_mv',
      'tallyhouse_usage_gauge_source_1h',
      'tallyhouse_usage_gauge_source_1h_mv',
    ]);

    // Read per source: backfilled rows (hour 0) and rows through the new views (hour 2) alike.
    const range = { fromUnixNano: T0, toUnixNano: T0 + 3n * HOUR };
    const rollups = new UsageReader(storage, 'otel');
    const raw = new UsageReader(storage, 'otel', { useRollups: false });
    for (const reader of [rollups, raw]) {
      const series = await reader.timeSeries(TENANT, {
        metric: 'disk.used',
        kind: 'gauge',
        step: '1h',
        range,
      });
      expect(
        series.lines.map((line) => [line.source?.resource['host.name'], line.points.map((p) => p.value)]),
      ).toEqual([
        ['a', [40, 40, 40]],
        ['b', [90, 90, 95]],
      ]);
      const total = await reader.timeSeries(TENANT, {
        metric: 'disk.used',
        kind: 'gauge',
        step: '1h',
        range,
        combine: 'sum',
      });
      expect(total.lines.map((line) => line.points.map((p) => p.value))).toEqual([[130, 130, 135]]);
    }
    expect(
      await rollups.timeSeries(TENANT, { metric: 'disk.used', kind: 'gauge', step: '1d', range }),
    ).toEqual(await raw.timeSeries(TENANT, { metric: 'disk.used', kind: 'gauge', step: '1d', range }));

    // A forced re-run of every migration (as after a missing table) neither brings back the old gauge rollups
    // nor backfills the new ones twice.
    await ensureSchema(executor, SINGLE_NODE_SCHEMA, silentLogger, { force: true });
    const [rows] = await storage.queryRows<{ Rows: string }>(
      `SELECT sum(Rows) AS Rows FROM otel.tallyhouse_usage_gauge_source_1h WHERE TenantId = {tenant:String}`,
      { tenant: TENANT },
    );
    expect(rows?.Rows).toBe('3');
    const old = await storage.queryRows<{ name: string }>(
      "SELECT name FROM system.tables WHERE database = 'otel' AND name LIKE 'tallyhouse_usage_gauge_1%'",
    );
    expect(old).toEqual([]);
  });
});
