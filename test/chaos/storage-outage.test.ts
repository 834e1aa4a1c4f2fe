/**
 * Chaos (b): storage answers 503 to everything for CHAOS_OUTAGE_MS (default 60 s, as in the issue) while real
 * OTel SDK apps keep exporting; then it comes back. Storage is the exporter's ClickHouse-HTTP facade over chDB
 * in its own process (`CLICKHOUSE_URL` points the collector at it). After recovery and a clean stop, the totals
 * must equal exactly what the apps got a 200 for: zero loss, zero duplicates.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { startCollectorProcess } from '../../packages/collector/test/support/collector-process.ts';
import {
  killStrayProcesses,
  type NodeProcess,
  startNodeProcess,
} from '../../packages/collector/test/support/node-process.ts';
import { readStoredTotals, totalsByKey } from '../../packages/collector/test/support/stored-in-child.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { expectedTotals, startTallyingApp } from './support.ts';

const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_MS ?? 60_000);
const FACADE = fileURLToPath(new URL('./facade-process.ts', import.meta.url));
const dir = tempDirsRemovedAfterAll()('chaos-outage');
afterAll(killStrayProcesses);

/** The storage facade as its own process, once it printed its port; `down`/`up` on its stdin switch modes. */
async function startFacade(): Promise<{ facade: NodeProcess; port: number }> {
  // `<dir>/chdb` is where an embedded collector would keep it, so the read-back below finds it.
  const facade = startNodeProcess(FACADE, { args: [join(dir, 'chdb')], stdin: true });
  if (!(await facade.waitForOutput(/listening \d+/, 30_000))) {
    throw new Error(`facade did not start:\n${facade.output()}`);
  }
  return { facade, port: Number(/listening (\d+)/.exec(facade.stdout())?.[1]) };
}

it(`storage down for ${OUTAGE_MS / 1000} s during ingestion: zero loss, zero duplicates after recovery`, async () => {
  const started = performance.now();
  const storage = await startFacade();
  const collector = await startCollectorProcess({
    dataDir: dir,
    env: {
      CLICKHOUSE_URL: `http://127.0.0.1:${storage.port}`,
      TALLYHOUSE_FLUSH_INTERVAL_MS: '250',
      TALLYHOUSE_LOG_LEVEL: 'info',
    },
  });
  const url = collector.metricsUrl;
  const apps = [
    startTallyingApp({ url, tenant: 'acme', service: 'acme-delta', temporality: 'delta', intervalMs: 100 }),
    startTallyingApp({
      url,
      tenant: 'globex',
      service: 'globex-cum',
      temporality: 'cumulative',
      intervalMs: 100,
    }),
    startTallyingApp({
      url,
      tenant: 'initech',
      service: 'initech-delta',
      temporality: 'delta',
      intervalMs: 100,
    }),
  ];
  await sleep(2_000);
  storage.facade.child.stdin?.write('down\n');
  await sleep(OUTAGE_MS);
  storage.facade.child.stdin?.write('up\n');
  await sleep(5_000);
  const tallies = await Promise.all(apps.map((app) => app.finish()));
  // Recovery: the exporter's backoff (up to 30 s) brings every retained part back to storage; wait for it.
  const retainedRows = async () => {
    const text = await (await fetch(url.replace('/v1/metrics', '/metrics'))).text();
    return Number(/^tallyhouse_retained_rows (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  };
  const drainedBy = performance.now() + 90_000;
  while ((await retainedRows()) > 0 && performance.now() < drainedBy) await sleep(250);
  const recoveredInSeconds = Math.round((performance.now() - started) / 1000);
  // The outage was real: the exporter saw storage fail (a warning or error from it in the collector's log).
  const storageFailures = collector
    .output()
    .split('\n')
    .filter((line) => /"level":[45]0/.test(line) && line.includes('exporter-clickhouse')).length;
  expect(storageFailures).toBeGreaterThan(0);
  const code = await collector.stop();
  if (code !== 0) console.log(collector.output().split('\n').slice(-10).join('\n'));
  expect(code).toBe(0);
  await storage.facade.stop();
  const stored = totalsByKey(await readStoredTotals(dir));
  const expected = expectedTotals(tallies);
  const summary = {
    outageMs: OUTAGE_MS,
    seconds: Math.round((performance.now() - started) / 1000),
    exports: tallies.reduce((n, t) => n + t.stats.exports, 0),
    acknowledged: tallies.reduce((n, t) => n + t.stats.succeeded, 0),
    failedExports: tallies.reduce((n, t) => n + t.stats.failed, 0),
    storageFailureLogLines: storageFailures,
    recoveredAtSecond: recoveredInSeconds,
    expected,
    stored,
  };
  console.log(`chaos outage summary ${JSON.stringify(summary)}`);
  expect(Object.keys(expected)).toHaveLength(3);
  expect(stored).toEqual(expected);
});
