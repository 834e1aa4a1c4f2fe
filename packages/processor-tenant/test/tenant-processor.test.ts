import { ConfigError, type InputBatch, type InputMetric } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { BufferFullError, FlushFailedError, ProcessorShutdownError, TenantProcessor } from '../src/index.ts';
import { CollectingConsumer } from './collecting-consumer.ts';

const T0 = 1_700_000_000_000_000_000n;

function sums(
  points: {
    tenant: string;
    attributes?: Record<string, string>;
    value: number;
    name?: string;
    time?: bigint;
  }[],
): InputBatch {
  const metrics: InputMetric[] = points.map((p) => ({
    metric: { name: p.name ?? 'requests', description: '', unit: '1', kind: 'sum', monotonic: true },
    temporality: 'delta',
    points: [
      {
        attributes: { 'tenant.id': p.tenant, ...p.attributes },
        startTimeUnixNano: T0,
        timeUnixNano: p.time ?? T0 + 1_000n,
        value: { value: p.value },
      },
    ],
  }));
  return {
    resourceMetrics: [
      { resource: { 'service.name': 'svc' }, scopeMetrics: [{ scope: { name: 's', version: '' }, metrics }] },
    ],
  };
}

function manualClock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TenantProcessor flushing', () => {
  it('hands buffered series to the next stage and empties the buffer', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    processor.consume(
      sums([
        { tenant: 'a', value: 1 },
        { tenant: 'a', value: 2 },
        { tenant: 'b', value: 5 },
      ]),
    );
    expect(processor.count()).toBe(2);
    const report = await processor.flush();
    expect(report).toEqual({ sent: 2, retained: 0, errors: [] });
    expect(processor.count()).toBe(0);
    expect(next.sumsByTenant()).toEqual({ a: 3, b: 5 });
  });

  it('keeps a failed batch and merges it with newer data for the same series, counting it once', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    processor.consume(sums([{ tenant: 'a', value: 10 }]));
    next.failNext = 1;
    const failed = await processor.flush();
    expect(failed.retained).toBe(1);
    expect(processor.count()).toBe(1);
    processor.consume(sums([{ tenant: 'a', value: 5 }]));
    expect(processor.count()).toBe(1);
    await processor.flush();
    expect(next.sumsByTenant()).toEqual({ a: 15 });
    expect(processor.stats().restoredPoints).toBe(1);
  });

  it('keeps exactly the part of a batch that failed', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    processor.consume(
      sums([
        { tenant: 'a', value: 1 },
        { tenant: 'b', value: 2 },
        { tenant: 'c', value: 3 },
      ]),
    );
    next.failWhere = (point) => point.tenant === 'b';
    const report = await processor.flush();
    expect(report.retained).toBe(1);
    expect(next.sumsByTenant()).toEqual({ a: 1, c: 3 });
    next.failWhere = undefined;
    await processor.flush();
    expect(next.sumsByTenant()).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('restarts the flush clock only when a flush hands off everything', async () => {
    const clock = manualClock();
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false, now: clock.now });
    processor.consume(sums([{ tenant: 'a', value: 1 }]));
    clock.advance(10_000);
    next.failNext = 1;
    await processor.flush();
    clock.advance(5_000);
    expect(processor.elapsedSinceDrainedMs()).toBe(15_000);
    await processor.flush();
    expect(processor.elapsedSinceDrainedMs()).toBe(0);
  });

  it('accepts data arriving while a flush is in flight and sends it with the next flush', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    let release!: () => void;
    next.gate = new Promise((resolve) => (release = resolve));
    processor.consume(sums([{ tenant: 'a', value: 1 }]));
    const first = processor.flush();
    processor.consume(sums([{ tenant: 'a', value: 2 }]));
    expect(processor.flush()).toBe(first);
    expect(processor.count()).toBe(2);
    release();
    next.gate = undefined;
    await first;
    expect(next.sumsByTenant()).toEqual({ a: 1 });
    await processor.forceFlush();
    expect(next.sumsByTenant()).toEqual({ a: 3 });
  });

  it('merges a failed in-flight batch back under data that arrived meanwhile (gauge tie keeps the later arrival)', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    const gauge = (value: number): InputBatch => ({
      resourceMetrics: [
        {
          resource: {},
          scopeMetrics: [
            {
              scope: { name: 's', version: '' },
              metrics: [
                {
                  metric: { name: 'temp', description: '', unit: '', kind: 'gauge', monotonic: false },
                  temporality: 'delta',
                  points: [
                    {
                      attributes: { 'tenant.id': 't' },
                      startTimeUnixNano: 0n,
                      timeUnixNano: T0,
                      value: { value },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    let release!: () => void;
    next.gate = new Promise((resolve) => (release = resolve));
    next.failNext = 1;
    processor.consume(gauge(1));
    const flushing = processor.flush();
    processor.consume(gauge(2));
    release();
    next.gate = undefined;
    await flushing;
    await processor.flush();
    expect(next.points().map((p) => p.value)).toEqual([{ value: 2 }]);
  });

  it('flushes on its own once flushMaxSeries series are buffered', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false, flushMaxSeries: 3 });
    processor.consume(
      sums([
        { tenant: 'a', value: 1 },
        { tenant: 'b', value: 1 },
      ]),
    );
    expect(next.batches).toHaveLength(0);
    processor.consume(sums([{ tenant: 'c', value: 1 }]));
    await processor.flush();
    expect(next.sumsByTenant()).toEqual({ a: 1, b: 1, c: 1 });
  });

  it('flushes every flushIntervalMs', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, flushIntervalMs: 20 });
    processor.consume(sums([{ tenant: 'a', value: 4 }]));
    await expect.poll(() => next.sumsByTenant(), { timeout: 5_000, interval: 10 }).toEqual({ a: 4 });
    await processor.shutdown();
  });

  it('splits a flush into batches per point kind of at most maxBatchPoints points with distinct ids', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false, maxBatchPoints: 2 });
    processor.consume(sums(['a', 'b', 'c', 'd', 'e'].map((tenant) => ({ tenant, value: 1 }))));
    await processor.flush();
    expect(next.batches.map((b) => b.points.length)).toEqual([2, 2, 1]);
    expect(new Set(next.batches.map((b) => b.id)).size).toBe(3);
  });
});

