/**
 * No request can take the collector down, end to end: the real collector as a child process, with an apply
 * fault injected for one marked tenant (fault-preload.ts: the stand-in for a merge bug a request's content
 * triggers). The poisoned request is answered and quarantined, the collector keeps serving, a SIGKILL +
 * restart (a replay of the same records, with the same bug) starts cleanly, and storage holds exactly the
 * other requests — plus, when the fault struck part-way, the points applied before it, once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CollectorProcess, freePort, startCollectorProcess } from '../support/collector-process.ts';
import { postJson } from '../support/http-client.ts';
import { killStrayProcesses } from '../support/node-process.ts';
import { readStoredTotals, totalsByKey } from '../support/stored-in-child.ts';
import { deltaSums } from '../support/sum-requests.ts';
import { tempDirsRemovedAfterAll } from '../support/temp-dirs.ts';
import { FAULT_PRELOAD, INJECTED_MESSAGE } from './faults.ts';

const tempDir = tempDirsRemovedAfterAll();
afterAll(killStrayProcesses);

const dataDir = (name: string) => tempDir(`poisoned-${name}`);
// No flush before the kills: everything the restart holds comes from the replay.
const SLOW_FLUSH = { TALLYHOUSE_FLUSH_INTERVAL_MS: '600000', TALLYHOUSE_LOG_LEVEL: 'info' };

/** File name → content of `<dataDir>/quarantine`. */
function quarantined(dir: string): Record<string, string> {
  const path = join(dir, 'quarantine');
  return Object.fromEntries(
    readdirSync(path)
      .sort()
      .map((name) => [name, readFileSync(join(path, name), 'base64')]),
  );
}

/** The quarantine counter's samples, e.g. `{ apply: 1 }`; none until something is quarantined. */
async function quarantineCounter(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples: Record<string, number> = {};
  for (const match of text.matchAll(/^tallyhouse_quarantined_requests_total\{stage="(\w+)"\} (\d+)$/gm))
    samples[match[1]!] = Number(match[2]);
  return samples;
}

function replayLine(collector: CollectorProcess): Record<string, unknown> {
  const line = collector
    .output()
    .split('\n')
    .find((l) => l.includes('write-ahead log replayed'));
  return JSON.parse(line ?? '{}');
}

