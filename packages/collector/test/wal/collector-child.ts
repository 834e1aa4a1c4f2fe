/**
 * The real collector (`src/bin.ts`) as a child process on a fixed loopback port and data directory, so a test
 * can SIGKILL it and start the next incarnation on the same port and directory. Plus a minimal OTLP/JSON sum
 * sender and a storage read-back in a separate process (chDB binds one data directory per process).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const COLLECTOR_BIN = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));
/** The collector with an injected apply fault (see faulty-collector.ts). */
export const FAULTY_COLLECTOR = fileURLToPath(new URL('./faulty-collector.ts', import.meta.url));
const READ_TOTALS = fileURLToPath(new URL('./read-totals.ts', import.meta.url));
const SOURCE_CONDITION = '--conditions=@tallyhouse/source';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}

export interface CollectorChild {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** SIGKILL now; resolves when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM; SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

const live = new Set<ChildProcess>();

/** Kills every child this module started that is still running (for afterAll). */
export function killAllCollectors() {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function startCollectorChild(options: {
  dataDir: string;
  port: number;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Wait for /readyz (default true). */
  waitReady?: boolean;
  /** The script to run (default the real bin). */
  entry?: string;
}): Promise<CollectorChild> {
  const child = spawn(process.execPath, [SOURCE_CONDITION, options.entry ?? COLLECTOR_BIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      TALLYHOUSE_DATA_DIR: options.dataDir,
      TALLYHOUSE_HOST: '127.0.0.1',
      TALLYHOUSE_PORT: String(options.port),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const handle: CollectorChild = {
    child,
    url: `http://127.0.0.1:${options.port}/v1/metrics`,
    exited,
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 60_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const { code } = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  if (options.waitReady === false) return handle;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      const response = await fetch(`http://127.0.0.1:${options.port}/readyz`, {
        signal: AbortSignal.timeout(1_000),
      });
      await response.body?.cancel();
      if (response.ok) return handle;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await handle.kill();
  throw new Error(`collector not ready on port ${options.port}:\n${output}`);
}

/** Waits (bounded) until the child's output matches: log lines travel through a pipe, after the HTTP answer. */
export async function waitForOutput(
  handle: CollectorChild,
  pattern: RegExp,
  timeoutMs = 5_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(handle.output())) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return pattern.test(handle.output());
}

// ---- OTLP/JSON sums ----

export interface SumPoint {
  readonly metric: string;
  readonly value: number;
  /** Distinguishes series (an attribute `stream`). */
  readonly stream: string;
  readonly startNs: bigint;
  readonly timeNs: bigint;
}

/** One OTLP/JSON request of monotonic sums in the given temporality (1 delta, 2 cumulative). */
export function sumRequest(points: readonly SumPoint[], temporality: 1 | 2, service = 'svc'): string {
  const byMetric = new Map<string, SumPoint[]>();
  for (const point of points) byMetric.set(point.metric, [...(byMetric.get(point.metric) ?? []), point]);
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeMetrics: [
          {
            scope: { name: 'durability-test' },
            metrics: [...byMetric].map(([name, list]) => ({
              name,
              unit: '1',
              sum: {
                aggregationTemporality: temporality,
                isMonotonic: true,
                dataPoints: list.map((point) => ({
                  attributes: [{ key: 'stream', value: { stringValue: point.stream } }],
                  startTimeUnixNano: String(point.startNs),
                  timeUnixNano: String(point.timeNs),
                  asInt: String(point.value),
                })),
              },
            })),
          },
        ],
      },
    ],
  });
}

export interface PostResult {
  readonly status: number | 'error';
  readonly retryAfter?: string | null;
  readonly body?: string;
}

export async function postJson(
  url: string,
  tenant: string,
  body: string,
  timeoutMs = 10_000,
): Promise<PostResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text };
  } catch {
    return { status: 'error' };
  }
}

export interface StoredTotal {
  readonly tenant: string;
  readonly metric: string;
  readonly total: number;
  readonly rows: number;
}

/** Reads the stored sum totals in a separate process; the collector that owned `dataDir` must have exited. */
export function readStoredTotals(dataDir: string): Promise<StoredTotal[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [SOURCE_CONDITION, READ_TOTALS, dataDir],
      { timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`read-totals failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as StoredTotal[]);
      },
    );
  });
}

/** `tenant/metric` → total. */
export function totalsByKey(rows: readonly StoredTotal[]): Record<string, number> {
  return Object.fromEntries(rows.map((row) => [`${row.tenant}/${row.metric}`, row.total]));
}
