/**
 * End-to-end ingestion benchmark: an `undici` load generator → the real collector (`src/bin.ts`, its own
 * process, embedded chDB in a temp dir) over OTLP/HTTP protobuf, for a fixed duration.
 *
 * Measures sustained data points/s accepted (HTTP 200), request latency p50/p99, the collector's peak RSS,
 * and proves zero loss: after SIGTERM (exit 0) the chDB data is opened here and `sum(Value)` per tenant must
 * equal what was sent and acknowledged with 200. The decode-only ceiling (`benchDecode`) is measured first,
 * before any load, and the end-to-end rate is reported as a share of it.
 *
 *   npm run bench -w packages/collector                 # 20 s
 *   npm run bench -w packages/collector -- --quick      # 5 s
 *   node --conditions=@tallyhouse/source bench/run.ts --duration=30 --clients=16 --points=1000   # defaults: 20, 8, 500
 *   npm run bench -w packages/collector -- --rate=200000 --clients=32                 # open loop: latency at a fixed load
 *   npm run bench -w packages/collector -- --flush-max-series=100000                 # TALLYHOUSE_FLUSH_MAX_SERIES
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openStorageConnection, resolveExporterConfig } from '@tallyhouse/exporter-clickhouse';
import { Pool } from 'undici';
import { benchDecode } from './decode.ts';
import { buildPayloads, type Payload } from './payloads.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    clients: { type: 'string', default: '8' },
    points: { type: 'string', default: '500' },
    tenants: { type: 'string', default: '10' },
    'flush-interval-ms': { type: 'string', default: '1000' },
    /** TALLYHOUSE_FLUSH_MAX_SERIES for the collector; unset: the collector's default. */
    'flush-max-series': { type: 'string' },
    /** Open loop: offer this many points/s (paced arrivals) instead of as many as the connections carry. */
    rate: { type: 'string' },
  },
});

function intArg(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be an integer ${min}-${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const durationSeconds = intArg('duration', args.duration ?? (args.quick ? '5' : '20'), 1, 600);
const clients = intArg('clients', args.clients, 1, 256);
const pointsPerRequest = intArg('points', args.points, 1, 100_000);
const tenantCount = intArg('tenants', args.tenants, 1, 1_000);
const flushIntervalMs = intArg('flush-interval-ms', args['flush-interval-ms'], 100, 60_000);
const flushMaxSeries =
  args['flush-max-series'] === undefined
    ? undefined
    : intArg('flush-max-series', args['flush-max-series'], 1, 10_000_000);
const rate = args.rate === undefined ? undefined : intArg('rate', args.rate, 1, 100_000_000);

const COLLECTOR_BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function waitReady(base: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    child.exitCode === null
      ? `collector not ready at ${base} within ${timeoutMs} ms`
      : `collector exited with code ${child.exitCode} before it was ready`,
  );
}

/** VmRSS / VmHWM of a process in bytes (Linux); undefined elsewhere or once it exited. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kib('VmRSS') * 1024, hwm: kib('VmHWM') * 1024 };
  } catch {
    return undefined;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;

/**
 * The body with an unknown field (number 9999, varint `sequence`) appended, which OTLP decoders skip. Real
 * SDK exports always differ (timestamps, values); the collector answers a byte-identical body within its
 * resend window as a retry of the first and does not count it again, so reusing a pre-encoded payload as-is
 * would measure that, not ingestion.
 */
function distinctBody(body: Uint8Array, sequence: number): Buffer {
  const UNKNOWN_VARINT_FIELD_TAG = (9999 << 3) | 0;
  return Buffer.concat([body, varint(UNKNOWN_VARINT_FIELD_TAG), varint(sequence)]);
}

function varint(value: number): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
    rest = Math.floor(rest / 128);
  } while (rest > 0);
  return Uint8Array.from(bytes);
}

// ---- 1. decode-only ceiling, measured before any load so nothing competes for the CPU ----
console.log('decode-only ceiling (bench/decode.ts):');
const decodeRows = await benchDecode();
const decodeCeiling =
  decodeRows.find((row) => row.name.startsWith('otlp decode protobuf, sum'))?.pointsPerSecond ?? Number.NaN;

