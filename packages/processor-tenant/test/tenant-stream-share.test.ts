import { ConfigError, type InputBatch } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { Accumulator } from '../src/accumulator.ts';
import { type AccumulatorOptions, BufferFullError, resolveAccumulatorOptions } from '../src/index.ts';
import { batch, CHECKOUT, inputMetric, REQUESTS, sumPoint } from './helpers/builders.ts';

// One tenant sending many new cumulative series must not use up the process-wide `maxTrackedStreams` and
// get every other tenant's new streams refused: past its own share only its new streams are rejected.

/** One cumulative point per stream id, all of `tenant`, in one input. */
function cumulative(tenant: string, ids: readonly (string | number)[], time = 10n, value = 1): InputBatch {
  return batch(CHECKOUT, [
    inputMetric(
      REQUESTS,
      'cumulative',
      ids.map((id) => sumPoint({ 'tenant.id': tenant, stream: String(id) }, 0n, time, value)),
    ),
  ]);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function accumulator(options: AccumulatorOptions = {}) {
  let now = 0;
  const acc = new Accumulator({
    maxTrackedStreams: 100,
    maxTrackedStreamsPerTenant: 3,
    streamStalenessMs: 1_000,
    now: () => now,
    ...options,
  });
  return { acc, advance: (ms: number) => (now += ms) };
}

describe('per-tenant share of tracked cumulative streams', () => {
  it("rejects a tenant's new streams past its share and reports them; other tenants' new streams are accepted", () => {
    const { acc } = accumulator();
    const a = acc.consume(cumulative('a', range(0, 5)));
    expect(a).toMatchObject({
      acceptedPoints: 3,
      rejectedPoints: 2,
      rejectedByReason: { tenant_stream_limit: 2 },
    });
    expect(a.rejectionMessages).toHaveLength(1);
    expect(a.rejectionMessages[0]).toMatch(/tenant "a" holds its share/);
    expect(a.rejectionMessages[0]).toMatch(/maxTrackedStreamsPerTenant=3/);
    expect(a.rejectionMessages[0]).toMatch(/TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT/);

    const b = acc.consume(cumulative('b', range(0, 3)));
    expect(b).toMatchObject({ acceptedPoints: 3, rejectedPoints: 0 });
    expect(acc.stats()).toMatchObject({ trackedStreams: 6, rejectedPoints: { tenant_stream_limit: 2 } });
    expect([acc.trackedStreamsOf('a'), acc.trackedStreamsOf('b')]).toStrictEqual([3, 3]);
  });

  it("keeps accepting a full tenant's points of streams it already tracks", () => {
    const { acc } = accumulator();
    acc.consume(cumulative('a', range(0, 3), 10n, 1));
    const report = acc.consume(cumulative('a', [0, 1, 2, 'new'], 20n, 5));
    expect(report).toMatchObject({ acceptedPoints: 3, rejectedByReason: { tenant_stream_limit: 1 } });
    const deltas = acc.take().map((p) => (p.value as { value: number }).value);
    // Each tracked stream counted 1 in full, then the change of 4.
    expect(deltas).toStrictEqual([5, 5, 5]);
  });

  it("eviction of a tenant's silent streams frees its share", () => {
    const { acc, advance } = accumulator();
    acc.consume(cumulative('a', range(0, 3)));
    expect(acc.consume(cumulative('a', [3])).rejectedPoints).toBe(1);
    advance(2_000);
    expect(acc.evictStaleStreams()).toBe(3);
    expect(acc.trackedStreamsOf('a')).toBe(0);
    expect(acc.consume(cumulative('a', [3, 4, 5, 6]))).toMatchObject({
      acceptedPoints: 3,
      rejectedPoints: 1,
    });
  });

  it('does not answer 503 for a request whose new streams its tenant share rejects anyway', () => {
    // The global cap would be passed by 20 new streams, but tenant a may add none of them.
    const { acc } = accumulator({ maxTrackedStreams: 10, maxTrackedStreamsPerTenant: 3 });
    acc.consume(cumulative('a', range(0, 3)));
    const flood = cumulative('a', range(100, 120));
    expect(() => acc.reserve(flood, {})).not.toThrow();
    expect(acc.consume(flood)).toMatchObject({ acceptedPoints: 0, rejectedPoints: 20 });
    // The global cap stays the last resort for what the shares let through.
    const { acc: small } = accumulator({ maxTrackedStreams: 4, maxTrackedStreamsPerTenant: 3 });
    small.consume(cumulative('a', range(0, 3)));
    expect(() => small.consume(cumulative('b', range(0, 3)))).toThrow(BufferFullError);
    expect(() => small.consume(cumulative('b', range(0, 3)))).toThrow(/maxTrackedStreams=4/);
  });

  it('assess reports exactly what consume then does, new streams of the input counting toward the share', () => {
    const { acc } = accumulator();
    const input = cumulative('a', [0, 1, 1, 2, 3, 3, 4]);
    const assessed = acc.assess(input, {});
    // Streams 0, 1, 2 take the share (the repeated 1 is not new); 3, 3 and 4 are refused.
    expect(assessed).toMatchObject({ acceptedPoints: 4, rejectedPoints: 3 });
    expect(acc.consume(input, {})).toStrictEqual(assessed);
    // The same decision without an assessment before it, and through the slow path near the global cap.
    const { acc: fresh } = accumulator();
    expect(fresh.consume(cumulative('a', [0, 1, 1, 2, 3, 3, 4]))).toStrictEqual(assessed);
    const { acc: nearCap } = accumulator({ maxTrackedStreams: 5 });
    expect(nearCap.consume(cumulative('a', [0, 1, 1, 2, 3, 3, 4]))).toStrictEqual(assessed);
  });

  it('applies what assess answered even when another request of the tenant was applied in between', () => {
    // A group commit of the collector's log assesses both requests before it applies either.
    const { acc } = accumulator();
    const first = cumulative('a', [0, 1]);
    const second = cumulative('a', [2, 3]);
    const request = { tenant: 'a' };
    const firstAnswer = acc.assess(first, request);
    const secondAnswer = acc.assess(second, request);
    expect([firstAnswer.rejectedPoints, secondAnswer.rejectedPoints]).toStrictEqual([0, 0]);
    expect(acc.consume(first, request, { force: true })).toStrictEqual(firstAnswer);
    expect(acc.consume(second, request, { force: true })).toStrictEqual(secondAnswer);
    expect(acc.trackedStreamsOf('a')).toBe(4);
    // Without an answer given (a replay of the log), the share decides at applying.
    expect(acc.consume(cumulative('a', [9]), request, { force: true }).rejectedPoints).toBe(1);
  });

  it('works for tenants named __proto__ and constructor', () => {
    const { acc } = accumulator();
    for (const tenant of ['__proto__', 'constructor', 'hasOwnProperty']) {
      expect(acc.consume(cumulative(tenant, range(0, 4)))).toMatchObject({
        acceptedPoints: 3,
        rejectedPoints: 1,
      });
      expect(acc.trackedStreamsOf(tenant)).toBe(3);
    }
    expect(acc.trackedStreamsOf('toString')).toBe(0);
    expect(acc.stats().trackedStreams).toBe(9);
  });

  it('a checkpoint of the streams carries each tenant, so a restart keeps the shares', () => {
    const { acc } = accumulator();
    acc.consume(cumulative('a', range(0, 3)));
    acc.consume(cumulative('__proto__', range(0, 2)));
    const checkpoint = JSON.parse(JSON.stringify(acc.snapshotStreams()));
    const { acc: restarted } = accumulator();
    restarted.restoreStreams(checkpoint);
    expect([restarted.trackedStreamsOf('a'), restarted.trackedStreamsOf('__proto__')]).toStrictEqual([3, 2]);
    expect(restarted.consume(cumulative('a', [7])).rejectedPoints).toBe(1);
    // Entries of an older checkpoint have no tenant: they count toward no share.
    restarted.restoreStreams(checkpoint.map(({ tenant: _, ...entry }: { tenant: string }) => entry));
    expect(restarted.trackedStreamsOf('a')).toBe(0);
  });

  it('never refuses delta input, whatever the share', () => {
    const { acc } = accumulator({ maxTrackedStreamsPerTenant: 1 });
    const deltas = batch(CHECKOUT, [
      inputMetric(
        REQUESTS,
        'delta',
        range(0, 5).map((id) => sumPoint({ 'tenant.id': 'a', id }, 0n, 1n, 1)),
      ),
    ]);
    expect(acc.consume(deltas)).toMatchObject({ acceptedPoints: 5, rejectedPoints: 0 });
  });
});

describe('maxTrackedStreamsPerTenant configuration', () => {
  it('defaults to a tenth of maxTrackedStreams', () => {
    expect(resolveAccumulatorOptions({}, {}).maxTrackedStreamsPerTenant).toBe(50_000);
    expect(
      resolveAccumulatorOptions({}, { TALLYHOUSE_MAX_TRACKED_STREAMS: '1000' }).maxTrackedStreamsPerTenant,
    ).toBe(100);
    expect(resolveAccumulatorOptions({ maxTrackedStreams: 5 }, {}).maxTrackedStreamsPerTenant).toBe(1);
  });

  it('reads TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT, and an option wins over it', () => {
    const env = { TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT: '250' };
    expect(resolveAccumulatorOptions({}, env).maxTrackedStreamsPerTenant).toBe(250);
    expect(resolveAccumulatorOptions({ maxTrackedStreamsPerTenant: 7 }, env).maxTrackedStreamsPerTenant).toBe(
      7,
    );
  });

  it('refuses a value that is not a positive integer, naming the variable', () => {
    for (const bad of ['0', '-5', '1.5', 'many']) {
      expect(() => resolveAccumulatorOptions({}, { TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT: bad })).toThrow(
        ConfigError,
      );
    }
    expect(() => resolveAccumulatorOptions({}, { TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT: '0' })).toThrow(
      /TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT/,
    );
  });
});
