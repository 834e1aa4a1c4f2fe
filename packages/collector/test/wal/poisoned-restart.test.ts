/**
 * No request can take the collector down, end to end: the real collector as a child process, with an apply
 * fault injected for one marked tenant (faulty-collector.ts: the stand-in for a merge bug a request's content
 * triggers). The poisoned request is answered and quarantined, the collector keeps serving, a SIGKILL +
 * restart (a replay of the same records, with the same bug) starts cleanly, and storage holds exactly the
 * other requests — plus, when the fault struck part-way, the points applied before it, once.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CollectorChild,
  FAULTY_COLLECTOR,
  freePort,
  killAllCollectors,
  postJson,
  readStoredTotals,
  startCollectorChild,
  sumRequest,
  totalsByKey,
  waitForOutput,
} from './collector-child.ts';
import { INJECTED_MESSAGE } from './faults.ts';

const roots: string[] = [];
afterAll(() => {
  killAllCollectors();
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function dataDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tallyhouse-poisoned-${name}-`));
  roots.push(dir);
  return dir;
}

// No flush before the kills: everything the restart holds comes from the replay.
const SLOW_FLUSH = { TALLYHOUSE_FLUSH_INTERVAL_MS: '600000', TALLYHOUSE_LOG_LEVEL: 'info' };
const BASE_NS = 1_700_000_000_000_000_000n;

function request(at: number, values: Record<string, number>): string {
  const time = BASE_NS + BigInt(at) * 1_000_000n;
  return sumRequest(
    Object.entries(values).map(([metric, value]) => ({
      metric,
      value,
      stream: 's',
      startNs: time - 1_000_000n,
      timeNs: time,
    })),
    1,
  );
}

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

function replayLine(collector: CollectorChild): Record<string, unknown> {
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
    const first = await startCollectorChild({ dataDir: dir, port, env, entry: FAULTY_COLLECTOR });
    expect((await postJson(first.url, 'acme', request(1, { requests: 3 }))).status).toBe(200);
    // Two metrics: the fault strikes after the first was applied.
    const poison = request(2, { 'applied-before-fault': 5, 'after-fault': 7 });
    expect(await postJson(first.url, 'poison', poison)).toMatchObject({ status: 200, body: '{}' });
    expect((await postJson(first.url, 'acme', request(3, { requests: 4 }))).status).toBe(200);

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
    expect(await waitForOutput(first, /"tenant":"poison".*"msg":"request quarantined/)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await first.kill();

    // The same records, the same bug: the start succeeds and treats the record as the live process did.
    const second = await startCollectorChild({ dataDir: dir, port, env, entry: FAULTY_COLLECTOR });
    expect(replayLine(second)).toMatchObject({ requests: 2, quarantined: 0, quarantinedEarlier: 1 });
    expect(quarantined(dir)).toEqual(files);
    expect(await quarantineCounter(port)).toEqual({});
    expect((await postJson(second.url, 'acme', request(4, { requests: 2 }))).status).toBe(200);
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
    const first = await startCollectorChild({ dataDir: dir, port, env: SLOW_FLUSH });
    expect((await postJson(first.url, 'acme', request(1, { requests: 3 }))).status).toBe(200);
    expect((await postJson(first.url, 'poison', request(2, { requests: 5 }))).status).toBe(200);
    await first.kill();

    const env = { ...SLOW_FLUSH, FAULT_TENANT: 'poison', FAULT: 'throw' };
    const second = await startCollectorChild({ dataDir: dir, port, env, entry: FAULTY_COLLECTOR });
    expect(replayLine(second)).toMatchObject({ requests: 1, quarantined: 1 });
    expect(await quarantineCounter(port)).toEqual({ replay: 1 });
    const files = quarantined(dir);
    expect(Object.keys(files)).toEqual(['wal-4.bin', 'wal-4.json']);
    expect((await postJson(second.url, 'acme', request(3, { requests: 4 }))).status).toBe(200);
    await second.kill();

    const third = await startCollectorChild({ dataDir: dir, port, env, entry: FAULTY_COLLECTOR });
    expect(replayLine(third)).toMatchObject({ requests: 2, quarantined: 0, quarantinedEarlier: 1 });
    expect(quarantined(dir)).toEqual(files);
    expect(await third.stop()).toBe(0);
    expect(totalsByKey(await readStoredTotals(dir))).toEqual({ 'acme/requests': 7 });
  }, 120_000);

  it('a record that kills the process while it is replayed (out of memory, say) is quarantined at the next start', async () => {
    const dir = dataDir('fatal');
    const port = await freePort();
    const first = await startCollectorChild({ dataDir: dir, port, env: SLOW_FLUSH });
    expect((await postJson(first.url, 'acme', request(1, { requests: 3 }))).status).toBe(200);
    expect((await postJson(first.url, 'doomed', request(2, { requests: 5 }))).status).toBe(200);
    await first.kill();

    const env = { ...SLOW_FLUSH, FAULT_TENANT: 'doomed', FAULT: 'kill' };
    // Dies replaying the record: no handler runs, nothing is logged about it.
    const dying = await startCollectorChild({
      dataDir: dir,
      port,
      env,
      entry: FAULTY_COLLECTOR,
      waitReady: false,
    });
    expect((await dying.exited).signal).toBe('SIGKILL');

    const next = await startCollectorChild({ dataDir: dir, port, env, entry: FAULTY_COLLECTOR });
    expect(next.output()).toMatch(/the last start died while replaying this request/);
    expect(replayLine(next)).toMatchObject({ requests: 1, quarantined: 1 });
    expect(Object.keys(quarantined(dir))).toEqual(['wal-4.bin', 'wal-4.json']);
    expect((await postJson(next.url, 'acme', request(3, { requests: 4 }))).status).toBe(200);
    expect(await next.stop()).toBe(0);
    expect(totalsByKey(await readStoredTotals(dir))).toEqual({ 'acme/requests': 7 });
  }, 120_000);
});
