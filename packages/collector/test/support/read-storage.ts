/**
 * Prints, as one JSON line, a report on what a collector stored in its embedded chDB data directory, or in the
 * ClickHouse server at READ_STORAGE_URL (files such as dead letters still come from the data directory):
 *
 *   node --conditions=@tallyhouse/source packages/collector/test/support/read-storage.ts <report> <dataDir>
 *
 * A process of its own because chDB binds one data directory per process; run it only after the collector
 * that owns the directory exited. `stored-in-child.ts` runs it and parses the line.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  openStorageConnection,
  resolveExporterConfig,
  type StorageConnection,
} from '@tallyhouse/exporter-clickhouse';

export interface StoredTotal {
  readonly tenant: string;
  readonly metric: string;
  readonly total: number;
  readonly rows: number;
}

/** A sum's total per tenant, source service, metric and `route` attribute (the chaos apps' streams). */
export interface StoredStreamTotal {
  readonly tenant: string;
  readonly service: string;
  readonly metric: string;
  readonly route: string;
  readonly total: number;
}

/** Per tenant and table: the rows, how many hold a finite value, and the points they count. */
export interface StoredPointCount {
  readonly tenant: string;
  readonly table: 'exponential_histogram' | 'sum';
  readonly rows: number;
  readonly finiteRows: number;
  /** Exponential histograms: sum of Count; sums: sum of Value (its text when not finite: JSON has no Inf). */
  readonly total: number | string;
}

export interface StoredDump {
  /** Sum and gauge values as the exact bits of their Float64, histogram counts as decimal text. */
  readonly rows: [tenant: string, table: string, metric: string, value: string][];
  /** Dead letters from the table and from the file. */
  readonly deadLetters: { tenant: string; table: string; code: string; error: string }[];
  readonly quarantined: { id: string; tenant: string; error: string }[];
}

/**
 * Sum totals per tenant and metric in buckets `(b, b + step]` (the rollups' convention, by `TimeUnix`), keyed
 * `tenant/metric/bucket index`: from the raw rows per quarter hour, hour and day, and from the hourly and daily
 * rollup tables.
 */
export interface StoredBucketTotals {
  readonly rawQuarterHours: Record<string, number>;
  readonly rawHours: Record<string, number>;
  readonly rollupHours: Record<string, number>;
  readonly rawDays: Record<string, number>;
  readonly rollupDays: Record<string, number>;
}

type Report = (connection: StorageConnection, db: string, dataDir: string) => Promise<unknown>;

