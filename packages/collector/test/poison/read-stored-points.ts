/**
 * Prints, as one JSON line, per tenant and table, the rows and the points they count (exponential histograms:
 * sum of Count; sums: sum of Value) and how many rows hold a finite value stored in a collector's embedded chDB data directory:
 *
 *   node --conditions=@tallyhouse/source packages/collector/test/poison/read-stored-points.ts <dataDir>
 *
 * A process of its own: chDB binds one data directory per process.
 */
import { openStorageConnection, resolveExporterConfig } from '@tallyhouse/exporter-clickhouse';

const dataDir = process.argv[2];
if (dataDir === undefined) {
  console.error('usage: read-stored-points.ts <dataDir>');
  process.exit(2);
}
const config = resolveExporterConfig({ env: {}, dataDir });
const connection = openStorageConnection(config);
try {
  const rows = await connection.queryRows<{
    tenant: string;
    table: string;
    rows: number;
    finiteRows: number;
    total: number;
  }>(
    `SELECT TenantId AS tenant, 'exponential_histogram' AS table, toUInt32(count()) AS rows,
            toUInt32(countIf(isFinite(Sum))) AS finiteRows, toFloat64(sum(Count)) AS total
     FROM ${config.database}.otel_metrics_exponential_histogram GROUP BY TenantId
     UNION ALL
     SELECT TenantId AS tenant, 'sum' AS table, toUInt32(count()) AS rows,
            toUInt32(countIf(isFinite(Value))) AS finiteRows, sum(Value) AS total
     FROM ${config.database}.otel_metrics_sum GROUP BY TenantId
     ORDER BY tenant, table`,
  );
  console.log(
    JSON.stringify(
      rows.map((row) => ({
        ...row,
        rows: Number(row.rows),
        finiteRows: Number(row.finiteRows),
        // JSON has no Infinity: a non-finite total is reported as its text.
        total: Number.isFinite(Number(row.total)) ? Number(row.total) : String(row.total),
      })),
    ),
  );
} finally {
  await connection.close();
}
