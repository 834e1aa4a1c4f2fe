/**
 * The real `tallyhouse` bin as a child process: it serves on the configured port, and on SIGTERM stops
 * accepting, flushes everything it accepted into embedded chDB and exits 0. The data directory is then
 * opened in this process and read back per tenant. Bad configuration exits 2 naming the variable.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ClickHouseMetricExporter } from '@tallyhouse/exporter-clickhouse';
import { describe, expect, it } from 'vitest';
import {
  encodeRequest,
  gaugeMetric,
  http,
  NOW_NS,
  otlpRequest,
  postMetrics,
  sumMetric,
  tempDir,
} from './support.ts';

const PACKAGE_DIR = join(import.meta.dirname, '..');

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Bin {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runBin(env: Record<string, string>, args: string[] = []): Bin {
  const child = spawn(process.execPath, ['--conditions=@tallyhouse/source', 'src/bin.ts', ...args], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

async function waitHealthy(port: number, bin: Bin, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (bin.child.exitCode !== null) throw new Error(`bin exited early: ${bin.stderr()}${bin.stdout()}`);
    try {
      if ((await http(port, { method: 'GET', path: '/healthz' })).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`bin not healthy within ${deadlineMs} ms: ${bin.stderr()}${bin.stdout()}`);
}

/** Reads the data directory the child wrote (the child has exited, so chDB can bind it here). */
async function readBack(dataDir: string, tenants: string[]) {
  const exporter = new ClickHouseMetricExporter({ dataDir, env: {}, logger: silentLogger });
  try {
    const reader = await exporter.reader();
    const out: Record<string, { sums: Record<string, number>; gauges: Record<string, number> }> = {};
    for (const tenant of tenants) {
      const sums = Object.fromEntries((await reader.sumTotals(tenant)).map((t) => [t.metricName, t.total]));
      const gauges = Object.fromEntries(
        (await reader.gaugeLatest(tenant)).map((g) => [g.metricName, g.value]),
      );
      out[tenant] = { sums, gauges };
    }
    return out;
  } finally {
    await exporter.shutdown();
  }
}

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

