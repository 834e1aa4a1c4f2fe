/**
 * Chaos (b): storage answers 503 to everything for CHAOS_OUTAGE_MS (default 60 s, as in the issue) while real
 * OTel SDK apps keep exporting; then it comes back. Storage is the exporter's ClickHouse-HTTP facade over chDB
 * in its own process (`CLICKHOUSE_URL` points the collector at it). After recovery and a clean stop, the totals
 * must equal exactly what the apps got a 200 for: zero loss, zero duplicates.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import {
  freePort,
  killAllCollectors,
  readStoredTotals,
  startCollectorChild,
  totalsByKey,
} from '../../packages/collector/test/wal/collector-child.ts';
import { expectedTotals, killAllApps, sleep, startTallyingApp } from './support.ts';

const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_MS ?? 60_000);
const FACADE = fileURLToPath(new URL('./facade-process.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tallyhouse-chaos-outage-'));
let facade: ChildProcess | undefined;

afterAll(() => {
  killAllApps();
  killAllCollectors();
  if (facade?.exitCode === null) facade.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startFacade(): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  // `<dir>/chdb` is where an embedded collector would keep it, so the read-back below finds it.
  const child = spawn(process.execPath, ['--conditions=@tallyhouse/source', FACADE, join(dir, 'chdb')], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`facade did not start:\n${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const port = /listening (\d+)/.exec(output)?.[1];
      if (port !== undefined) {
        clearTimeout(timer);
        resolve({ child, port: Number(port), output: () => output });
      }
    });
  });
}

it(`storage down for ${OUTAGE_MS / 1000} s during ingestion: zero loss, zero duplicates after recovery`, async () => {
  const started = performance.now();
  const storage = await startFacade();
  facade = storage.child;
  const port = await freePort();
  const collector = await startCollectorChild({
    dataDir: dir,
    port,
    env: {
      CLICKHOUSE_URL: `http://127.0.0.1:${storage.port}`,
      TALLYHOUSE_FLUSH_INTERVAL_MS: '250',
      TALLYHOUSE_LOG_LEVEL: 'info',
    },
  });
  const url = collector.url;
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
  storage.child.stdin?.write('down\n');
  await sleep(OUTAGE_MS);
  storage.child.stdin?.write('up\n');
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
  storage.child.kill('SIGTERM');
  await new Promise((resolve) => storage.child.once('exit', resolve));
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
