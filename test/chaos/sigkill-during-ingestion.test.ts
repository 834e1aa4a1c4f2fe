/**
 * Chaos (a): the collector is SIGKILLed at random moments (seeded; the seed is logged, CHAOS_SEED replays it)
 * at least 20 times while real OTel SDK apps keep exporting: 4 tenants, delta and cumulative, four apps with the
 * stock OTLP/HTTP exporter (it retries within its 4 s timeout) and two (tenant hooli) with the stock OTLP/gRPC
 * one (grpc-js; it does not retry, and its channel reconnects after a growing backoff, failing calls at once
 * meanwhile). Each time the collector restarts on the same data directory, HTTP port and gRPC port. Once with
 * the embedded store, once with a ClickHouse server over HTTP (the test endpoint). At the end
 * storage must hold, per stream, exactly what the apps got a 200 (gRPC: OK) for — plus, for delta apps, whole
 * failed exports that may have been counted: a kill between the acknowledgement and the answer, then (HTTP)
 * every retry within the client's timeout refused while the collector restarts, leaves a counted request its
 * client calls failed. Each such export is counted whole or not at all, never twice; a gRPC call that failed
 * for want of a connection never left its client and must not be in storage; cumulative streams are exact.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import {
  type CollectorProcess,
  freePort,
  startCollectorProcess,
} from '../../packages/collector/test/support/collector-process.ts';
import { killStrayProcesses } from '../../packages/collector/test/support/node-process.ts';
import { seededRandom } from '../../packages/collector/test/support/seeded-random.ts';
import {
  readStoredStreamTotals,
  readStoredTotals,
  totalsByKey,
} from '../../packages/collector/test/support/stored-in-child.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { STORE_KINDS, startStore, type TestStore } from '../support/stores.ts';
import { expectedTotals, startTallyingApp, unexplainedStorage } from './support.ts';

const KILLS = Number(process.env.CHAOS_KILLS ?? 20);
const tempDir = tempDirsRemovedAfterAll();
let store: TestStore | undefined;
afterAll(async () => {
  await store?.close();
  await killStrayProcesses();
});

it.each(STORE_KINDS)(
  `${KILLS} SIGKILLs during ingestion: storage (%s) holds exactly what the apps got a 200 for, plus whole exports in doubt`,
  async (kind) => {
    const dir = tempDir(`chaos-kill-${kind}`);
    store = await startStore(kind, tempDir(`chaos-kill-store-${kind}`));
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
    console.log(`chaos seed ${seed} (replay with CHAOS_SEED=${seed})`);
    const random = seededRandom(seed);
    const started = performance.now();
    // The gRPC port too stays the same across restarts: a client's channel reconnects to where it was.
    const grpcPort = await freePort();
    const env = {
      TALLYHOUSE_FLUSH_INTERVAL_MS: '250',
      TALLYHOUSE_LOG_LEVEL: 'info',
      TALLYHOUSE_GRPC_PORT: String(grpcPort),
      ...store.collectorEnv,
    };
    let collector: CollectorProcess = await startCollectorProcess({ dataDir: dir, env });
    const { port, metricsUrl: url } = collector;
    const grpcUrl = `http://127.0.0.1:${grpcPort}`;
    const apps = [
      startTallyingApp({ url, tenant: 'acme', service: 'acme-delta', temporality: 'delta' }),
      startTallyingApp({ url, tenant: 'globex', service: 'globex-cumulative', temporality: 'cumulative' }),
      startTallyingApp({ url, tenant: 'initech', service: 'initech-delta', temporality: 'delta' }),
      startTallyingApp({ url, tenant: 'initech', service: 'initech-cumulative', temporality: 'cumulative' }),
      startTallyingApp({
        url,
        grpcUrl,
        protocol: 'grpc',
        tenant: 'hooli',
        service: 'hooli-grpc-delta',
        temporality: 'delta',
      }),
      startTallyingApp({
        url,
        grpcUrl,
        protocol: 'grpc',
        tenant: 'hooli',
        service: 'hooli-grpc-cumulative',
        temporality: 'cumulative',
      }),
    ];
    const replays: string[] = [];
    const restartMs: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      // Up 150-1650 ms: sometimes mid-request, mid-flush, mid-checkpoint.
      await sleep(150 + Math.floor(random() * 1_500));
      await collector.kill();
      const before = performance.now();
      collector = await startCollectorProcess({ dataDir: dir, port, env });
      restartMs.push(performance.now() - before);
      const replayed = /"msg":"write-ahead log replayed"/.test(collector.output());
      expect(replayed).toBe(true);
      const line = collector
        .output()
        .split('\n')
        .find((l) => l.includes('write-ahead log replayed'));
      if (line !== undefined) replays.push(line);
    }
    await sleep(1_000);
    const tallies = await Promise.all(apps.map((app) => app.finish()));
    expect(await collector.stop()).toBe(0);
    const stored = totalsByKey(await readStoredTotals(dir, store.server));
    const storedStreams = await readStoredStreamTotals(dir, store.server);
    await store.close();
    const acknowledged = expectedTotals(tallies);
    const seconds = (performance.now() - started) / 1000;
    const summary = {
      store: kind,
      seed,
      kills: KILLS,
      seconds: Math.round(seconds),
      exports: tallies.reduce((n, t) => n + t.stats.exports, 0),
      acknowledged: tallies.reduce((n, t) => n + t.stats.succeeded, 0),
      failedExports: tallies.reduce((n, t) => n + t.stats.failed, 0),
      restartMsMax: Math.round(Math.max(...restartMs)),
      restartMsMedian: Math.round(
        [...restartMs].sort((a, b) => a - b)[Math.floor(restartMs.length / 2)] ?? 0,
      ),
      replayedRequests: replays.reduce((n, l) => n + (JSON.parse(l) as { requests: number }).requests, 0),
      exportsInDoubt: tallies.reduce((n, t) => n + t.inDoubt.length, 0),
      byApp: tallies.map((t) => ({
        service: t.service,
        protocol: t.protocol,
        ...t.stats,
        inDoubt: t.inDoubt.length,
        failures: t.failures,
        finalMs: t.finalMs,
      })),
      acknowledgedTotals: acknowledged,
      stored,
    };
    console.log(`chaos sigkill summary ${JSON.stringify(summary)}`);
    expect(Object.keys(acknowledged).sort()).toEqual([
      'acme/chaos.requests',
      'globex/chaos.requests',
      'hooli/chaos.requests',
      'initech/chaos.requests',
    ]);
    expect(Object.keys(stored).sort()).toEqual(Object.keys(acknowledged).sort());
    expect(unexplainedStorage(tallies, storedStreams)).toEqual([]);
    expect(seconds).toBeLessThan(180);
  },
);
