/**
 * Apps with the stock OTLP exporter → the Tallyhouse collector → ClickHouse, in one command:
 *
 *   app instances (OTel SDK + OTLPMetricExporter, header x-tenant-id) ──OTLP/HTTP──►
 *     collector (packages/collector/src/bin.ts, child process, embedded chDB in a temp dir)
 *
 * 1. starts the collector on a free loopback port, configured by env only, and waits for /readyz;
 * 2. runs five app instances for three tenants (JSON and protobuf, cumulative and delta), each a process;
 * 3. stops the collector with SIGTERM (it flushes everything, then exits 0);
 * 4. opens the collector's data directory here and prints per-tenant totals read back from ClickHouse next to
 *    what the apps recorded. Exits non-zero on any mismatch.
 *
 * Run: npm start -w examples/app-otlp
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorageConnection, resolveExporterConfig, UsageReader } from '@tallyhouse/exporter-clickhouse';
import type { RecordedUsage } from './app.ts';

const COLLECTOR_BIN = fileURLToPath(new URL('../../../packages/collector/src/bin.ts', import.meta.url));
const APP = fileURLToPath(new URL('./app.ts', import.meta.url));
const NODE_ARGS = ['--conditions=@tallyhouse/source'];

const INSTANCES = [
  { tenant: 'acme', instance: 'acme-1', encoding: 'json', temporality: 'cumulative' },
  { tenant: 'acme', instance: 'acme-2', encoding: 'protobuf', temporality: 'delta' },
  { tenant: 'globex', instance: 'globex-1', encoding: 'protobuf', temporality: 'cumulative' },
  { tenant: 'initech', instance: 'initech-1', encoding: 'json', temporality: 'delta' },
  { tenant: 'initech', instance: 'initech-2', encoding: 'json', temporality: 'cumulative' },
] as const;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Runs a Node script to completion (bounded) and returns its stdout; rejects on a non-zero exit. */
async function run(script: string, env: Record<string, string>, timeoutMs: number): Promise<string> {
  const child = spawn(process.execPath, [...NODE_ARGS, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8'); // a character split across chunks stays whole
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return stdout;
}

const dataDir = await mkdtemp(join(tmpdir(), 'tallyhouse-app-otlp-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;

// 1. The collector, exactly as an operator runs it: the bin, configured by env.
const collector = spawn(process.execPath, [...NODE_ARGS, COLLECTOR_BIN], {
  env: {
    ...process.env,
    CLICKHOUSE_URL: '', // embedded chDB, whatever the surroundings say
    TALLYHOUSE_DATA_DIR: dataDir,
    TALLYHOUSE_HOST: '127.0.0.1',
    TALLYHOUSE_PORT: String(port),
    TALLYHOUSE_TENANT_HEADER: 'x-tenant-id',
    TALLYHOUSE_GRPC_PORT: 'off', // this example sends OTLP/HTTP only
    TALLYHOUSE_FLUSH_INTERVAL_MS: '1000',
    TALLYHOUSE_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const collectorExited = once(collector, 'exit') as Promise<[number | null]>;
let ready = false;
for (let attempt = 0; attempt < 150 && !ready && collector.exitCode === null; attempt++) {
  ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
    (response) => response.ok,
    () => false,
  );
  if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
}
if (!ready) {
  collector.kill('SIGKILL');
  throw new Error(`the collector did not become ready on ${base}`);
}
console.log(`collector ready on ${base} (embedded chDB in ${dataDir})`);

// 2. The apps, concurrently, each its own process with its own tenant header.
let recorded: RecordedUsage[];
try {
  recorded = await Promise.all(
    INSTANCES.map(async (instance) => {
      const stdout = await run(
        APP,
        {
          APP_TENANT: instance.tenant,
          APP_INSTANCE: instance.instance,
          APP_OTLP_URL: `${base}/v1/metrics`,
          APP_ENCODING: instance.encoding,
          APP_TEMPORALITY: instance.temporality,
        },
        60_000,
      );
      return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as RecordedUsage;
    }),
  );
} finally {
  // 3. SIGTERM: the collector refuses new data, flushes everything to ClickHouse and exits 0.
  collector.kill('SIGTERM');
}
const killTimer = setTimeout(() => collector.kill('SIGKILL'), 30_000);
const [exitCode] = await collectorExited;
clearTimeout(killTimer);
console.log(`collector stopped with SIGTERM, exit code ${exitCode}`);

// 4. chDB binds one data directory per process: now that the collector is gone, it is ours to read.
const connection = openStorageConnection(resolveExporterConfig({ env: {}, dataDir }));
const reader = new UsageReader(connection, 'otel');
const table: Record<string, string | number>[] = [];
let mismatches = exitCode === 0 ? 0 : 1;
for (const tenant of [...new Set(INSTANCES.map((instance) => instance.tenant))]) {
  const mine = recorded.filter((usage) => usage.tenant === tenant);
  const want = {
    requests: mine.reduce((sum, usage) => sum + usage.requests, 0),
    observations: mine.reduce((sum, usage) => sum + usage.latencyObservations, 0),
    storage: Object.fromEntries(mine.map((usage) => [usage.instance, usage.storageUsed])),
  };
  const [requests] = await reader.sumTotals(tenant, {}, 'api.requests');
  const latencies = await reader.points(tenant, 'histogram', {}, 'api.latency');
  const observations = latencies.reduce((sum, point) => sum + (point.value as { count: number }).count, 0);
  const gauges = await reader.gaugeLatest(tenant, { metric: 'storage.used' });
  const storage = Object.fromEntries(gauges.map((gauge) => [gauge.attributes.instance, gauge.value]));
  const storageOk =
    Object.keys(storage).length === Object.keys(want.storage).length &&
    Object.entries(want.storage).every(([instance, value]) => storage[instance] === value);
  const ok = requests?.total === want.requests && observations === want.observations && storageOk;
  if (!ok) mismatches += 1;
  table.push({
    tenant,
    instances: mine.length,
    'requests (recorded)': want.requests,
    'requests (ClickHouse)': requests?.total ?? 0,
    'latency obs. (recorded)': want.observations,
    'latency obs. (ClickHouse)': observations,
    'storage.used latest per instance (ClickHouse)': Object.entries(storage)
      .map(([instance, value]) => `${instance}=${value}`)
      .join(', '),
    check: ok ? 'ok' : 'MISMATCH',
  });
}
await connection.close();
console.log('\nPer-tenant usage read back from ClickHouse (database otel):');
console.table(table);

if (mismatches === 0) await rm(dataDir, { recursive: true, force: true });
else console.error(`mismatch: data kept in ${dataDir}`);
process.exitCode = mismatches === 0 ? 0 : 1;
