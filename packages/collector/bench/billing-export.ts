/**
 * The billing export against its baseline: every tenant's month total of a metric in one streamed answer
 * (`GET /v1/admin/export`) against one `GET /v1/usage/{tenant}/total` per tenant — sequential, and 8 at a time
 * (the collector's default TALLYHOUSE_USAGE_MAX_CONCURRENT) — over real HTTP to the real collector (`src/bin.ts`, its
 * own process, embedded chDB). The data: `--rows` rows (default 10M) over `--tenants` tenants (default 1,000) in
 * March 2026 and its neighbour days, generated inside ClickHouse by a child process before the collector starts
 * (`INSERT … SELECT … FROM numbers(N)` through the materialized views, like any insert). The month is New York's
 * (`period=2026-03&tz=America/New_York`), so both sides read unaligned edges from raw rows. The export's totals are
 * checked equal to the per-tenant answers, to the unit; the median of `--rounds` rounds is reported.
 *
 *   npm run bench:export -w packages/collector                      # 10M rows, 1,000 tenants, 3 rounds
 *   node --conditions=@tallyhouse/source bench/billing-export.ts --rows=2000000 --tenants=200 --rounds=5
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    tenants: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    generate: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const TENANTS = Number(args.tenants);
const ROUNDS = Number(args.rounds);
const ADMIN_KEY = 'billing-bench-admin-key-0123456789';
const PERIOD = 'period=2026-03&tz=America/New_York';
const METRIC = 'metric.0';
const CONCURRENCY = 8;
const COLLECTOR_BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));

if (args.generate !== undefined) {
  await generate(args.generate);
} else {
  await main();
}

/** In a child process: the schema, then the rows, merged the way background merges would leave them. */
async function generate(dataDir: string): Promise<void> {
  const { openStorageConnection, resolveExporterConfig } = await import('@tallyhouse/exporter-clickhouse');
  const { ClickHouseMetricExporter } = await import('@tallyhouse/exporter-clickhouse');
  // The exporter creates the schema (every migration); its connection then writes the rows.
  const exporter = new ClickHouseMetricExporter({ dataDir });
  await exporter.start();
  await exporter.shutdown();
  const connection = openStorageConnection(resolveExporterConfig({ dataDir, env: {} }));
  // Feb 27 → Apr 3 (UTC), so the New York month has rows on both sides of each edge. Tenant, metric (4) and region
  // (2) vary with the row number; values are integers, so sums are exact.
  const start = Date.parse('2026-02-27T00:00:00Z') * 1_000_000;
  const span = (Date.parse('2026-04-03T00:00:00Z') - Date.parse('2026-02-27T00:00:00Z')) * 1_000_000;
  const step = Math.floor(span / ROWS);
  await connection.command(
    `INSERT INTO otel.otel_metrics_sum (TenantId, ResourceAttributes, ServiceName, ScopeName, ScopeVersion,
       MetricName, MetricDescription, MetricUnit, Attributes, StartTimeUnix, TimeUnix, Value,
       AggregationTemporality, IsMonotonic)
     SELECT concat('tenant-', toString(number % ${TENANTS})), map('service.name', 'api'), 'api', 'bench', '1',
       concat('metric.', toString(intDiv(number, ${TENANTS}) % 4)), '', '1',
       map('region', arrayElement(['eu', 'us'], toUInt32(intDiv(number, ${TENANTS * 4}) % 2) + 1)),
       fromUnixTimestamp64Nano(toInt64(${start}) + toInt64(number) * ${step} - 10000000000),
       fromUnixTimestamp64Nano(toInt64(${start}) + toInt64(number) * ${step} + 1),
       toFloat64(number % 100), 1, true
     FROM numbers(${ROWS})`,
  );
  for (const table of ['otel_metrics_sum', 'tallyhouse_usage_sum_1h', 'tallyhouse_usage_sum_1d']) {
    await connection.command(`OPTIMIZE TABLE otel.${table} FINAL`);
  }
  await connection.close();
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tallyhouse-billing-bench-'));
  let collector: ChildProcess | undefined;
  try {
    const generating = performance.now();
    await run(process.execPath, [
      '--conditions=@tallyhouse/source',
      fileURLToPath(import.meta.url),
      `--generate=${dataDir}`,
      `--rows=${ROWS}`,
      `--tenants=${TENANTS}`,
    ]);
    const generateMs = performance.now() - generating;
    const port = await freePort();
    collector = spawn(process.execPath, ['--conditions=@tallyhouse/source', COLLECTOR_BIN], {
      env: {
        ...process.env,
        TALLYHOUSE_DATA_DIR: dataDir,
        TALLYHOUSE_HOST: '127.0.0.1',
        TALLYHOUSE_PORT: String(port),
        TALLYHOUSE_GRPC_PORT: 'off',
        TALLYHOUSE_ADMIN_KEY: ADMIN_KEY,
        // Every read is measured, none served from cache.
        TALLYHOUSE_QUERY_CACHE_TTL_MS: '0',
        TALLYHOUSE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const base = `http://127.0.0.1:${port}`;
    await waitReady(base);
    const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${i}`);

    const exportTimes: number[] = [];
    const sequentialTimes: number[] = [];
    const concurrentTimes: number[] = [];
    let exported = new Map<string, number>();
    let perTenant = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      // The sides take turns: neither always reads a store the other has just warmed.
      const sides = [
        async () => {
          const t = performance.now();
          exported = await exportTotals(base);
          exportTimes.push(performance.now() - t);
        },
        async () => {
          const t = performance.now();
          perTenant = await totals(base, tenants, 1);
          sequentialTimes.push(performance.now() - t);
        },
        async () => {
          const t = performance.now();
          perTenant = await totals(base, tenants, CONCURRENCY);
          concurrentTimes.push(performance.now() - t);
        },
      ];
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) await side();
    }
    // Consistent to the unit: every tenant in both, with the same total.
    if (exported.size !== TENANTS)
      throw new Error(`the export held ${exported.size} tenants, not ${TENANTS}`);
    for (const [tenant, total] of perTenant) {
      if (exported.get(tenant) !== total) {
        throw new Error(`${tenant}: export ${exported.get(tenant)} ≠ total ${total}`);
      }
    }
    const exportMs = median(exportTimes);
    const rows = [
      ['GET /v1/admin/export (one streamed answer)', exportMs],
      [`GET …/total × ${TENANTS}, ${CONCURRENCY} at a time`, median(concurrentTimes)],
      [`GET …/total × ${TENANTS}, one at a time`, median(sequentialTimes)],
    ] as const;
    console.log(
      `\nbilling export — ${ROWS.toLocaleString('en-US')} rows, ${TENANTS.toLocaleString('en-US')} tenants, ` +
        `month ${PERIOD.replace('&', ', ')}, ${cpus().length} cores, median of ${ROUNDS} rounds ` +
        `(data generated in ${(generateMs / 1000).toFixed(1)} s)\n`,
    );
    console.log('| read | ms | × the export |');
    console.log('|---|---:|---:|');
    for (const [name, ms] of rows)
      console.log(`| ${name} | ${ms.toFixed(0)} | ${(ms / exportMs).toFixed(1)}× |`);
    const ratio = median(concurrentTimes) / exportMs;
    console.log(
      `\ngoal: the export ≥ 5× faster than ${TENANTS} totals (${CONCURRENCY} at a time): ${ratio.toFixed(1)}× — ${ratio >= 5 ? 'met' : 'NOT met'}; totals equal to the unit for every tenant`,
    );
  } finally {
    if (collector !== undefined && collector.exitCode === null) {
      collector.kill('SIGTERM');
      await once(collector, 'exit');
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The export as JSON lines: tenant → total. */
async function exportTotals(base: string): Promise<Map<string, number>> {
  const response = await fetch(`${base}/v1/admin/export?metric=${METRIC}&${PERIOD}`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  if (response.status !== 200) throw new Error(`export: ${response.status} ${await response.text()}`);
  const out = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '') continue;
    const row = JSON.parse(line) as { tenant: string; total: number };
    out.set(row.tenant, row.total);
  }
  return out;
}

/** `total` per tenant, `concurrency` requests in flight. */
async function totals(base: string, tenants: string[], concurrency: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < tenants.length) {
      const tenant = tenants[next++]!;
      const response = await fetch(`${base}/v1/usage/${tenant}/total?metric=${METRIC}&${PERIOD}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      if (response.status !== 200)
        throw new Error(`total ${tenant}: ${response.status} ${await response.text()}`);
      out.set(tenant, ((await response.json()) as { total: number }).total);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function run(command: string, argv: string[]): Promise<void> {
  const child = spawn(command, argv, { stdio: 'inherit' });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function waitReady(base: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the collector did not become ready within 120 s');
}