describe('TenantProcessor bounds', () => {
  it('folds series beyond the per-tenant cap into one overflow series, keeping totals exact', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false, maxSeriesPerTenant: 2 });
    processor.consume(
      sums([1, 2, 3, 4].map((n) => ({ tenant: 'a', attributes: { user: `u${n}` }, value: n }))),
    );
    processor.consume(sums([{ tenant: 'b', attributes: { user: 'u1' }, value: 100 }]));
    await processor.flush();
    expect(next.sumsByTenant()).toEqual({ a: 10, b: 100 });
    const overflow = next.points().filter((p) => p.attributes['otel.metric.overflow'] === true);
    expect(overflow).toHaveLength(1);
    expect(overflow[0]!.value).toEqual({ value: 7 });
    expect(processor.stats().overflowFolds).toBe(2);
  });

  it('refuses a whole input with BufferFullError above the global cap and applies none of it', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false, maxBufferedSeries: 3 });
    processor.consume(
      sums([
        { tenant: 'a', value: 1 },
        { tenant: 'b', value: 1 },
      ]),
    );
    expect(() =>
      processor.consume(
        sums([
          { tenant: 'a', value: 1 },
          { tenant: 'c', value: 1 },
          { tenant: 'd', value: 1 },
        ]),
      ),
    ).toThrow(BufferFullError);
    // Merging into existing series needs no room and is still accepted.
    processor.consume(sums([{ tenant: 'a', value: 1 }]));
    const stats = processor.stats();
    expect(stats.refusedBatches).toBe(1);
    expect(stats.refusedPoints).toBe(3);
    await processor.flush();
    expect(next.sumsByTenant()).toEqual({ a: 2, b: 1 });
  });

  it('counts in-flight series against the global cap', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false, maxBufferedSeries: 1 });
    let release!: () => void;
    next.gate = new Promise((resolve) => (release = resolve));
    processor.consume(sums([{ tenant: 'a', value: 1 }]));
    const flushing = processor.flush();
    expect(() => processor.consume(sums([{ tenant: 'b', value: 1 }]))).toThrow(BufferFullError);
    release();
    await flushing;
    processor.consume(sums([{ tenant: 'b', value: 1 }]));
  });
});

describe('TenantProcessor lifecycle and config', () => {
  it('drains on shutdown, retrying a failing next stage, and refuses data afterwards', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    processor.consume(sums([{ tenant: 'a', value: 3 }]));
    next.failNext = 2;
    await processor.shutdown();
    expect(next.sumsByTenant()).toEqual({ a: 3 });
    expect(() => processor.consume(sums([{ tenant: 'a', value: 1 }]))).toThrow(ProcessorShutdownError);
  });

  it('reports what it could not write when shutdown runs out of time', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false, shutdownTimeoutMs: 300 });
    processor.consume(sums([{ tenant: 'a', value: 3 }]));
    next.failNext = 1_000;
    await expect(processor.shutdown()).rejects.toThrow(FlushFailedError);
    expect(processor.count()).toBe(1);
  });

  it('forceFlush rejects while the next stage fails, keeping the data', async () => {
    const next = new CollectingConsumer();
    const processor = new TenantProcessor({ next, autoFlush: false });
    processor.consume(sums([{ tenant: 'a', value: 3 }]));
    next.failNext = 1;
    await expect(processor.forceFlush()).rejects.toThrow(/1 points could not be handed/);
    await processor.forceFlush();
    expect(next.sumsByTenant()).toEqual({ a: 3 });
  });

  it('reads flush settings from the environment and names a bad variable', () => {
    const env = { TALLYHOUSE_FLUSH_INTERVAL_MS: 'soon' };
    const original = process.env.TALLYHOUSE_FLUSH_INTERVAL_MS;
    process.env.TALLYHOUSE_FLUSH_INTERVAL_MS = env.TALLYHOUSE_FLUSH_INTERVAL_MS;
    try {
      expect(() => new TenantProcessor({ next: new CollectingConsumer(), autoFlush: false })).toThrow(
        /TALLYHOUSE_FLUSH_INTERVAL_MS: expected a positive integer, got "soon"/,
      );
      expect(
        () => new TenantProcessor({ next: new CollectingConsumer(), autoFlush: false, flushIntervalMs: 0 }),
      ).toThrow(ConfigError);
    } finally {
      if (original === undefined) delete process.env.TALLYHOUSE_FLUSH_INTERVAL_MS;
      else process.env.TALLYHOUSE_FLUSH_INTERVAL_MS = original;
    }
  });

  it('refuses an exponential bucket limit below 2, which no histogram could always fit', () => {
    expect(
      () =>
        new TenantProcessor({ next: new CollectingConsumer(), autoFlush: false, maxExponentialBuckets: 1 }),
    ).toThrow(/maxExponentialBuckets: must be at least 2, got 1/);
  });
});
