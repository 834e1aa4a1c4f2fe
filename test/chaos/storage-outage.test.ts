/**
 * Chaos (b): storage answers 503 to everything for CHAOS_OUTAGE_MS (default 60 s, as in the issue) while real
 * OTel SDK apps keep exporting; then it comes back. Storage is the real engine behind the test ClickHouse HTTP
 * endpoint in its own process (`CLICKHOUSE_URL` points the collector at it; its fault switch takes it down). After
 * recovery and a clean stop, the totals must equal exactly what the apps got a 200 for: zero loss, zero duplicates.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EndpointProcess } from '@tallyhouse/clickhouse-http-endpoint';
import { afterAll, expect, it } from 'vitest';
import { startCollectorProcess } from '../../packages/collector/test/support/collector-process.ts';
import { killStrayProcesses } from '../../packages/collector/test/support/node-process.ts';
import { readStoredTotals, totalsByKey } from '../../packages/collector/test/support/stored-in-child.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { expectedTotals, startStorageChaosApps, waitForStorageDrain } from './support.ts';

const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_MS ?? 60_000);
const dir = tempDirsRemovedAfterAll()('chaos-outage');
afterAll(killStrayProcesses);

it(`storage down for ${OUTAGE_MS / 1000} s during ingestion: zero loss, zero duplicates after recovery`, async () => {
  const started = performance.now();
  // `<dir>/chdb` is where an embedded collector would keep it, so the read-back below finds it.
  const storage = await EndpointProcess.start({ dataDir: join(dir, 'chdb') });
  const collector = await startCollectorProcess({
    dataDir: dir,
    env: {
      CLICKHOUSE_URL: storage.url,
      TALLYHOUSE_FLUSH_INTERVAL_MS: '250',
      TALLYHOUSE_LOG_LEVEL: 'info',
    },
  });
  const url = collector.metricsUrl;
  const apps = startStorageChaosApps(url, ['acme', 'globex', 'initech']);
  await sleep(2_000);
  await storage.setFault({ fault: { mode: 'unavailable' } });
  await sleep(OUTAGE_MS);
  await storage.setFault(undefined);
  await sleep(5_000);
  const tallies = await Promise.all(apps.map((app) => app.finish()));
  // Recovery: the exporter's backoff (up to 30 s) brings every retained part back to storage; wait for it.
  await waitForStorageDrain(url, 90_000);
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
  await storage.stop();
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
