/**
 * End-to-end ingestion benchmark: the real collector (`src/bin.ts`, its own process, embedded chDB in a temp dir)
 * under load over OTLP/HTTP protobuf (`undici`, `http-load.ts`) and over OTLP/gRPC (a lean HTTP/2 client,
 * `grpc-wire-load.ts`, or with `--grpc-client=grpc-js` the stock exporters' grpc-js, `grpc-load.ts`) with the same
 * message bytes, the same number of exports in flight and the same time. The protocols take turns over `--rounds`
 * rounds in the order HTTP, gRPC | gRPC, HTTP | HTTP, gRPC …, so neither always runs on a store the other has
 * already filled (background merges, a larger series table): a fixed order biases a comparison towards the
 * protocol that runs first.
 *
 * Measures sustained data points/s accepted, request latency p50/p99/max per protocol and their ratio against the
 * goal (gRPC ≥ 0.8× HTTP's data points/s, p99 ≤ 1.5× HTTP's), the collector's peak RSS, and proves zero loss:
 * after SIGTERM (exit 0) the chDB data is opened here and `sum(Value)` per tenant must equal what was sent and
 * acknowledged over either protocol. The decode-only ceiling (`benchDecode`) is measured first, before any load.
 *
 *   npm run bench -w packages/collector                 # 4 rounds of 10 s per protocol
 *   npm run bench -w packages/collector -- --quick      # 2 rounds of 4 s per protocol
 *   npm run bench -w packages/collector -- --rounds=6 --duration=10
 *   node --conditions=@tallyhouse/source bench/run.ts --duration=30 --clients=16 --points=1000   # defaults: 20, 8, 500
 *   npm run bench -w packages/collector -- --rate=200000 --clients=32                 # open loop: latency at a fixed load
 *   npm run bench -w packages/collector -- --flush-max-series=100000                 # TALLYHOUSE_FLUSH_MAX_SERIES
 *   npm run bench -w packages/collector -- --grpc-channels=1                          # gRPC: all calls on one channel
 *   npm run bench -w packages/collector -- --grpc-client=grpc-js                      # gRPC load from grpc-js (stock exporters' client)
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
import { benchDecode } from './decode.ts';
import { grpcSender } from './grpc-load.ts';
import { grpcWireSender } from './grpc-wire-load.ts';
import { httpSender } from './http-load.ts';
import { type LoadResult, type LoadSummary, runLoad, type Sender, summarize } from './load.ts';
import { buildPayloads, type Payload } from './payloads.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    /** Seconds per protocol per round. */
    duration: { type: 'string' },
    rounds: { type: 'string' },
    clients: { type: 'string', default: '8' },
    points: { type: 'string', default: '500' },
    tenants: { type: 'string', default: '10' },
    'flush-interval-ms': { type: 'string', default: '1000' },
    /** TALLYHOUSE_FLUSH_MAX_SERIES for the collector; unset: the collector's default. */
    'flush-max-series': { type: 'string' },
    /** Open loop: offer this many points/s (paced arrivals) instead of as many as the connections carry. */
    rate: { type: 'string' },
    /** gRPC channels the `clients` concurrent calls are spread over; default: one per client, like HTTP. */
    'grpc-channels': { type: 'string' },
    'grpc-client': { type: 'string', default: 'wire' },
  },
});

function intArg(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be an integer ${min}-${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const durationSeconds = intArg('duration', args.duration ?? (args.quick ? '4' : '10'), 1, 600);
const rounds = intArg('rounds', args.rounds ?? (args.quick ? '2' : '4'), 1, 100);
const clients = intArg('clients', args.clients, 1, 256);
const pointsPerRequest = intArg('points', args.points, 1, 100_000);
const tenantCount = intArg('tenants', args.tenants, 1, 1_000);
const flushIntervalMs = intArg('flush-interval-ms', args['flush-interval-ms'], 100, 60_000);
const flushMaxSeries =
  args['flush-max-series'] === undefined
    ? undefined
    : intArg('flush-max-series', args['flush-max-series'], 1, 10_000_000);
const rate = args.rate === undefined ? undefined : intArg('rate', args.rate, 1, 100_000_000);
const grpcClient = args['grpc-client'];
if (grpcClient !== 'wire' && grpcClient !== 'grpc-js')
  throw new Error(`--grpc-client=wire|grpc-js, not ${grpcClient}`);
const grpcChannels = intArg('grpc-channels', args['grpc-channels'] ?? String(clients), 1, clients);

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

/** CPU seconds (user + system, all threads: Node and chDB) a process used so far (Linux); 0 elsewhere. */
async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th, in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS_PER_SECOND = 100;

/** Samples the RSS of `pid` every 250 ms until `stop`, which resolves with the peak. */
function rssSampler(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  const sample = async () => {
    const memory = await memoryOf(pid);
    if (memory !== undefined) peak = Math.max(peak, memory.rss);
  };
  const timer = setInterval(() => void sample(), 250);
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      return peak;
    },
  };
}

