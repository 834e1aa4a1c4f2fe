/**
 * Prints, as one JSON line, every stored row of a collector's embedded chDB data directory as the fuzzer
 * compares it — `[tenant, table, metric, value]`, sum and gauge values as the exact bits of their Float64,
 * histogram counts as decimal text — plus dead letters (table and file) and quarantined requests:
 *
 *   node --conditions=@tallyhouse/source packages/collector/test/fuzz/read-stored.ts <dataDir>
 *
 * A process of its own because chDB binds one data directory per process; run it only after the collector
 * that owns the directory exited.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStorageConnection, resolveExporterConfig } from '@tallyhouse/exporter-clickhouse';

const dataDir = process.argv[2];
if (dataDir === undefined) {
  console.error('usage: read-stored.ts <dataDir>');
  process.exit(2);
}
const config = resolveExporterConfig({ env: {}, dataDir });
const connection = openStorageConnection(config);
const db = config.database;
try {
  const rows = await connection.queryRows<{ tenant: string; t: string; metric: string; v: string }>(
    `SELECT TenantId AS tenant, 'sum' AS t, MetricName AS metric, toString(reinterpretAsUInt64(Value)) AS v FROM ${db}.otel_metrics_sum
     UNION ALL SELECT TenantId, 'gauge', MetricName, toString(reinterpretAsUInt64(Value)) FROM ${db}.otel_metrics_gauge
     UNION ALL SELECT TenantId, 'histogram', MetricName, toString(Count) FROM ${db}.otel_metrics_histogram
     UNION ALL SELECT TenantId, 'exponential_histogram', MetricName, toString(Count) FROM ${db}.otel_metrics_exponential_histogram`,
  );
  const dead = await connection.queryRows<{ tenant: string; table: string; code: string; error: string }>(
    `SELECT TenantId AS tenant, TableName AS table, ErrorCode AS code, substring(Error, 1, 300) AS error
     FROM ${db}.tallyhouse_dead_letters`,
  );
  const deadFile = join(dataDir, 'dead-letters', 'dead-letters.ndjson');
  const deadLines = existsSync(deadFile)
    ? readFileSync(deadFile, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const letter = JSON.parse(line) as {
            tenant?: string;
            table?: string;
            errorCode?: string;
            error?: string;
          };
          return {
            tenant: letter.tenant ?? '',
            table: letter.table ?? '',
            code: letter.errorCode ?? '',
            error: (letter.error ?? '').slice(0, 300),
          };
        })
    : [];
  const quarantineDir = join(dataDir, 'quarantine');
  const quarantined = existsSync(quarantineDir)
    ? readdirSync(quarantineDir)
        .filter((name) => name.endsWith('.json'))
        .map((name) => {
          const note = JSON.parse(readFileSync(join(quarantineDir, name), 'utf8')) as {
            tenant?: string;
            stage?: string;
            error?: { message?: string } | string;
          };
          const error =
            typeof note.error === 'object' ? (note.error.message ?? '') : String(note.error ?? '');
          return {
            id: name,
            tenant: note.tenant ?? '',
            error: `at ${note.stage ?? '?'}: ${error.slice(0, 300)}`,
          };
        })
    : [];
  const line = JSON.stringify({
    rows: rows.map((r) => [r.tenant, r.t, r.metric, r.v]),
    deadLetters: [...dead, ...deadLines],
    quarantined,
  });
  await new Promise<void>((resolve) => process.stdout.write(`${line}\n`, () => resolve()));
} finally {
  await connection.close();
}
