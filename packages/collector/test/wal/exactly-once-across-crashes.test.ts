/**
 * The collector's durability end to end, with the real bin as a child process per incarnation (SIGKILL needs a
 * process; chDB binds one data directory per process, so storage is read in a separate process after the last
 * incarnation exited). Every incarnation of one scenario uses the same data directory and port.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startCollectorProcess } from '../support/collector-process.ts';
import { postJson } from '../support/http-client.ts';
import { killStrayProcesses } from '../support/node-process.ts';
import { seededRandom } from '../support/seeded-random.ts';
import { readStoredBucketTotals, readStoredTotals, totalsByKey } from '../support/stored-in-child.ts';
import { BASE_NS, sumRequest } from '../support/sum-requests.ts';
import { tempDirsRemovedAfterAll } from '../support/temp-dirs.ts';
import { FAULT_PRELOAD } from './faults.ts';

const tempDir = tempDirsRemovedAfterAll();
const mounts: string[] = [];
afterAll(() => {
  killStrayProcesses();
  for (const mount of mounts) {
    try {
      execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

const dataDir = (name: string) => tempDir(`durable-${name}`);
const FAST = { TALLYHOUSE_FLUSH_INTERVAL_MS: '150', TALLYHOUSE_LOG_LEVEL: 'info' };

describe('crash and replay', () => {
  it('SIGKILL mid-ingestion, restart, SIGTERM: storage holds exactly what got a 200 (delta sums), per quarter hour, and the rollups agree', async () => {
    const seed = Number(process.env.DURABLE_SEED ?? Date.now() % 100_000);
    console.log(`crash-replay seed ${seed}`);
    const random = seededRandom(seed);
    const dir = dataDir('crash');
    const port = await freePort();
    const acknowledged: Record<string, number> = {};
    // Per tenant, metric and quarter hour (k·15 min, (k+1)·15 min] of the point's time.
    const acknowledgedByQuarter: Record<string, number> = {};
    let sequence = 0n;
    let stopSending = false;
    let collectorUrl = `http://127.0.0.1:${port}/v1/metrics`;
    // Four clients; each retries the same payload until it gets a 200 (as OTLP clients do), then counts it.
    const sender = async (tenant: string) => {
      for (let i = 0; !stopSending && i < 100_000; i++) {
        const value = 1 + (i % 9);
        // 7 s apart: a run spans hours, so flushes and replays meet quarter-hour boundaries all the time.
        const at = BASE_NS + ++sequence * 7_000_000_000n;
        const body = sumRequest(
          [
            { metric: 'requests', value, stream: `s${i % 3}`, startNs: at - 1_000_000n, timeNs: at },
            { metric: 'bytes', value: value * 100, stream: 's0', startNs: at - 1_000_000n, timeNs: at },
          ],
          1,
        );
        for (let attempt = 0; attempt < 2_000; attempt++) {
          const result = await postJson(collectorUrl, tenant, body, 5_000);
          if (result.status === 200) {
            acknowledged[`${tenant}/requests`] = (acknowledged[`${tenant}/requests`] ?? 0) + value;
            acknowledged[`${tenant}/bytes`] = (acknowledged[`${tenant}/bytes`] ?? 0) + value * 100;
            const quarter = (at - 1n) / 900_000_000_000n;
            for (const [metric, amount] of [
              ['requests', value],
              ['bytes', value * 100],
            ] as const) {
              const key = `${tenant}/${metric}/${quarter}`;
              acknowledgedByQuarter[key] = (acknowledgedByQuarter[key] ?? 0) + amount;
            }
            break;
          }
          if (stopSending) return;
          await sleep(20);
        }
      }
    };
    let collector = await startCollectorProcess({ dataDir: dir, port, env: FAST });
    collectorUrl = collector.metricsUrl;
    const senders = ['t-a', 't-b', 't-c', 't-a'].map((tenant) => sender(tenant));
    const kills = 4;
    for (let kill = 0; kill < kills; kill++) {
      await sleep(200 + Math.floor(random() * 600));
      await collector.kill();
      collector = await startCollectorProcess({ dataDir: dir, port, env: FAST });
      expect(collector.output()).toMatch(/write-ahead log replayed/);
    }
    await sleep(300);
    stopSending = true;
    await Promise.all(senders);
    expect(await collector.stop()).toBe(0);
    const stored = totalsByKey(await readStoredTotals(dir));
    expect(Object.keys(acknowledged).length).toBeGreaterThan(0);
    expect(stored).toEqual(acknowledged);
    const buckets = await readStoredBucketTotals(dir);
    expect(buckets.rawQuarterHours).toEqual(acknowledgedByQuarter);
    expect(Object.keys(buckets.rawHours).length).toBeGreaterThan(2 * 3);
    expect(buckets.rollupHours).toEqual(buckets.rawHours);
    expect(buckets.rollupDays).toEqual(buckets.rawDays);
  }, 120_000);
});

describe('resends', () => {
  it('after a SIGKILL between the ACK and the answer, the resend is counted once; identical bodies answered whole count each time', async () => {
    const dir = dataDir('resend');
    const port = await freePort();
    const at = BASE_NS + 5_000_000_000n;
    const body = sumRequest(
      [{ metric: 'requests', value: 7, stream: 's', startNs: at - 1_000_000n, timeNs: at }],
      1,
    );
    const other = sumRequest(
      [{ metric: 'requests', value: 3, stream: 's', startNs: at, timeNs: at + 1_000_000n }],
      1,
    );
    // The process dies right after the ACK and the 200 were written, before the answer was reported sent.
    let collector = await startCollectorProcess({
      dataDir: dir,
      port,
      env: { ...FAST, FAULT_TENANT: 't-r', FAULT: 'kill' },
      preload: [FAULT_PRELOAD],
    });
    await postJson(collector.metricsUrl, 't-r', body);
    expect((await collector.exited).signal).toBe('SIGKILL');
    collector = await startCollectorProcess({ dataDir: dir, port, env: FAST });
    // The client did not see that answer and sends the same bytes again: a resend, answered, not counted.
    expect((await postJson(collector.metricsUrl, 't-r', body)).status).toBe(200);
    expect(await collector.waitForOutput(/resend of an acknowledged request/)).toBe(true);
    // Its answer went out whole: the same bytes from now on are another export (two clients, say).
    expect((await postJson(collector.metricsUrl, 't-r', body)).status).toBe(200);
    // Two clients sending identical bodies one after the other: both answered, both counted.
    expect((await postJson(collector.metricsUrl, 't-s', body)).status).toBe(200);
    expect((await postJson(collector.metricsUrl, 't-s', body)).status).toBe(200);
    expect((await postJson(collector.metricsUrl, 't-r', other)).status).toBe(200);
    expect(await collector.stop()).toBe(0);
    expect(totalsByKey(await readStoredTotals(dir))).toEqual({ 't-r/requests': 17, 't-s/requests': 14 });
  }, 60_000);
});

describe('cumulative stream state across restarts', () => {
  const report = (value: number, timeNs: bigint) =>
    sumRequest([{ metric: 'jobs', value, stream: 'only', startNs: BASE_NS, timeNs }], 2, 'cumulative-svc');

  for (const how of [
    'SIGKILL before any flush',
    'SIGKILL after a flush and checkpoint',
    'SIGTERM',
  ] as const) {
    it(`reports 10 then 15 with a restart in between (${how}): total 15, not 25`, async () => {
      const dir = dataDir('cumulative');
      const port = await freePort();
      const env =
        how === 'SIGKILL before any flush'
          ? { TALLYHOUSE_FLUSH_INTERVAL_MS: '600000', TALLYHOUSE_LOG_LEVEL: 'info' }
          : FAST;
      const first = await startCollectorProcess({ dataDir: dir, port, env });
      expect((await postJson(first.metricsUrl, 'acme', report(10, BASE_NS + 1_000_000_000n))).status).toBe(
        200,
      );
      if (how === 'SIGKILL after a flush and checkpoint') {
        await sleep(800); // several flushes: the first reaches storage and is checkpointed
        await first.kill();
      } else if (how === 'SIGTERM') {
        expect(await first.stop()).toBe(0);
      } else {
        await first.kill();
      }
      const second = await startCollectorProcess({ dataDir: dir, port, env });
      expect((await postJson(second.metricsUrl, 'acme', report(15, BASE_NS + 2_000_000_000n))).status).toBe(
        200,
      );
      expect(await second.stop()).toBe(0);
      const stored = totalsByKey(await readStoredTotals(dir));
      expect(stored).toEqual({ 'acme/jobs': 15 });
    }, 90_000);
  }
});

describe('resource exhaustion', () => {
  it('a full WAL disk gives 503 + Retry-After and a clear log line; nothing acknowledged is lost', async () => {
    const dir = dataDir('full');
    const walDir = join(dir, 'wal');
    mkdirSync(walDir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=384k', 'tmpfs', walDir], { stdio: 'ignore' });
      mounts.push(walDir);
    } catch {
      console.warn('cannot mount a tmpfs (not root?): skipping the disk-full scenario');
      return;
    }
    const port = await freePort();
    const env = {
      ...FAST,
      TALLYHOUSE_WAL_SEGMENT_BYTES: String(64 * 1024),
      TALLYHOUSE_WAL_RESERVE_BYTES: String(96 * 1024),
      // Segments stay for the dedup window after a checkpoint; short here, so space comes back within the test.
      TALLYHOUSE_WAL_DEDUP_WINDOW_MS: '500',
    };
    let collector = await startCollectorProcess({ dataDir: dir, port, env });
    const acknowledged: Record<string, number> = {};
    let refused: { status: number | 'error'; retryAfter?: string | null } | undefined;
    let acceptedAfterRefusal = 0;
    const statuses: Record<string, number> = {};
    // ~12 KiB per request (many streams): the 384 KiB volume fills within a few dozen requests.
    for (let i = 0; i < 400; i++) {
      const at = BASE_NS + BigInt(i + 1) * 1_000_000n;
      const points = Array.from({ length: 60 }, (_, s) => ({
        metric: 'fill',
        value: 1,
        stream: `stream-${s}-${'x'.repeat(100)}`,
        startNs: at - 1_000_000n,
        timeNs: at,
      }));
      const result = await postJson(collector.metricsUrl, 'acme', sumRequest(points, 1));
      statuses[String(result.status)] = (statuses[String(result.status)] ?? 0) + 1;
      if (result.status === 200) {
        acknowledged['acme/fill'] = (acknowledged['acme/fill'] ?? 0) + 60;
        if (refused !== undefined) acceptedAfterRefusal++;
      } else if (refused === undefined) refused = result;
      if (refused !== undefined && i % 10 === 0) await sleep(100); // give flush + checkpoint a chance
    }
    expect.soft(refused).toMatchObject({ status: 503 });
    expect.soft(refused?.retryAfter).toMatch(/^\d+$/);
    expect.soft(await collector.waitForOutput(/cannot write the write-ahead log/)).toBe(true);
    console.log(
      `disk full: ${acknowledged['acme/fill'] ?? 0} points acknowledged, ${acceptedAfterRefusal} requests accepted after the first refusal, statuses ${JSON.stringify(statuses)}`,
    );
    // Still serving (503s), not crashed by the failed flushes.
    const alive = collector.running();
    if (!alive) console.log(collector.output().split('\n').slice(-12).join('\n'));
    expect.soft(alive, 'the collector crashed on the full disk instead of answering 503').toBe(true);
    // Checkpoints free segments: intake resumes by itself.
    expect.soft(acceptedAfterRefusal).toBeGreaterThan(0);
    // A crash now; the operator grows the volume; a restart and a clean stop: what got a 200 is stored, once.
    await collector.kill();
    execFileSync('mount', ['-o', 'remount,size=64m', walDir], { stdio: 'ignore' });
    collector = await startCollectorProcess({ dataDir: dir, port, env });
    const code = await collector.stop();
    if (code !== 0) console.log(collector.output().split('\n').slice(-15).join('\n'));
    expect(code).toBe(0);
    const stored = totalsByKey(await readStoredTotals(dir));
    expect(stored).toEqual(acknowledged);
  }, 120_000);

  it('above the memory soft limit: 503 + Retry-After, nothing stored', async () => {
    const dir = dataDir('memory');
    // Any Node process with chDB loaded is far above 1 MiB: every request meets the soft limit.
    const collector = await startCollectorProcess({
      dataDir: dir,
      env: { ...FAST, TALLYHOUSE_MEMORY_LIMIT_MIB: '100000', TALLYHOUSE_MEMORY_SOFT_LIMIT_MIB: '1' },
    });
    const body = sumRequest(
      [{ metric: 'm', value: 1, stream: 's', startNs: BASE_NS, timeNs: BASE_NS + 1n }],
      1,
    );
    const result = await postJson(collector.metricsUrl, 'acme', body);
    expect(result.status).toBe(503);
    expect(result.retryAfter).toMatch(/^\d+$/);
    expect(await collector.stop()).toBe(0);
    expect(await readStoredTotals(dir)).toEqual([]);
  }, 60_000);

  it('above the memory hard limit: 503 + Retry-After and an error log line', async () => {
    const collector = await startCollectorProcess({
      dataDir: dataDir('memory-hard'),
      env: { ...FAST, TALLYHOUSE_MEMORY_LIMIT_MIB: '2' },
    });
    const body = sumRequest(
      [{ metric: 'm', value: 1, stream: 's', startNs: BASE_NS, timeNs: BASE_NS + 1n }],
      1,
    );
    const result = await postJson(collector.metricsUrl, 'acme', body);
    expect(result.status).toBe(503);
    expect(result.retryAfter).toMatch(/^\d+$/);
    expect(await collector.waitForOutput(/memory above the hard limit/)).toBe(true);
    expect(await collector.stop()).toBe(0);
  }, 60_000);
});
