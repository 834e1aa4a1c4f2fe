/**
 * The real `tallyhouse` bin as a child process: it serves on the configured port, and on SIGTERM stops
 * accepting, flushes everything it accepted into embedded chDB and exits 0. The data directory is then
 * opened in this process and read back per tenant. Bad configuration exits 2 naming the variable.
 */
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startCollectorProcess } from './support/collector-process.ts';
import { http, postMetrics } from './support/http-client.ts';
import { readDataDir } from './support/in-process.ts';
import { killStrayProcesses } from './support/node-process.ts';
import { encodeRequest, gaugeMetric, NOW_NS, otlpRequest, sumMetric } from './support/otlp-requests.ts';
import { tempDir } from './support/temp-dirs.ts';

afterAll(killStrayProcesses);

/** Sum totals and latest gauges per tenant, read from the data directory the bin wrote (it has exited). */
function readBack(dataDir: string, tenants: string[]) {
  return readDataDir(dataDir, async (reader) => {
    const out: Record<string, { sums: Record<string, number>; gauges: Record<string, number> }> = {};
    for (const tenant of tenants) {
      const sums = Object.fromEntries((await reader.sumTotals(tenant)).map((t) => [t.metricName, t.total]));
      const gauges = Object.fromEntries(
        (await reader.gaugeLatest(tenant)).map((g) => [g.metricName, g.value]),
      );
      out[tenant] = { sums, gauges };
    }
    return out;
  });
}

describe('tallyhouse bin', () => {
  it('flushes everything accepted to storage on SIGTERM and exits 0', async () => {
    const dataDir = tempDir('bin-shutdown');
    const bin = await startCollectorProcess({
      dataDir,
      // Nothing reaches storage before shutdown unless shutdown flushes it.
      env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000', TALLYHOUSE_LOG_LEVEL: 'info' },
      wait: 'healthz',
    });
    const { port } = bin;
    try {
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
      const exit = await bin.waitForExit(30_000);
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
      await bin.kill();
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
    const bin = await startCollectorProcess({ dataDir: tempDir('bin-bad-config'), env, wait: 'none' });
    const exit = await bin.waitForExit(20_000);
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
      const bin = await startCollectorProcess({
        dataDir: tempDir('bin-port-taken'),
        port,
        env: { TALLYHOUSE_LOG_LEVEL: 'silent' },
        wait: 'none',
      });
      try {
        const exit = await bin.waitForExit(30_000);
        expect(exit.code).toBe(2);
        expect(bin.stderr()).toMatch(
          /^tallyhouse: invalid configuration: TALLYHOUSE_PORT: port \d+ is already in use/,
        );
      } finally {
        await bin.kill();
      }
    } finally {
      blocker.close();
    }
  }, 40_000);

  it('prints the hash of an API key with `hash-key`', async () => {
    const bin = await startCollectorProcess({ args: ['hash-key', 'abc'], wait: 'none' });
    expect(await bin.waitForExit(20_000)).toEqual({ code: 0, signal: null });
    expect(bin.stdout()).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n');
    const usage = await startCollectorProcess({ args: ['hash-key'], wait: 'none' });
    expect((await usage.waitForExit(20_000)).code).toBe(2);
    expect(usage.stderr()).toMatch(/usage: tallyhouse hash-key <api-key>/);
  });
});

describe('tallyhouse bin with storage unreachable', () => {
  /** The bin, pointed at a ClickHouse URL nothing listens on, retrying fast, flushing only at shutdown. */
  async function startWithStorageDown(dataDir: string, env: Record<string, string> = {}) {
    return startCollectorProcess({
      dataDir,
      wait: 'healthz',
      env: {
        CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}`,
        TALLYHOUSE_CREATE_SCHEMA: 'false',
        TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
        TALLYHOUSE_SHUTDOWN_TIMEOUT_MS: '1500',
        TALLYHOUSE_RETRY_INITIAL_MS: '50',
        TALLYHOUSE_RETRY_MAX_MS: '100',
        ...env,
      },
    });
  }

  /** Sends 42 for tenant `stranded`; it must be accepted although storage is down. */
  async function sendStranded(port: number) {
    const answer = await postMetrics(
      port,
      otlpRequest([sumMetric('requests', [{ value: 42, attributes: { route: '/pay' } }])]),
      'protobuf',
      { 'x-tenant-id': 'stranded' },
    );
    expect(answer.status).toBe(200);
  }

  it('without the WAL, keeps accepted data in the dead-letter file when SIGTERM comes and ClickHouse is down', async () => {
    const dataDir = tempDir('bin-storage-down');
    const bin = await startWithStorageDown(dataDir, {
      TALLYHOUSE_WAL: 'false',
      TALLYHOUSE_LOG_LEVEL: 'info',
    });
    try {
      expect((await http(bin.port, { method: 'GET', path: '/readyz' })).status).toBe(503);
      await sendStranded(bin.port);

      bin.child.kill('SIGTERM');
      const exit = await bin.waitForExit(30_000);
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
      await bin.kill();
    }
  }, 60_000);

  it('with the WAL, keeps accepted data in the log when ClickHouse is down, and writes it once storage is back', async () => {
    const dataDir = tempDir('bin-storage-down-wal');
    const down = await startWithStorageDown(dataDir);
    const { port } = down;
    try {
      await sendStranded(port);
      down.child.kill('SIGTERM');
      const exit = await down.waitForExit(30_000);
      expect(exit.signal).toBeNull();
      expect(existsSync(join(dataDir, 'dead-letters', 'dead-letters.ndjson'))).toBe(false);
    } finally {
      await down.kill();
    }
    // Storage is back (embedded chDB in the same data directory): the log replays the request, once.
    // (This process already holds another chDB directory, so the check reads the collector's own counters.)
    const up = await startCollectorProcess({
      dataDir,
      port,
      env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '200' },
      wait: 'healthz',
    });
    try {
      const rowsWritten = async () => {
        const text = (await http(port, { method: 'GET', path: '/metrics' })).body.toString();
        return /tallyhouse_rows_written_total\{table="otel_metrics_sum"\} (\d+)/.exec(text)?.[1];
      };
      await expect.poll(rowsWritten, { timeout: 20_000, interval: 100 }).toBe('1');
      up.child.kill('SIGTERM');
      expect((await up.waitForExit(30_000)).code).toBe(0);
      expect(up.stdout()).toMatch(/"requests":1,.*"msg":"write-ahead log replayed"/);
    } finally {
      await up.kill();
    }
  }, 90_000);
});
