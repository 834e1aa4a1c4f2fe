/**
 * Usage reads on embedded chDB: a tenant's month total and its hourly time series, answered from the rollups
 * (plus raw edges) against a raw-table scan, on rows generated inside ClickHouse (`INSERT … SELECT … FROM
 * numbers(N)`, through the materialized views like any insert). Results are checked equal; the median of the
 * timed rounds is reported.
 *
 *   node --conditions=@tallyhouse/source bench/usage.ts [rows] [rounds]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { silentLogger } from '@tallyhouse/model';
import {
  openStorageConnection,
  resolveExporterConfig,
  type SchemaOptions,
  UsageReader,
} from '../src/index.ts';
import { ensureSchema } from '../src/schema/migrations.ts';

const rows = Number(process.argv[2] ?? 10_000_000);
const rounds = Number(process.argv[3] ?? 7);
const TENANTS = 10;
/** The tenant with 90% of the rows; `tenant-1` … `tenant-9` share the rest. */
const LARGE = 'tenant-0';
const SMALL = 'tenant-3';
const HOUR = 3_600_000_000_000n;
const DAY = 24n * HOUR;
/** 2024-05-01T00:00:00Z, a 30-day month. */
const START = 1_714_521_600_000_000_000n;
const MONTH = 30n * DAY;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function time<T>(run: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const times: number[] = [];
  let result: T | undefined;
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    result = await run();
    times.push(performance.now() - start);
  }
  return { ms: median(times), result: result as T };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tallyhouse-usage-bench-'));
  const connection = openStorageConnection(resolveExporterConfig({ dataDir, env: {} }));
  const options: SchemaOptions = {
    database: 'otel',
    cluster: undefined,
    replicationPath: '',
    replicaName: '',
    ttlDays: undefined,
    dedupWindow: 10_000,
  };
  await ensureSchema(
    { command: (sql) => connection.command(sql), queryRows: (sql) => connection.queryRows(sql) },
    options,
    silentLogger,
  );

  // One large tenant owns 90% of the rows (the case rollups exist for: its raw scan reads millions of rows);
  // nine small tenants share the rest. 4 metrics × 3 routes × 2 regions per tenant, rows spread evenly over the
  // month — the large tenant's series report several times a minute at 10M rows. Integer values.
  const step = MONTH / BigInt(rows);
  const generated = performance.now();
  await connection.command(
    `INSERT INTO otel.otel_metrics_sum (TenantId, ResourceAttributes, ServiceName, ScopeName, ScopeVersion,
       MetricName, MetricDescription, MetricUnit, Attributes, StartTimeUnix, TimeUnix, Value,
       AggregationTemporality, IsMonotonic)
     SELECT if(number % 10 = 0, concat('tenant-', toString(1 + intDiv(number, 10) % ${TENANTS - 1})), '${LARGE}'),
       map('service.name', 'api'), 'api', 'bench', '1',
       concat('metric.', toString(intDiv(number, ${TENANTS}) % 4)), '', '1',
       map('region', arrayElement(['eu', 'us'], toUInt32(intDiv(number, ${TENANTS * 4 * 3}) % 2) + 1),
           'route', concat('/r', toString(intDiv(number, ${TENANTS * 4}) % 3))),
       fromUnixTimestamp64Nano(toInt64(${START}) + toInt64(number) * ${step} - 10000000000),
       fromUnixTimestamp64Nano(toInt64(${START}) + toInt64(number) * ${step} + 1),
       toFloat64(number % 100), 1, true
     FROM numbers(${rows})`,
  );
  const generateMs = performance.now() - generated;
  // Settle both sides the way background merges would: the raw table and the rollups each merged to one part
  // per partition, so neither side is timed on a pile of fresh parts.
  for (const table of ['otel_metrics_sum', 'tallyhouse_usage_sum_1h', 'tallyhouse_usage_sum_1d']) {
    await connection.command(`OPTIMIZE TABLE otel.${table} FINAL`);
  }
  const count = await connection.queryRows<{ c: string }>('SELECT count() AS c FROM otel.otel_metrics_sum');
  const rollupRows = await connection.queryRows<{ table: string; c: string }>(
    `SELECT 'hourly' AS table, count() AS c FROM otel.tallyhouse_usage_sum_1h
     UNION ALL SELECT 'daily' AS table, count() AS c FROM otel.tallyhouse_usage_sum_1d`,
  );

  const rollups = new UsageReader(connection, 'otel');
  const raw = new UsageReader(connection, 'otel', { useRollups: false });
  const month = { fromUnixNano: START, toUnixNano: START + MONTH };
  const unaligned = {
    fromUnixNano: START + 17n * 60_000_000_000n + 5n,
    toUnixNano: START + MONTH - 13n * 60_000_000_000n,
  };
  const casesFor = (tenant: string): { name: string; run: (reader: UsageReader) => Promise<unknown> }[] => [
    {
      name: `${tenant}: month total (aligned)`,
      run: (r) => r.total(tenant, { metric: 'metric.2', range: month }),
    },
    {
      name: `${tenant}: month total (unaligned edges)`,
      run: (r) => r.total(tenant, { metric: 'metric.2', range: unaligned }),
    },
    {
      name: `${tenant}: month total, route = /r1`,
      run: (r) => r.total(tenant, { metric: 'metric.2', range: unaligned, attributes: { route: '/r1' } }),
    },
    { name: `${tenant}: month totals, all metrics`, run: (r) => r.sumTotals(tenant, month) },
    {
      name: `${tenant}: top 5 routes, month`,
      run: (r) => r.topN(tenant, { metric: 'metric.2', range: month, by: 'route', limit: 5 }),
    },
    {
      name: `${tenant}: time series 1h × 720, month`,
      run: (r) => r.timeSeries(tenant, { metric: 'metric.2', kind: 'sum', step: '1h', range: month }),
    },
    {
      name: `${tenant}: time series 1d × 30 by region`,
      run: (r) =>
        r.timeSeries(tenant, {
          metric: 'metric.2',
          kind: 'sum',
          step: '1d',
          range: month,
          groupBy: 'region',
        }),
    },
  ];
  const cases = [...casesFor(LARGE), ...casesFor(SMALL)];
  const results: { name: string; rollupMs: number; rawMs: number }[] = [];
  for (const item of cases) {
    await item.run(rollups); // warm-up
    await item.run(raw);
    const viaRaw = await time(() => item.run(raw));
    const viaRollups = await time(() => item.run(rollups));
    if (!isDeepStrictEqual(viaRollups.result, viaRaw.result)) {
      throw new Error(`${item.name}: rollup and raw answers differ`);
    }
    results.push({ name: item.name, rollupMs: viaRollups.ms, rawMs: viaRaw.ms });
  }

  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log('\nTallyhouse usage reads: rollups (+ raw edges) vs raw scan, embedded chDB');
  console.log(
    `${Number(count[0]?.c).toLocaleString('en-US')} raw sum rows (one month; ${LARGE} has 90%, ${TENANTS - 1} tenants share 10%), generated + rolled up in ${(generateMs / 1000).toFixed(1)} s; ` +
      `rollup rows: ${rollupRows.map((row) => `${row.table} ${Number(row.c).toLocaleString('en-US')}`).join(', ')}`,
  );
  console.log(`median of ${rounds} rounds, ${cpus().length} cores (${cpu}), Node ${process.version}\n`);
  console.log('| query (one tenant) | rollups ms | raw scan ms | speed-up |');
  console.log('|---|---:|---:|---:|');
  for (const result of results) {
    console.log(
      `| ${result.name} | ${result.rollupMs.toFixed(1)} | ${result.rawMs.toFixed(1)} | ${(result.rawMs / result.rollupMs).toFixed(1)}× |`,
    );
  }
  await connection.close();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
