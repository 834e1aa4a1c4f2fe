/**
 * Chaos (c): a ClickHouse server that misbehaves the ways servers do, while real OTel SDK apps keep exporting
 * through a collector: storage is the real engine behind the test HTTP endpoint in its own process
 * (`CLICKHOUSE_URL`), and its fault switch takes it through, one after another,
 *
 *   TOO_MANY_PARTS on every insert → MEMORY_LIMIT_EXCEEDED on every insert → inserts applied but never answered
 *   (the exporter times out and re-sends: the dedup token must hold) → inserts stalled past the exporter's timeout
 *   (never applied) → the storage process SIGKILLed mid-ingestion and restarted on its port.
 *
 * After recovery and a clean stop, the totals read from the server must equal exactly what the apps got a 200
 * for: the exporter classified every fault as retryable, kept the rows, and no retry counted twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { EndpointProcess, type FaultSetting } from '@tallyhouse/clickhouse-http-endpoint';
import { afterAll, expect, it } from 'vitest';
import { startCollectorProcess } from '../../packages/collector/test/support/collector-process.ts';
import { killStrayProcesses } from '../../packages/collector/test/support/node-process.ts';
import { readStoredTotals, totalsByKey } from '../../packages/collector/test/support/stored-in-child.ts';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { expectedTotals, startStorageChaosApps, waitForStorageDrain } from './support.ts';

const PHASE_MS = 3_000;
const REQUEST_TIMEOUT_MS = 1_500;
const tempDir = tempDirsRemovedAfterAll();
let storage: EndpointProcess | undefined;
afterAll(async () => {
  await storage?.stop();
  await killStrayProcesses();
});

const insertsOnly = (fault: FaultSetting['fault'], count?: number): FaultSetting => ({
  fault,
  statements: 'insert',
  ...(count === undefined ? {} : { count }),
});

it('storage answering errors, stalling, losing answers and dying mid-ingestion: totals exact after recovery', async () => {
  const credentials = { username: 'tallyhouse', password: 'chaos' };
  storage = await EndpointProcess.start({
    dataDir: tempDir('chaos-faults-store'),
    user: 'tallyhouse',
    password: 'chaos',
  });
  const dataDir = tempDir('chaos-faults');
  const collector = await startCollectorProcess({
    dataDir,
    env: {
      CLICKHOUSE_URL: storage.url,
      CLICKHOUSE_USER: credentials.username,
      CLICKHOUSE_PASSWORD: credentials.password,
      TALLYHOUSE_FLUSH_INTERVAL_MS: '250',
      TALLYHOUSE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      TALLYHOUSE_RETRY_MAX_MS: '2000',
      TALLYHOUSE_LOG_LEVEL: 'info',
    },
  });
  const url = collector.metricsUrl;
  const apps = startStorageChaosApps(url, ['acme', 'globex', '0']);
  const phases: [string, () => Promise<unknown>][] = [
    [
      'TOO_MANY_PARTS',
      () =>
        storage!.setFault(
          insertsOnly({ mode: 'error', code: 252, type: 'TOO_MANY_PARTS', message: 'Too many parts (3001)' }),
        ),
    ],
    [
      'MEMORY_LIMIT_EXCEEDED',
      () =>
        storage!.setFault(
          insertsOnly({
            mode: 'error',
            code: 241,
            type: 'MEMORY_LIMIT_EXCEEDED',
            message: 'Memory limit (total) exceeded',
          }),
        ),
    ],
    ['applied, answer lost', () => storage!.setFault(insertsOnly({ mode: 'apply-then-stall' }, 4))],
    [
      'stalled past the timeout',
      () => storage!.setFault(insertsOnly({ mode: 'stall', ms: REQUEST_TIMEOUT_MS * 3 }, 4)),
    ],
    ['killed mid-ingestion', () => storage!.kill()],
  ];
  await sleep(1_500);
  // Requests that met each phase's fault (the endpoint's counters restart with its process).
  const faulted: Record<string, number> = {};
  for (const [name, start] of phases) {
    await start();
    await sleep(PHASE_MS);
    if (storage.running) {
      const { faultsApplied } = await storage.setFault(undefined);
      faulted[name] =
        Object.values(faultsApplied).reduce((a, b) => a + b, 0) -
        Object.values(faulted).reduce((a, b) => a + b, 0);
    } else {
      await storage.restart();
    }
    await sleep(1_000);
  }
  const tallies = await Promise.all(apps.map((app) => app.finish()));
  await waitForStorageDrain(url, 60_000);
  const code = await collector.stop();
  if (code !== 0) console.log(collector.output().split('\n').slice(-10).join('\n'));
  expect(code).toBe(0);

  const stored = totalsByKey(await readStoredTotals(dataDir, { url: storage.url, ...credentials }));
  const expected = expectedTotals(tallies);
  console.log(
    `chaos storage-faults summary ${JSON.stringify({
      faultsApplied: faulted,
      exports: tallies.reduce((n, t) => n + t.stats.exports, 0),
      acknowledged: tallies.reduce((n, t) => n + t.stats.succeeded, 0),
      expected,
      stored,
    })}`,
  );
  // Every fault met the exporter (the apps' requests kept being acknowledged through all of them).
  // Every phase's fault met the exporter's inserts (the lost-answer and stall phases cover up to 4 each).
  expect(Object.keys(faulted).sort()).toEqual(
    phases
      .slice(0, 4)
      .map(([name]) => name)
      .sort(),
  );
  for (const [name, count] of Object.entries(faulted)) expect(count, name).toBeGreaterThan(0);
  expect(Object.keys(expected)).toHaveLength(3);
  expect(stored).toEqual(expected);
});
