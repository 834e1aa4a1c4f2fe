/**
 * A batch that an older release wrote (rows in row layout 1, its token over those rows) and this release re-sends
 * — the collector's write-ahead log replayed after an upgrade — is a re-send: ClickHouse drops it, even though this
 * release writes more columns (exemplars, scope fields) for the same rows.
 */
import type { Exemplar, SeriesPoint } from '@tallyhouse/model';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '../src/row-encoding.ts';
import { layoutColumns } from '../src/schema/tables.ts';
import { createTablePart, deduplicationToken } from '../src/table-part.ts';
import { histogramPoint, inOlderLayout, storeExporter, storeStorage, sumPoint, tempDir } from './support.ts';

const dataDir = tempDir('dedup-layouts');
const exporter = storeExporter(dataDir);
const storage = storeStorage(dataDir);
afterAll(async () => {
  await exporter.shutdown();
  await storage.close();
});

const EXEMPLARS: readonly Exemplar[] = [
  {
    filteredAttributes: { 'user.id': 'u1' },
    timeUnixNano: 1_700_000_000_500_000_000n,
    value: 4,
    spanId: 'b7ad6b7169203331',
    traceId: '0af7651916cd43dd8448eb211c80319c',
  },
];

/** The points with what this release adds to a row and older ones did not store. */
const enriched = (points: readonly SeriesPoint[]): SeriesPoint[] =>
  points.map((point) => ({
    ...point,
    resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
    scope: { ...point.scope, attributes: { pool: 'a' } },
    exemplars: EXEMPLARS,
  }));

describe('deduplication across row layouts', () => {
  it('tokens are computed over the row-layout-1 columns, as every older release computed them', () => {
    const points = enriched([sumPoint(5, { tenant: 'acme' }), sumPoint(7, { tenant: 'acme', name: 'b' })]);
    const [rows] = encodeBatch(points, { tenantAttribute: 'tenant.id' }).tables;
    const part = createTablePart('batch-1', rows!.table, rows!, rows!.tenants, rows!.points);
    const olderBody = inOlderLayout(rows!.table, part.body, 1);
    expect(part.token).toBe(deduplicationToken('batch-1', rows!.table, olderBody));
    // The written body does hold the new columns: only the key ignores them.
    expect(part.body).toContain('0af7651916cd43dd8448eb211c80319c');
  });

  it('a batch an older release wrote, re-sent by this one with exemplars and scope fields, adds nothing', async () => {
    await exporter.start();
    const points = [sumPoint(5, { tenant: 'acme' }), histogramPoint({}, { tenant: 'acme' })];
    // What the older release inserted: its columns, its body, its token.
    for (const rows of encodeBatch(points, { tenantAttribute: 'tenant.id' }).tables) {
      const olderBody = inOlderLayout(rows.table, `${rows.lines.join('\n')}\n`, 1);
      await storage.insertEncoded({
        database: 'otel',
        table: rows.table,
        columns: layoutColumns(rows.table, 1).map((column) => column.name),
        format: 'JSONCompactEachRow',
        body: olderBody,
        settings: { insert_deduplication_token: deduplicationToken('wal-batch-7', rows.table, olderBody) },
      });
    }
    const count = async () =>
      (
        await storage.queryRows<{ sums: string; histograms: string }>(
          `SELECT (SELECT count() FROM otel.otel_metrics_sum) AS sums,
                  (SELECT count() FROM otel.otel_metrics_histogram) AS histograms`,
        )
      ).map((row) => [Number(row.sums), Number(row.histograms)])[0];
    expect(await count()).toEqual([1, 1]);
    // The replay after the upgrade: same batch id, same usage, more columns.
    expect(await exporter.consumeBatch({ id: 'wal-batch-7', points: enriched(points) })).toEqual({
      ok: true,
    });
    expect(await count()).toEqual([1, 1]);
    // A different batch with the same rows is new data.
    expect(await exporter.consumeBatch({ id: 'wal-batch-8', points: enriched(points) })).toEqual({
      ok: true,
    });
    expect(await count()).toEqual([2, 2]);
  });
});