describe('tallyhouse bin', () => {
  it('flushes everything accepted to storage on SIGTERM and exits 0', async () => {
    const dataDir = tempDir('bin-shutdown');
    const port = await freePort();
    const bin = runBin({
      TALLYHOUSE_DATA_DIR: dataDir,
      TALLYHOUSE_PORT: String(port),
      // Nothing reaches storage before shutdown unless shutdown flushes it.
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      TALLYHOUSE_LOG_LEVEL: 'info',
    });
    try {
      await waitHealthy(port, bin, 30_000);
      expect((await http(port, { method: 'GET', path: '/readyz' })).status).toBe(200);

      const sent: Record<string, number> = { acme: 0, globex: 0 };
      for (let i = 1; i <= 5; i++) {
        for (const [tenant, encoding] of [
          ['acme', 'protobuf'],
          ['globex', 'json'],
        ] as const) {
          const value = tenant === 'acme' ? i : 10 * i;
          const answer = await postMetrics(
            port,
            otlpRequest(
              [
                sumMetric('requests', [{ value, attributes: { route: `/r${i % 2}` } }]),
                gaugeMetric('queue.depth', [{ value: i, time: NOW_NS + BigInt(i) }]),
              ],
              { 'service.name': 'checkout', 'host.name': `host-${i}` },
            ),
            encoding,
            { 'x-tenant-id': tenant },
          );
          expect(answer.status).toBe(200);
          sent[tenant] = (sent[tenant] ?? 0) + value;
        }
      }

      // Requests racing with shutdown: each is either accepted (200, and then must be stored) or pushed back
      // with 503 + Retry-After; a refused connection is fine too.
      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      let racingAccepted = 0;
      let pushedBack = 0;
      let stop = false;
      const racing = (async () => {
        // Each request reports its own interval, as real exports do (a byte-identical one would be a resend).
        for (let round = 1n; !stop; round++) {
          try {
            const answer = await new Promise<{ status: number; retryAfter: string | undefined }>(
              (resolve, reject) => {
                const time = NOW_NS + round * 1_000_000n;
                const point = { value: 1, start: time - 1_000_000n, time };
                const body = encodeRequest(otlpRequest([sumMetric('racing', [point])]), 'protobuf');
                const req = httpRequest(
                  {
                    host: '127.0.0.1',
                    port,
                    method: 'POST',
                    path: '/v1/metrics',
                    agent,
                    headers: {
                      'content-type': 'application/x-protobuf',
                      'x-tenant-id': 'racing',
                      'content-length': body.length,
                    },
                  },
                  (res) => {
                    res.resume();
                    res.on('end', () =>
                      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }),
                    );
                  },
                );
                req.on('error', reject);
                req.end(body);
              },
            );
            if (answer.status === 200) racingAccepted++;
            else {
              pushedBack++;
              expect(answer).toEqual({ status: 503, retryAfter: '5' });
            }
          } catch {
            return; // connection refused or reset: the server is gone
          }
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 50));

      bin.child.kill('SIGTERM');
      const exit = await within(bin.exited, 30_000, 'exit after SIGTERM');
      stop = true;
      await racing;
      agent.destroy();
      expect(exit).toEqual({ code: 0, signal: null });
      expect(bin.stdout()).toMatch(/shutdown complete: everything accepted was handed to storage/);

      const stored = await readBack(dataDir, ['acme', 'globex', 'racing']);
      expect(stored.acme).toEqual({ sums: { requests: sent.acme }, gauges: { 'queue.depth': 5 } });
      expect(stored.globex).toEqual({ sums: { requests: sent.globex }, gauges: { 'queue.depth': 5 } });
      // The loop has one request in flight at a time: its answer may be cut off after it was accepted.
      const racingStored = stored.racing?.sums.racing ?? 0;
      expect(racingStored).toBeGreaterThanOrEqual(racingAccepted);
      expect(racingStored).toBeLessThanOrEqual(racingAccepted + 1);
      expect(racingAccepted + pushedBack).toBeGreaterThan(0);
    } finally {
      bin.child.kill('SIGKILL');
    }
  }, 90_000);

  it.each<[string, Record<string, string>, RegExp]>([
    [
      'TALLYHOUSE_PORT=abc',
      { TALLYHOUSE_PORT: 'abc' },
      /TALLYHOUSE_PORT: expected a positive integer, got "abc"/,
    ],
    [
      'TALLYHOUSE_AUTH=oauth',
      { TALLYHOUSE_AUTH: 'oauth' },
      /TALLYHOUSE_AUTH: expected one of header, apikey/,
    ],
    ['CLICKHOUSE_URL=ftp://x', { CLICKHOUSE_URL: 'ftp://x' }, /CLICKHOUSE_URL: must be http/],
    [
      'a missing keys file',
      { TALLYHOUSE_AUTH: 'apikey', TALLYHOUSE_API_KEYS_FILE: '/nonexistent/keys.json' },
      /TALLYHOUSE_API_KEYS_FILE: cannot read \/nonexistent\/keys\.json/,
    ],
  ])('exits 2 on bad configuration (%s), naming the variable on stderr', async (_label, env, message) => {
    const bin = runBin({ TALLYHOUSE_DATA_DIR: tempDir('bin-bad-config'), ...env });
    const exit = await within(bin.exited, 20_000, 'exit on bad configuration');
    expect(exit.code).toBe(2);
    expect(bin.stderr()).toMatch(/^tallyhouse: invalid configuration: /);
    expect(bin.stderr()).toMatch(message);
  });

  it('exits 2 naming TALLYHOUSE_PORT when the port is taken, instead of hanging', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      const bin = runBin({
        TALLYHOUSE_DATA_DIR: tempDir('bin-port-taken'),
        TALLYHOUSE_PORT: String(port),
        TALLYHOUSE_LOG_LEVEL: 'silent',
      });
      try {
        const exit = await within(bin.exited, 30_000, 'exit when the port is taken');
        expect(exit.code).toBe(2);
        expect(bin.stderr()).toMatch(
          /^tallyhouse: invalid configuration: TALLYHOUSE_PORT: port \d+ is already in use/,
        );
      } finally {
        bin.child.kill('SIGKILL');
      }
    } finally {
      blocker.close();
    }
  }, 40_000);

  it('prints the hash of an API key with `hash-key`', async () => {
    const bin = runBin({}, ['hash-key', 'abc']);
    expect(await within(bin.exited, 20_000, 'hash-key')).toEqual({ code: 0, signal: null });
    expect(bin.stdout()).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n');
    const usage = runBin({}, ['hash-key']);
    expect((await within(usage.exited, 20_000, 'hash-key usage')).code).toBe(2);
    expect(usage.stderr()).toMatch(/usage: tallyhouse hash-key <api-key>/);
  });
});