// ---- 2. payloads: pre-encoded OTLP protobuf requests from the real SDK + serializer ----
const payloads: Payload[] = await buildPayloads({ tenants: tenantCount, pointsPerRequest, variants: 4 });

// ---- 3. the collector, as operators run it ----
const dataDir = await mkdtemp(join(tmpdir(), 'tallyhouse-bench-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const collector = spawn(process.execPath, ['--conditions=@tallyhouse/source', COLLECTOR_BIN], {
  env: {
    ...process.env,
    CLICKHOUSE_URL: '',
    TALLYHOUSE_DATA_DIR: dataDir,
    TALLYHOUSE_HOST: '127.0.0.1',
    TALLYHOUSE_PORT: String(port),
    TALLYHOUSE_FLUSH_INTERVAL_MS: String(flushIntervalMs),
    TALLYHOUSE_GRPC_PORT: 'off',
    TALLYHOUSE_LOG_LEVEL: 'warn',
    ...(flushMaxSeries === undefined ? {} : { TALLYHOUSE_FLUSH_MAX_SERIES: String(flushMaxSeries) }),
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const collectorExit = new Promise<number | null>((resolve) =>
  collector.once('exit', (code) => resolve(code)),
);
const pid = collector.pid ?? Number.NaN;
let exitCode: number | null = null;
try {
  await waitReady(base, collector, 30_000);
  // Resident memory of the idle collector (Node + embedded ClickHouse engine, schema created).
  const idleRss = (await memoryOf(pid))?.rss ?? 0;

  // ---- 4. load: `clients` connections, one request in flight on each, for `durationSeconds` ----
  const pool = new Pool(base, { connections: clients, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies = new Float64Array(5_000_000);
  let requests = 0;
  let ok = 0;
  let partial = 0;
  let pushedBack = 0;
  let failed = 0;
  let acceptedPoints = 0;
  const sentPerTenant = new Map<string, number>();
  let peakRss = 0;
  const sampler = setInterval(() => {
    void memoryOf(pid).then((memory) => {
      if (memory !== undefined) peakRss = Math.max(peakRss, memory.rss);
    });
  }, 250);

  // Closed loop by default: each connection sends its next request as soon as the previous one is answered.
  // With --rate, request k is due at phaseStart + k / requestsPerSecond, and its latency is measured from when
  // it was due, so time spent queued behind a slow answer counts (no coordinated omission).
  const requestsPerSecond = rate === undefined ? undefined : rate / pointsPerRequest;
  let phaseStart = 0;
  let issued = 0;
  let sent = 0;
  const runUntil = async (deadline: number, timed: boolean, worker: number) => {
    let next = worker;
    while (performance.now() < deadline) {
      const payload = payloads[next % payloads.length]!;
      next += clients;
      let started = performance.now();
      if (requestsPerSecond !== undefined) {
        const due = phaseStart + (issued++ * 1_000) / requestsPerSecond;
        if (due >= deadline) break;
        if (due > started) await new Promise((resolve) => setTimeout(resolve, due - started));
        started = due;
      }
      try {
        const response = await pool.request({
          path: '/v1/metrics',
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', 'x-tenant-id': payload.tenant },
          body: distinctBody(payload.body, sent++),
        });
        const body = Buffer.from(await response.body.arrayBuffer());
        const elapsed = performance.now() - started;
        if (timed && requests < latencies.length) latencies[requests] = elapsed;
        if (timed) requests++;
        if (response.statusCode === 200) {
          // A non-empty protobuf response carries partial_success: some points were rejected.
          if (body.length > 0) partial++;
          sentPerTenant.set(payload.tenant, (sentPerTenant.get(payload.tenant) ?? 0) + payload.valueSum);
          if (timed) {
            ok++;
            acceptedPoints += payload.points;
          }
        } else if (response.statusCode === 429 || response.statusCode === 503) {
          pushedBack++;
          await new Promise((resolve) => setTimeout(resolve, 50));
        } else {
          failed++;
        }
      } catch {
        failed++;
      }
    }
  };
  // Warm-up: a second of load that is stored and checked but not timed.
  phaseStart = performance.now();
  const warmUntil = phaseStart + 1_000;
  await Promise.all(Array.from({ length: clients }, (_, worker) => runUntil(warmUntil, false, worker)));
  const started = performance.now();
  phaseStart = started;
  issued = 0;
  const deadline = started + durationSeconds * 1_000;
  await Promise.all(Array.from({ length: clients }, (_, worker) => runUntil(deadline, true, worker)));
  const elapsedSeconds = (performance.now() - started) / 1_000;
  clearInterval(sampler);
  const memory = await memoryOf(pid);
  peakRss = Math.max(peakRss, memory?.rss ?? 0);
  await pool.close();

  // ---- 5. SIGTERM: the collector flushes everything and exits; then storage is ours to read ----
  const stopStarted = performance.now();
  collector.kill('SIGTERM');
  const killTimer = setTimeout(() => collector.kill('SIGKILL'), 60_000);
  exitCode = await collectorExit;
  clearTimeout(killTimer);
  const drainMs = performance.now() - stopStarted;

  const connection = openStorageConnection(resolveExporterConfig({ env: {}, dataDir }));
  const stored = await connection.queryRows<{ TenantId: string; Total: number; Rows: string }>(
    'SELECT TenantId, sum(Value) AS Total, count() AS Rows FROM otel.otel_metrics_sum GROUP BY TenantId',
  );
  await connection.close();
  let storedTotal = 0;
  let sentTotal = 0;
  let storedRows = 0;
  const mismatches: string[] = [];
  for (const [tenant, sent] of sentPerTenant) {
    const row = stored.find((r) => r.TenantId === tenant);
    sentTotal += sent;
    storedTotal += row?.Total ?? 0;
    storedRows += Number(row?.Rows ?? 0);
    if (row?.Total !== sent) mismatches.push(`${tenant}: sent ${sent}, stored ${row?.Total ?? 0}`);
  }
  if (stored.length !== sentPerTenant.size) mismatches.push(`tenants stored: ${stored.length}`);

  const sorted = latencies.slice(0, Math.min(requests, latencies.length)).sort();
  const pointsPerSecond = acceptedPoints / elapsedSeconds;
  console.log(
    `\nend-to-end OTLP/HTTP protobuf → collector → embedded chDB: ${clients} connections, ` +
      `${rate === undefined ? 'closed loop' : `open loop at ${rate} points/s offered`}, ${pointsPerRequest} points/request ` +
      `(delta sums, 5 attributes), ${tenantCount} tenants, flush every ${flushIntervalMs} ms or ` +
      `${flushMaxSeries ?? process.env.TALLYHOUSE_FLUSH_MAX_SERIES ?? 'default'} series, ${durationSeconds} s:`,
  );
  console.table({
    'data points/s accepted (200)': Math.round(pointsPerSecond),
    'requests/s': Math.round(ok / elapsedSeconds),
    'requests (200 / 429+503 / failed / partial)': `${ok} / ${pushedBack} / ${failed} / ${partial}`,
    'latency p50 (ms)': Number(percentile(sorted, 50).toFixed(2)),
    'latency p99 (ms)': Number(percentile(sorted, 99).toFixed(2)),
    'latency max (ms)': Number(percentile(sorted, 100).toFixed(2)),
    'collector RSS idle (MB)': mb(idleRss),
    'collector peak RSS (MB, sampled)': mb(peakRss),
    'collector VmHWM at end (MB)': mb(memory?.hwm ?? 0),
    'decode-only ceiling (points/s)': Math.round(decodeCeiling),
    'end-to-end / decode-only': Number((pointsPerSecond / decodeCeiling).toFixed(3)),
    'shutdown drain (ms)': Math.round(drainMs),
    'collector exit code': exitCode ?? 'killed',
    'value sent with 200 (incl. warm-up)': sentTotal,
    'value stored (sum(Value))': storedTotal,
    'sum rows stored': storedRows,
    'zero loss': mismatches.length === 0 && exitCode === 0 ? 'yes' : `NO: ${mismatches.join('; ')}`,
  });
  if (mismatches.length > 0 || exitCode !== 0 || failed > 0 || partial > 0) process.exitCode = 1;
} finally {
  if (collector.exitCode === null && collector.signalCode === null) {
    collector.kill('SIGKILL');
    await collectorExit;
  }
  await rm(dataDir, { recursive: true, force: true });
}