const REPORTS = {
  /** Sum totals per tenant and metric. */
  async totals(connection, db): Promise<StoredTotal[]> {
    const rows = await connection.queryRows<StoredTotal>(
      `SELECT TenantId AS tenant, MetricName AS metric, sum(Value) AS total, toUInt32(count()) AS rows
       FROM ${db}.otel_metrics_sum GROUP BY TenantId, MetricName ORDER BY tenant, metric`,
    );
    return rows.map((row) => ({ ...row, total: Number(row.total), rows: Number(row.rows) }));
  },

  async streamTotals(connection, db): Promise<StoredStreamTotal[]> {
    const rows = await connection.queryRows<StoredStreamTotal>(
      `SELECT TenantId AS tenant, ResourceAttributes['service.name'] AS service, MetricName AS metric,
              Attributes['route'] AS route, sum(Value) AS total
       FROM ${db}.otel_metrics_sum GROUP BY tenant, service, metric, route ORDER BY tenant, service, metric, route`,
    );
    return rows.map((row) => ({ ...row, total: Number(row.total) }));
  },

  async pointCounts(connection, db): Promise<StoredPointCount[]> {
    const rows = await connection.queryRows<StoredPointCount>(
      `SELECT TenantId AS tenant, 'exponential_histogram' AS table, toUInt32(count()) AS rows,
              toUInt32(countIf(isFinite(Sum))) AS finiteRows, toFloat64(sum(Count)) AS total
       FROM ${db}.otel_metrics_exponential_histogram GROUP BY TenantId
       UNION ALL
       SELECT TenantId AS tenant, 'sum' AS table, toUInt32(count()) AS rows,
              toUInt32(countIf(isFinite(Value))) AS finiteRows, sum(Value) AS total
       FROM ${db}.otel_metrics_sum GROUP BY TenantId
       ORDER BY tenant, table`,
    );
    return rows.map((row) => ({
      ...row,
      rows: Number(row.rows),
      finiteRows: Number(row.finiteRows),
      total: Number.isFinite(Number(row.total)) ? Number(row.total) : String(row.total),
    }));
  },

  async bucketTotals(connection, db): Promise<StoredBucketTotals> {
    const keyed = async (sql: string) => {
      const rows = await connection.queryRows<{ key: string; total: number }>(sql);
      return Object.fromEntries(rows.map((row) => [row.key, Number(row.total)]));
    };
    const raw = (seconds: number) =>
      keyed(`SELECT concat(TenantId, '/', MetricName, '/',
                toString(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, ${seconds}000000000))) AS key,
              sum(Value) AS total
             FROM ${db}.otel_metrics_sum GROUP BY key HAVING total != 0`);
    const rollup = (grain: '1h' | '1d', seconds: number) =>
      keyed(`SELECT concat(TenantId, '/', MetricName, '/', toString(intDiv(toUnixTimestamp(BucketStart), ${seconds}))) AS key,
              sum(Value) AS total
             FROM ${db}.tallyhouse_usage_sum_${grain} GROUP BY key HAVING total != 0`);
    return {
      rawQuarterHours: await raw(900),
      rawHours: await raw(3_600),
      rollupHours: await rollup('1h', 3_600),
      rawDays: await raw(86_400),
      rollupDays: await rollup('1d', 86_400),
    };
  },

  /** Every stored row, dead letters (table and file) and quarantined requests. */
  async dump(connection, db, dataDir): Promise<StoredDump> {
    const rows = await connection.queryRows<{ tenant: string; t: string; metric: string; v: string }>(
      `SELECT TenantId AS tenant, 'sum' AS t, MetricName AS metric, toString(reinterpretAsUInt64(Value)) AS v FROM ${db}.otel_metrics_sum
       UNION ALL SELECT TenantId, 'gauge', MetricName, toString(reinterpretAsUInt64(Value)) FROM ${db}.otel_metrics_gauge
       UNION ALL SELECT TenantId, 'histogram', MetricName, toString(Count) FROM ${db}.otel_metrics_histogram
       UNION ALL SELECT TenantId, 'exponential_histogram', MetricName, toString(Count) FROM ${db}.otel_metrics_exponential_histogram
       UNION ALL SELECT TenantId, 'summary', MetricName, toString(Count) FROM ${db}.otel_metrics_summary`,
    );
    const dead = await connection.queryRows<{ tenant: string; table: string; code: string; error: string }>(
      `SELECT TenantId AS tenant, TableName AS table, ErrorCode AS code, substring(Error, 1, 300) AS error
       FROM ${db}.tallyhouse_dead_letters`,
    );
    return {
      rows: rows.map((r) => [r.tenant, r.t, r.metric, r.v]),
      deadLetters: [...dead, ...deadLetterFile(dataDir)],
      quarantined: quarantined(dataDir),
    };
  },
} satisfies Record<string, Report>;

export type Reports = typeof REPORTS;

function deadLetterFile(dataDir: string): StoredDump['deadLetters'] {
  const path = join(dataDir, 'dead-letters', 'dead-letters.ndjson');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
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
    });
}

function quarantined(dataDir: string): StoredDump['quarantined'] {
  const dir = join(dataDir, 'quarantine');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => {
      const note = JSON.parse(readFileSync(join(dir, name), 'utf8')) as {
        tenant?: string;
        stage?: string;
        error?: { message?: string } | string;
      };
      const error = typeof note.error === 'object' ? (note.error.message ?? '') : String(note.error ?? '');
      return {
        id: name,
        tenant: note.tenant ?? '',
        error: `at ${note.stage ?? '?'}: ${error.slice(0, 300)}`,
      };
    });
}

const [report, dataDir] = process.argv.slice(2);
if (report === undefined || dataDir === undefined || !Object.hasOwn(REPORTS, report)) {
  console.error(`usage: read-storage.ts <${Object.keys(REPORTS).join('|')}> <dataDir>`);
  process.exit(2);
}
// Only READ_STORAGE_URL (with READ_STORAGE_USER / READ_STORAGE_PASSWORD) sends the read to a server: a
// CLICKHOUSE_URL from the surroundings must not redirect it.
const server = process.env.READ_STORAGE_URL;
const config = resolveExporterConfig({
  env: {},
  dataDir,
  ...(server === undefined
    ? {}
    : {
        url: server,
        username: process.env.READ_STORAGE_USER ?? 'default',
        password: process.env.READ_STORAGE_PASSWORD ?? '',
      }),
});
const connection = openStorageConnection(config);
try {
  const result = await REPORTS[report as keyof Reports](connection, config.database, dataDir);
  // Written out before the process ends, however large.
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(result)}\n`, () => resolve()));
} finally {
  await connection.close();
}