describe('tallyhouse bin with storage unreachable', () => {
  it('without the WAL, keeps accepted data in the dead-letter file when SIGTERM comes and ClickHouse is down', async () => {
    const dataDir = tempDir('bin-storage-down');
    const port = await freePort();
    const deadClickHouse = await freePort();
    const bin = runBin({
      TALLYHOUSE_WAL: 'false',
      TALLYHOUSE_DATA_DIR: dataDir,
      TALLYHOUSE_PORT: String(port),
      CLICKHOUSE_URL: `http://127.0.0.1:${deadClickHouse}`,
      TALLYHOUSE_CREATE_SCHEMA: 'false',
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: '1500',
      TALLYHOUSE_RETRY_INITIAL_MS: '50',
      TALLYHOUSE_RETRY_MAX_MS: '100',
      TALLYHOUSE_LOG_LEVEL: 'info',
    });
    try {
      await waitHealthy(port, bin, 30_000);
      expect((await http(port, { method: 'GET', path: '/readyz' })).status).toBe(503);
      const answer = await postMetrics(
        port,
        otlpRequest([sumMetric('requests', [{ value: 42, attributes: { route: '/pay' } }])]),
        'protobuf',
        { 'x-tenant-id': 'stranded' },
      );
      expect(answer.status).toBe(200);

      bin.child.kill('SIGTERM');
      const exit = await within(bin.exited, 30_000, 'exit after SIGTERM');
      const output = `${bin.stdout()}\n${bin.stderr()}`;
      let letters = '';
      try {
        letters = readFileSync(join(dataDir, 'dead-letters', 'dead-letters.ndjson'), 'utf8');
      } catch {
        // no file: nothing was kept
      }
      // Accepted with 200, so it must survive: the exporter's shutdown writes what it could not insert into
      // the dead-letter file (one NDJSON line per row, naming the tenant), before the process exits.
      const lines = letters.split('\n').filter((line) => line.includes('"stranded"'));
      expect(
        lines,
        `dead-letter file after SIGTERM; exit ${JSON.stringify(exit)}; log:\n${output}`,
      ).toHaveLength(1);
      expect(lines[0]).toMatch(/42/);
      // Exit 0 (handed off to the dead-letter file) or 1 (not written to storage) are both honest; a kill is not.
      expect(exit.signal).toBeNull();
      expect([0, 1]).toContain(exit.code);
    } finally {
      bin.child.kill('SIGKILL');
    }
  }, 60_000);

  it('with the WAL, keeps accepted data in the log when ClickHouse is down, and writes it once storage is back', async () => {
    const dataDir = tempDir('bin-storage-down-wal');
    const port = await freePort();
    const deadClickHouse = await freePort();
    const down = runBin({
      TALLYHOUSE_DATA_DIR: dataDir,
      TALLYHOUSE_PORT: String(port),
      CLICKHOUSE_URL: `http://127.0.0.1:${deadClickHouse}`,
      TALLYHOUSE_CREATE_SCHEMA: 'false',
      TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: '1500',
      TALLYHOUSE_RETRY_INITIAL_MS: '50',
      TALLYHOUSE_RETRY_MAX_MS: '100',
    });
    try {
      await waitHealthy(port, down, 30_000);
      const answer = await postMetrics(
        port,
        otlpRequest([sumMetric('requests', [{ value: 42, attributes: { route: '/pay' } }])]),
        'protobuf',
        { 'x-tenant-id': 'stranded' },
      );
      expect(answer.status).toBe(200);
      down.child.kill('SIGTERM');
      const exit = await within(down.exited, 30_000, 'exit after SIGTERM');
      expect(exit.signal).toBeNull();
      expect(existsSync(join(dataDir, 'dead-letters', 'dead-letters.ndjson'))).toBe(false);
    } finally {
      down.child.kill('SIGKILL');
    }
    // Storage is back (embedded chDB in the same data directory): the log replays the request, once.
    // (This process already holds another chDB directory, so the check reads the collector's own counters.)
    const up = runBin({
      TALLYHOUSE_DATA_DIR: dataDir,
      TALLYHOUSE_PORT: String(port),
      TALLYHOUSE_FLUSH_INTERVAL_MS: '200',
    });
    try {
      await waitHealthy(port, up, 30_000);
      const rowsWritten = async () => {
        const text = (await http(port, { method: 'GET', path: '/metrics' })).body.toString();
        return /tallyhouse_rows_written_total\{table="otel_metrics_sum"\} (\d+)/.exec(text)?.[1];
      };
      await expect.poll(rowsWritten, { timeout: 20_000, interval: 100 }).toBe('1');
      up.child.kill('SIGTERM');
      expect((await within(up.exited, 30_000, 'exit after SIGTERM')).code).toBe(0);
      expect(up.stdout()).toMatch(/"requests":1,.*"msg":"write-ahead log replayed"/);
    } finally {
      up.child.kill('SIGKILL');
    }
  }, 90_000);
});