describe('a poisoned request', () => {
  it('a record whose apply throws is quarantined and the collector keeps serving; a SIGKILL + restart treats it the same, everything else exact', async () => {
    const dir = dataDir('live');
    const port = await freePort();
    const env = { ...SLOW_FLUSH, FAULT_TENANT: 'poison', FAULT: 'partial' };
    const first = await startCollectorProcess({ dataDir: dir, port, env, preload: [FAULT_PRELOAD] });
    expect((await postJson(first.metricsUrl, 'acme', deltaSums(1, { requests: 3 }))).status).toBe(200);
    // Two metrics: the fault strikes after the first was applied.
    const poison = deltaSums(2, { 'applied-before-fault': 5, 'after-fault': 7 });
    expect(await postJson(first.metricsUrl, 'poison', poison)).toMatchObject({ status: 200, body: '{}' });
    expect((await postJson(first.metricsUrl, 'acme', deltaSums(3, { requests: 4 }))).status).toBe(200);

    expect(await quarantineCounter(port)).toEqual({ apply: 1 });
    const files = quarantined(dir);
    expect(Object.keys(files)).toEqual(['wal-4.bin', 'wal-4.json']);
    const note = JSON.parse(Buffer.from(files['wal-4.json']!, 'base64').toString());
    expect(note).toMatchObject({
      tenant: 'poison',
      lsn: '4',
      stage: 'apply',
      error: { message: INJECTED_MESSAGE },
    });
    expect(Buffer.from(files['wal-4.bin']!, 'base64').toString()).toContain(poison);
    expect(await first.waitForOutput(/"tenant":"poison".*"msg":"request quarantined/)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await first.kill();

    // The same records, the same bug: the start succeeds and treats the record as the live process did.
    const second = await startCollectorProcess({ dataDir: dir, port, env, preload: [FAULT_PRELOAD] });
    expect(replayLine(second)).toMatchObject({ requests: 2, quarantined: 0, quarantinedEarlier: 1 });
    expect(quarantined(dir)).toEqual(files);
    expect(await quarantineCounter(port)).toEqual({});
    expect((await postJson(second.metricsUrl, 'acme', deltaSums(4, { requests: 2 }))).status).toBe(200);
    expect(await second.stop()).toBe(0);

    // The points applied before the throw count once (live, and again after the replay: the same state).
    expect(totalsByKey(await readStoredTotals(dir))).toEqual({
      'acme/requests': 9,
      'poison/applied-before-fault': 5,
    });
  }, 120_000);

  it('a restart never fails on a poisoned record (one the live process applied, that the replay throws on)', async () => {
    const dir = dataDir('replay');
    const port = await freePort();
    // A version without the bug acknowledged and applied it; the version that restarts has the bug.
    const first = await startCollectorProcess({ dataDir: dir, port, env: SLOW_FLUSH });
    expect((await postJson(first.metricsUrl, 'acme', deltaSums(1, { requests: 3 }))).status).toBe(200);
    expect((await postJson(first.metricsUrl, 'poison', deltaSums(2, { requests: 5 }))).status).toBe(200);
    await first.kill();

    const env = { ...SLOW_FLUSH, FAULT_TENANT: 'poison', FAULT: 'throw' };
    const second = await startCollectorProcess({ dataDir: dir, port, env, preload: [FAULT_PRELOAD] });
    expect(replayLine(second)).toMatchObject({ requests: 1, quarantined: 1 });
    expect(await quarantineCounter(port)).toEqual({ replay: 1 });
    const files = quarantined(dir);
    expect(Object.keys(files)).toEqual(['wal-4.bin', 'wal-4.json']);
    expect((await postJson(second.metricsUrl, 'acme', deltaSums(3, { requests: 4 }))).status).toBe(200);
    await second.kill();

    const third = await startCollectorProcess({ dataDir: dir, port, env, preload: [FAULT_PRELOAD] });
    expect(replayLine(third)).toMatchObject({ requests: 2, quarantined: 0, quarantinedEarlier: 1 });
    expect(quarantined(dir)).toEqual(files);
    expect(await third.stop()).toBe(0);
    expect(totalsByKey(await readStoredTotals(dir))).toEqual({ 'acme/requests': 7 });
  }, 120_000);

  it('a record that kills the process while it is replayed (out of memory, say) is quarantined at the next start', async () => {
    const dir = dataDir('fatal');
    const port = await freePort();
    const first = await startCollectorProcess({ dataDir: dir, port, env: SLOW_FLUSH });
    expect((await postJson(first.metricsUrl, 'acme', deltaSums(1, { requests: 3 }))).status).toBe(200);
    expect((await postJson(first.metricsUrl, 'doomed', deltaSums(2, { requests: 5 }))).status).toBe(200);
    await first.kill();

    const env = { ...SLOW_FLUSH, FAULT_TENANT: 'doomed', FAULT: 'kill' };
    // Dies replaying the record: no handler runs, nothing is logged about it.
    const dying = await startCollectorProcess({
      dataDir: dir,
      port,
      env,
      preload: [FAULT_PRELOAD],
      wait: 'none',
    });
    expect((await dying.exited).signal).toBe('SIGKILL');

    const next = await startCollectorProcess({ dataDir: dir, port, env, preload: [FAULT_PRELOAD] });
    expect(next.output()).toMatch(/the last start died while replaying this request/);
    expect(replayLine(next)).toMatchObject({ requests: 1, quarantined: 1 });
    expect(Object.keys(quarantined(dir))).toEqual(['wal-4.bin', 'wal-4.json']);
    expect((await postJson(next.metricsUrl, 'acme', deltaSums(3, { requests: 4 }))).status).toBe(200);
    expect(await next.stop()).toBe(0);
    expect(totalsByKey(await readStoredTotals(dir))).toEqual({ 'acme/requests': 7 });
  }, 120_000);
});
