/**
 * Quota counters are persisted as a snapshot plus a journal of the tenants changed per interval, so a persist
 * tick costs the event loop what changed, not what exists (200,000 tenants in a period in header mode made a
 * synchronous full rewrite per second cost ingest a third of its throughput). Figures are printed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { LimitPolicy } from '../src/limits/limit-policy.ts';
import type { QuotaUsage } from '../src/limits/quota.ts';
import { QuotaStore } from '../src/limits/quota-store.ts';
import { TenantLimiter } from '../src/limits/tenant-limiter.ts';
import { tempDir } from './support/temp-dirs.ts';

const dir = tempDir('quota-persistence');
const NOW = Date.parse('2025-06-10T00:00:00Z');
const MONTH_START = Date.parse('2025-06-01T00:00:00Z');
const TENANTS = 200_000;

const usage = (used: number): QuotaUsage => ({ period: 'month', periodStartMs: MONTH_START, used });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** CPU time (ms) of this thread — the event loop's — since `since`; file I/O runs on other threads. */
function loopCpuMs(since: NodeJS.CpuUsage): number {
  const used = process.threadCpuUsage(since);
  return (used.user + used.system) / 1000;
}

// A collection started by earlier allocations would be charged to whatever runs next: collect before measuring.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe('quota persistence cost follows the tenants changed', () => {
  it(`journals 10 changed tenants of ${TENANTS} for a small fraction of a full rewrite`, async () => {
    const dataDir = tempDir('quota-tick');
    const policy = new LimitPolicy({
      rate: undefined,
      quota: { points: 1_000_000, period: 'month', timeZone: 'UTC' },
    });
    const limiter = new TenantLimiter(policy, {
      store: new QuotaStore(dataDir),
      now: () => NOW,
      persistIntervalMs: 1e9, // ticks are driven by the test
    });
    limiter.start();
    for (let i = 0; i < TENANTS; i++) limiter.admit(`tenant-${i}`, 1 + (i % 100));
    await limiter.persist(); // all of them changed once: journaled

    // A tick's work on the event loop: the CPU time of this thread from its start until its writes are done.
    const ticks: number[] = [];
    for (let run = 0; run < 11; run++) {
      for (let i = 0; i < 10; i++) limiter.admit(`tenant-${(run * 7919 + i * 104_729) % TENANTS}`, 1);
      collectGarbage();
      const started = process.threadCpuUsage();
      await limiter.persist();
      ticks.push(loopCpuMs(started));
    }
    // The full rewrite, as every tick did before (serialise all, write, fsync, rename), on the same counters.
    const entries: [string, QuotaUsage][] = Array.from({ length: TENANTS }, (_, i) => [
      `tenant-${i}`,
      usage(1 + (i % 100)),
    ]);
    const fullCpu: number[] = [];
    const fullWall: number[] = [];
    for (let run = 0; run < 3; run++) {
      const store = new QuotaStore(tempDir('quota-full'));
      collectGarbage();
      const cpu = process.threadCpuUsage();
      const wall = performance.now();
      store.rewriteSync(entries);
      fullWall.push(performance.now() - wall);
      fullCpu.push(loopCpuMs(cpu));
      await store.close();
    }
    const fullRewriteMs = median(fullCpu);
    const tickMs = median(ticks);
    const ratio = tickMs / fullRewriteMs;
    console.log(
      `quota persistence, ${TENANTS} tenants: full rewrite ${fullRewriteMs.toFixed(1)} ms CPU ` +
        `(${median(fullWall).toFixed(1)} ms wall, all of it holding the event loop); tick with 10 changed: ` +
        `${tickMs.toFixed(3)} ms CPU on the event loop (median of 11; min ${Math.min(...ticks).toFixed(3)}, ` +
        `max ${Math.max(...ticks).toFixed(3)}) — ratio ${ratio.toFixed(4)}`,
    );
    expect(ratio).toBeLessThan(0.05);
    await limiter.stop();

    // And the journal is right: a restart sees every counter.
    const restarted = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now: () => NOW });
    const loadStarted = performance.now();
    restarted.start();
    console.log(
      `restart with ${TENANTS} tenants (load + rewrite): ${(performance.now() - loadStarted).toFixed(0)} ms`,
    );
    expect(restarted.quotaUsage('tenant-0')?.used).toBe(1 + 1); // 1, then +1 in run 0 (i = 0)
    expect(restarted.quotaUsage('tenant-199999')?.used).toBe(100);
    await restarted.stop();
  }, 120_000);

  it('rewrites in the background in slices, the event loop never held for long, while changes keep coming', async () => {
    const live = new Map<string, QuotaUsage>();
    for (let i = 0; i < TENANTS; i++) live.set(`tenant-${i}`, usage(i % 1000));
    const dataDir = tempDir('quota-background');
    const store = new QuotaStore(dataDir);
    store.load();
    collectGarbage();
    const syncStarted = process.threadCpuUsage();
    store.rewriteSync(live);
    const fullRewriteMs = loopCpuMs(syncStarted);
    collectGarbage();

    let done = false;
    const compaction = store.compact(live).finally(() => {
      done = true;
    });
    // Meanwhile: a probe measures the CPU time of each event-loop turn…
    const gaps: number[] = [];
    const probe = (async () => {
      while (!done) {
        const started = process.threadCpuUsage();
        await nextTurn();
        gaps.push(loopCpuMs(started));
      }
    })();
    // …and requests change counters (existing tenants and new ones), each change journaled.
    let turn = 0;
    while (!done) {
      const tenant = `tenant-${(turn++ * 7919) % TENANTS}`;
      live.set(tenant, usage(live.get(tenant)!.used + 1));
      live.set(`new-${turn}`, usage(turn));
      await store.append([
        [tenant, live.get(tenant)!],
        [`new-${turn}`, live.get(`new-${turn}`)!],
      ]);
    }
    await compaction;
    await probe;
    const longest = Math.max(...gaps);
    console.log(
      `background rewrite of ${TENANTS} tenants (${turn} journal appends meanwhile): ${gaps.length} event-loop ` +
        `turns, the longest ${longest.toFixed(1)} ms CPU (median ${median(gaps).toFixed(2)} ms) vs ` +
        `${fullRewriteMs.toFixed(1)} ms CPU for the synchronous rewrite`,
    );
    expect(longest).toBeLessThan(fullRewriteMs / 2);
    await store.close();

    const loaded = new QuotaStore(dataDir).load();
    expect(loaded.problems).toEqual([]);
    expect(loaded.usage).toEqual(live);
  }, 120_000);

  it('loses nothing when a background rewrite is abandoned at shutdown: the old snapshot and both journals replay', async () => {
    const dataDir = join(dir, 'abandoned');
    const live = new Map<string, QuotaUsage>();
    for (let i = 0; i < 100_000; i++) live.set(`tenant-${i}`, usage(i));
    const store = new QuotaStore(dataDir);
    store.load();
    store.rewriteSync(live);
    live.set('tenant-1', usage(1_001));
    await store.append([['tenant-1', live.get('tenant-1')!]]);
    const compaction = store.compact(live);
    live.set('__proto__', usage(5));
    await store.append([['__proto__', live.get('__proto__')!]]);
    await store.close();
    await compaction;
    // Abandoned: generation 1's snapshot and journal are still there, next to generation 2's journal.
    expect(existsSync(store.journalPath(1))).toBe(true);
    expect(existsSync(store.journalPath(2))).toBe(true);
    const loaded = new QuotaStore(dataDir).load();
    expect(loaded.problems).toEqual([]);
    expect(loaded.usage).toEqual(live);
  });
});
