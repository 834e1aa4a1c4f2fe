/**
 * Prints, as one JSON line, the sum totals stored in a collector's embedded chDB data directory:
 *
 *   node --conditions=@tallyhouse/source packages/collector/test/wal/read-totals.ts <dataDir>
 *
 * A process of its own because chDB binds one data directory per process; run it only after the collector
 * that owns the directory exited.
 */
import { openStorageConnection, resolveExporterConfig } from '@tallyhouse/exporter-clickhouse';

const dataDir = process.argv[2];
if (dataDir === undefined) {
  console.error('usage: read-totals.ts <dataDir>');
  process.exit(2);
}
const config = resolveExporterConfig({ env: {}, dataDir });
const connection = openStorageConnection(config);
try {
  const rows = await connection.queryRows<{ tenant: string; metric: string; total: number; rows: number }>(
    `SELECT TenantId AS tenant, MetricName AS metric, sum(Value) AS total, toUInt32(count()) AS rows
     FROM ${config.database}.otel_metrics_sum GROUP BY TenantId, MetricName ORDER BY tenant, metric`,
  );
  console.log(
    JSON.stringify(rows.map((row) => ({ ...row, total: Number(row.total), rows: Number(row.rows) }))),
  );
} finally {
  await connection.close();
}