const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
const ms = (value: number) => Number(value.toFixed(2));
const ratio = (value: number) => Number(value.toFixed(2));
const cpuPerPoint = (seconds: number, result: LoadResult) =>
  Number(((seconds * 1e6) / result.acceptedPoints).toFixed(2));

// ---- 1. decode-only ceiling, measured before any load so nothing competes for the CPU ----
console.log('decode-only ceiling (bench/decode.ts):');
const decodeRows = await benchDecode();
const decodeCeiling =
  decodeRows.find((row) => row.name.startsWith('otlp decode protobuf, sum'))?.pointsPerSecond ?? Number.NaN;

// ---- 2. payloads: pre-encoded OTLP protobuf requests from the real SDK + serializer ----
const payloads: Payload[] = await buildPayloads({ tenants: tenantCount, pointsPerRequest, variants: 4 });

// ---- 3. the collector, as operators run it, with both listeners ----
const dataDir = await mkdtemp(join(tmpdir(), 'tallyhouse-bench-'));
const port = await freePort();
let grpcPort = await freePort();
while (grpcPort === port) grpcPort = await freePort();
const base = `http://127.0.0.1:${port}`;
const collector = spawn(process.execPath, ['--conditions=@tallyhouse/source', COLLECTOR_BIN], {
  env: {
    ...process.env,
    CLICKHOUSE_URL: '',
    TALLYHOUSE_DATA_DIR: dataDir,
    TALLYHOUSE_HOST: '127.0.0.1',
    TALLYHOUSE_PORT: String(port),
    TALLYHOUSE_FLUSH_INTERVAL_MS: String(flushIntervalMs),
    TALLYHOUSE_GRPC_PORT: String(grpcPort),
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

  // ---- 4. load: the protocols take turns, `clients` exports in flight for `durationSeconds` per turn ----
  const acknowledged = new Map<string, number>();
  const phase = async (connect: () => Promise<Sender>): Promise<Phase> => {
    const sender = await connect();
    const sampler = rssSampler(pid);
    let cpuBefore = { collector: 0, generator: process.cpuUsage() };
    const atTimedStart = async () => {
      cpuBefore = { collector: await cpuSecondsOf(pid), generator: process.cpuUsage() };
    };
    const result = await runLoad(
      sender,
      { payloads, clients, durationSeconds, warmUpMs: 1_000, rate, atTimedStart },
      acknowledged,
    );
    const generatorCpu = process.cpuUsage(cpuBefore.generator);
    const cpu = {
      collector: (await cpuSecondsOf(pid)) - cpuBefore.collector,
      generator: (generatorCpu.user + generatorCpu.system) / 1e6,
    };
    const peakRss = await sampler.stop();
    await sender.close();
    // The last flush settles before the next turn, so no turn inherits the previous one's backlog.
    await new Promise((resolve) => setTimeout(resolve, flushIntervalMs));
    return { result, peakRss, cpu };
  };
  const httpTurn = () => phase(async () => httpSender(base, clients));
  const grpcTurn = () =>
    phase(() =>
      grpcClient === 'wire'
        ? grpcWireSender('127.0.0.1', grpcPort, grpcChannels)
        : grpcSender(`127.0.0.1:${grpcPort}`, grpcChannels),
    );
  const httpPhases: Phase[] = [];
  const grpcPhases: Phase[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      httpPhases.push(await httpTurn());
      grpcPhases.push(await grpcTurn());
    } else {
      grpcPhases.push(await grpcTurn());
      httpPhases.push(await httpTurn());
    }
  }
  const http = combinePhases(httpPhases);
  const grpc = combinePhases(grpcPhases);
  const memory = await memoryOf(pid);

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
  for (const [tenant, sent] of acknowledged) {
    const row = stored.find((r) => r.TenantId === tenant);
    sentTotal += sent;
    storedTotal += row?.Total ?? 0;
    storedRows += Number(row?.Rows ?? 0);
    if (row?.Total !== sent) mismatches.push(`${tenant}: sent ${sent}, stored ${row?.Total ?? 0}`);
  }
  if (stored.length !== acknowledged.size) mismatches.push(`tenants stored: ${stored.length}`);

  // ---- 6. report ----
  console.log(
    `\nend-to-end OTLP → collector → embedded chDB, ${rounds} rounds of HTTP protobuf (${clients} connections) and gRPC ` +
      `(${grpcClient === 'wire' ? 'lean HTTP/2 client' : 'grpc-js client'}, ${clients} calls in flight on ${grpcChannels} connection${grpcChannels === 1 ? '' : 's'}), ` +
      `${rate === undefined ? 'closed loop' : `open loop at ${rate} points/s offered`}, ${pointsPerRequest} points/request ` +
      `(delta sums, 5 attributes), ${tenantCount} tenants, flush every ${flushIntervalMs} ms or ` +
      `${flushMaxSeries ?? process.env.TALLYHOUSE_FLUSH_MAX_SERIES ?? 'default'} series, ${durationSeconds} s per protocol per round:`,
  );
  console.table(comparison(http.summary, grpc.summary));
  console.log('per round (data points/s accepted; odd rounds run gRPC first):');
  console.table(
    httpPhases.map((httpPhase, round) => {
      const httpRate = summarize(httpPhase.result).pointsPerSecond;
      const grpcRate = summarize(grpcPhases[round]!.result).pointsPerSecond;
      return {
        order: round % 2 === 0 ? 'HTTP, gRPC' : 'gRPC, HTTP',
        HTTP: Math.round(httpRate),
        gRPC: Math.round(grpcRate),
        'gRPC/HTTP': ratio(grpcRate / httpRate),
      };
    }),
  );
  const both = (pick: (p: typeof http) => string | number) => `${pick(http)} / ${pick(grpc)}`;
  const counts = (r: LoadResult) => `${r.ok} / ${r.pushedBack} / ${r.failed} / ${r.partial}`;
  console.table({
    'requests HTTP (200 / 429+503 / failed / partial)': counts(http.result),
    'calls gRPC (OK / UNAVAILABLE+retryable RESOURCE_EXHAUSTED / failed / partial)': counts(grpc.result),
    // Where a gap between the protocols comes from: the CPU each side spent per accepted point.
    'CPU µs per point, collector HTTP / gRPC': both((p) => cpuPerPoint(p.cpu.collector, p.result)),
    'CPU µs per point, load generator HTTP / gRPC': both((p) => cpuPerPoint(p.cpu.generator, p.result)),
    'collector RSS idle (MB)': mb(idleRss),
    'collector peak RSS HTTP / gRPC (MB, sampled)': both((p) => mb(p.peakRss)),
    'collector VmHWM at end (MB)': mb(memory?.hwm ?? 0),
    'decode-only ceiling (points/s)': Math.round(decodeCeiling),
    'end-to-end / decode-only HTTP / gRPC': both((p) => ratio(p.summary.pointsPerSecond / decodeCeiling)),
    'shutdown drain (ms)': Math.round(drainMs),
    'collector exit code': exitCode ?? 'killed',
    'value acknowledged, every turn (incl. warm-ups)': sentTotal,
    'value stored (sum(Value))': storedTotal,
    'sum rows stored': storedRows,
    'zero loss': mismatches.length === 0 && exitCode === 0 ? 'yes' : `NO: ${mismatches.join('; ')}`,
  });
  const failed = http.result.failed + grpc.result.failed;
  const partial = http.result.partial + grpc.result.partial;
  if (mismatches.length > 0 || exitCode !== 0 || failed > 0 || partial > 0) process.exitCode = 1;
} finally {
  if (collector.exitCode === null && collector.signalCode === null) {
    collector.kill('SIGKILL');
    await collectorExit;
  }
  await rm(dataDir, { recursive: true, force: true });
}

interface Phase {
  readonly result: LoadResult;
  readonly peakRss: number;
  readonly cpu: { readonly collector: number; readonly generator: number };
}

/** One protocol's turns as if they were one run: counts, time and CPU added, latencies pooled. */
function combinePhases(phases: readonly Phase[]): Phase & { summary: LoadSummary } {
  const results = phases.map((p) => p.result);
  const add = (pick: (r: LoadResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  const latencies = new Float64Array(add((r) => r.latencies.length));
  let offset = 0;
  for (const r of results) {
    latencies.set(r.latencies, offset);
    offset += r.latencies.length;
  }
  const result: LoadResult = {
    requests: add((r) => r.requests),
    ok: add((r) => r.ok),
    partial: add((r) => r.partial),
    pushedBack: add((r) => r.pushedBack),
    failed: add((r) => r.failed),
    acceptedPoints: add((r) => r.acceptedPoints),
    elapsedSeconds: add((r) => r.elapsedSeconds),
    latencies: latencies.sort(),
  };
  const cpu = {
    collector: phases.reduce((total, p) => total + p.cpu.collector, 0),
    generator: phases.reduce((total, p) => total + p.cpu.generator, 0),
  };
  return { result, summary: summarize(result), peakRss: Math.max(...phases.map((p) => p.peakRss)), cpu };
}

/** HTTP vs gRPC, with the issue's goals: gRPC ≥ 0.8× HTTP's data points/s, gRPC p99 ≤ 1.5× HTTP's. */
function comparison(http: LoadSummary, grpc: LoadSummary) {
  const row = (
    pick: (s: LoadSummary) => number,
    format: (value: number) => number,
    goal?: { text: string; met: (ratio: number) => boolean },
  ) => {
    const r = pick(grpc) / pick(http);
    return {
      HTTP: format(pick(http)),
      gRPC: format(pick(grpc)),
      'gRPC/HTTP': ratio(r),
      goal: goal === undefined ? '' : `${goal.text}: ${goal.met(r) ? 'pass' : 'FAIL'}`,
    };
  };
  return {
    'data points/s accepted': row((s) => s.pointsPerSecond, Math.round, {
      text: '≥ 0.8',
      met: (r) => r >= 0.8,
    }),
    'requests/s': row((s) => s.requestsPerSecond, Math.round),
    'latency p50 (ms)': row((s) => s.p50, ms),
    'latency p99 (ms)': row((s) => s.p99, ms, { text: '≤ 1.5', met: (r) => r <= 1.5 }),
    'latency max (ms)': row((s) => s.max, ms),
  };
}
