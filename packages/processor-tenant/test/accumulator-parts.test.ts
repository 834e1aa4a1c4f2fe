// The accumulator's parts, each alone: admission, the stream store, the series buffer, the flight.
import type { Attributes } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { Admission, type PreparedPoint } from '../src/admission.ts';
import { BufferFullError } from '../src/errors.ts';
import { Flight } from '../src/flight.ts';
import type { MetricContext } from '../src/input-walk.ts';
import { ATTRIBUTION_WINDOW_NS, SeriesBuffer } from '../src/series-buffer.ts';
import { metricKey, OVERFLOW_ATTRIBUTES } from '../src/series-identity.ts';
import { StreamStore } from '../src/stream-store.ts';
import { CHECKOUT, REQUESTS, SCOPE, seriesPoint, TEMPERATURE } from './helpers/builders.ts';

function context(): MetricContext {
  return {
    slotKey: metricKey(CHECKOUT, REQUESTS),
    metric: REQUESTS,
    resource: CHECKOUT,
    scope: SCOPE,
    resourceSchemaUrl: '',
    description: '',
    streamPrefix: undefined,
    lastGroup: undefined,
  };
}

function sum(value: number, start = 0n, time = 10n) {
  return { startTimeUnixNano: start, timeUnixNano: time, value: { value } };
}

function prepared(tenant: string, newSeriesKey: string | undefined, streamKey?: string): PreparedPoint {
  return { context: context(), tenant, point: { attributes: {}, ...sum(1) }, newSeriesKey, streamKey };
}

describe('Admission', () => {
  const caps = { maxBufferedSeries: 3, maxTrackedStreams: 2, maxSeriesPerTenant: 2 };

  it('lets an input through at once only when even all-new points fit', () => {
    const admission = new Admission(caps, { heldSeries: () => 1, streams: new Set(['s']) });
    expect(admission.surelyFits(1)).toBe(true);
    expect(admission.surelyFits(2)).toBe(false);
  });

  it('refuses the whole input past a cap, counting distinct new series and streams, and counts the refusal', () => {
    const admission = new Admission(caps, { heldSeries: () => 2, streams: new Set(['s']) });
    admission.ensureRoom([prepared('a', 'x'), prepared('a', 'x'), prepared('a', undefined)]);
    expect(() => admission.ensureRoom([prepared('a', 'x'), prepared('b', 'x')])).toThrow(BufferFullError);
    expect(() =>
      admission.ensureRoom([prepared('a', undefined, 's'), prepared('a', undefined, 't')]),
    ).not.toThrow();
    expect(() =>
      admission.ensureRoom([prepared('a', undefined, 't'), prepared('a', undefined, 'u')]),
    ).toThrow(/too many cumulative streams: 1 tracked, 2 new would exceed maxTrackedStreams=2/);
    expect(admission.counters).toStrictEqual({ refusedBatches: 2, refusedPoints: 4, overflowFolds: 0 });
  });

  it("folds a tenant's series past its cap, and counts each fold", () => {
    const admission = new Admission(caps, { heldSeries: () => 0, streams: new Set() });
    expect([
      admission.admitsNewSeries(1),
      admission.admitsNewSeries(2),
      admission.admitsNewSeries(5),
    ]).toEqual([true, false, false]);
    expect(admission.counters.overflowFolds).toBe(2);
  });
});

describe('StreamStore', () => {
  it('turns cumulative points into deltas per stream, counting stale points and resets', () => {
    const store = new StreamStore(1_000);
    expect(store.toDelta('k', 'a', REQUESTS, sum(5), 0)).toEqual(sum(5));
    expect(store.toDelta('k', 'a', REQUESTS, sum(8, 0n, 20n), 0)).toEqual(sum(3, 10n, 20n));
    expect(store.toDelta('k', 'a', REQUESTS, sum(8, 0n, 20n), 0)).toBeUndefined();
    expect(store.toDelta('k', 'a', REQUESTS, sum(2, 0n, 30n), 0)).toEqual(sum(2, 20n, 30n));
    expect(store.counters).toStrictEqual({
      cumulativeResets: 1,
      staleCumulativePoints: 1,
      evictedStreams: 0,
      heldFirstIntervals: 0,
      skippedFirstIntervals: 0,
      skippedAmount: 0,
      misroutedStreams: 0,
    });
    expect([store.size, store.trackedOf('a')]).toEqual([1, 1]);
  });

  it('forgets silent streams and gives their tenant its share back', () => {
    const store = new StreamStore(1_000);
    store.toDelta('old', 'a', REQUESTS, sum(1), 0);
    store.toDelta('new', 'a', REQUESTS, sum(1), 900);
    expect(store.evictStale(1_500)).toBe(1);
    expect([store.has('old'), store.has('new'), store.trackedOf('a')]).toEqual([false, true, 1]);
  });

  it('restores what it snapshots, through JSON', () => {
    const store = new StreamStore(1_000);
    store.toDelta('k', 'a', REQUESTS, sum(5), 7);
    const restored = new StreamStore(1_000);
    restored.restore(JSON.parse(JSON.stringify(store.snapshot())));
    expect(restored.snapshot()).toEqual(store.snapshot());
    expect(restored.toDelta('k', 'a', REQUESTS, sum(8, 0n, 20n), 0)).toEqual(sum(3, 10n, 20n));
  });
});

describe('SeriesBuffer', () => {
  const options = {
    tenantAttribute: 'tenant.id',
    maxExponentialBuckets: 160,
    attributionWindowNs: ATTRIBUTION_WINDOW_NS,
  };
  const attributes = (route: string): Attributes => ({ 'tenant.id': 'a', route });

  it('merges points of one series in place and hands each series off once', () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: () => true });
    const place = context();
    buffer.add(place, 'a', attributes('/x'), sum(1));
    buffer.add(place, 'a', attributes('/x'), sum(2, 10n, 20n));
    buffer.add(place, 'a', attributes('/y'), sum(4));
    expect(buffer.holds(place, 'a', attributes('/x'), { value: 0 }, 20n)).toBe(true);
    expect(buffer.holds(place, 'a', attributes('/x'), { value: 0 }, ATTRIBUTION_WINDOW_NS)).toBe(true);
    expect(buffer.holds(place, 'a', attributes('/x'), { value: 0 }, ATTRIBUTION_WINDOW_NS + 1n)).toBe(false);
    expect(buffer.size).toBe(2);
    const taken = buffer.take();
    expect(taken.map((p) => [p.attributes, p.value])).toEqual([
      [{ route: '/x' }, { value: 3 }],
      [{ route: '/y' }, { value: 4 }],
    ]);
    expect(buffer.size).toBe(0);
  });

  it('folds a new series the cap refuses into the overflow series, and keeps apart what cannot merge', () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: (held) => held < 1 });
    const place = context();
    buffer.add(place, 'a', attributes('/x'), sum(1e308));
    buffer.add(place, 'a', attributes('/x'), sum(1e308));
    buffer.add(place, 'a', attributes('/y'), sum(2));
    buffer.add(place, 'a', attributes('/z'), sum(3));
    expect(buffer.keptApartPoints).toBe(1);
    expect(buffer.take().map((p) => [p.attributes, p.value])).toEqual([
      [{ route: '/x' }, { value: 1e308 }],
      [{ route: '/x' }, { value: 1e308 }],
      [OVERFLOW_ATTRIBUTES, { value: 5 }],
    ]);
  });

  it('merges a restored point back as an earlier arrival', () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: () => true });
    buffer.add(context(), 'a', attributes('/x'), sum(2, 10n, 20n));
    buffer.restore(
      seriesPoint({
        tenant: 'a',
        metric: REQUESTS,
        attributes: { route: '/x' },
        start: 0n,
        time: 10n,
        value: { value: 1 },
      }),
    );
    expect(buffer.take().map((p) => [p.startTimeUnixNano, p.timeUnixNano, p.value])).toEqual([
      [0n, 20n, { value: 3 }],
    ]);
  });
});

describe('SeriesBuffer: attribution windows', () => {
  const options = {
    tenantAttribute: 'tenant.id',
    maxExponentialBuckets: 160,
    attributionWindowNs: ATTRIBUTION_WINDOW_NS,
  };
  const SECOND = 1_000_000_000n;
  /** 2027-01-01T00:00:00Z, a boundary of every kind of period (quarter hour, hour, day, month, year). */
  const NEW_YEAR = 1_798_761_600n * SECOND;
  const route = { 'tenant.id': 'a', route: '/x' };

  it("keeps delta points on both sides of a boundary apart, each row at its own points' latest time", () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: () => true });
    const place = context();
    buffer.add(place, 'a', route, sum(1, NEW_YEAR - 4n * SECOND, NEW_YEAR - 2n * SECOND));
    buffer.add(place, 'a', route, sum(2, NEW_YEAR - 2n * SECOND, NEW_YEAR + 3n * SECOND));
    buffer.add(place, 'a', route, sum(4, NEW_YEAR + 3n * SECOND, NEW_YEAR + 5n * SECOND));
    buffer.add(place, 'a', route, sum(8, NEW_YEAR - 9n * SECOND, NEW_YEAR - 6n * SECOND));
    expect(buffer.size).toBe(2);
    const rows = buffer.take().map((p) => [p.startTimeUnixNano, p.timeUnixNano, p.value]);
    expect(rows).toEqual([
      // Within a window the interval is the union of its points' intervals.
      [NEW_YEAR - 9n * SECOND, NEW_YEAR - 2n * SECOND, { value: 9 }],
      // A point is attributed by its time: its start may lie in the previous window.
      [NEW_YEAR - 2n * SECOND, NEW_YEAR + 5n * SECOND, { value: 6 }],
    ]);
  });

  it("attributes a point stamped exactly on a boundary to the window it closes, as the rollups' buckets do", () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: () => true });
    buffer.add(context(), 'a', route, sum(1, 0n, NEW_YEAR - 1n));
    buffer.add(context(), 'a', route, sum(2, 0n, NEW_YEAR));
    buffer.add(context(), 'a', route, sum(4, 0n, NEW_YEAR + 1n));
    buffer.add(context(), 'a', route, sum(8, 0n, NEW_YEAR + ATTRIBUTION_WINDOW_NS));
    expect(buffer.take().map((p) => [p.timeUnixNano, p.value])).toEqual([
      [NEW_YEAR, { value: 3 }],
      [NEW_YEAR + ATTRIBUTION_WINDOW_NS, { value: 12 }],
    ]);
  });

  it('keeps the latest gauge value of each window', () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: () => true });
    const place = { ...context(), slotKey: metricKey(CHECKOUT, TEMPERATURE), metric: TEMPERATURE };
    const gauge = (value: number, time: bigint) => ({
      startTimeUnixNano: 0n,
      timeUnixNano: time,
      value: { value },
    });
    buffer.add(place, 'a', route, gauge(20, NEW_YEAR - 3n * SECOND));
    buffer.add(place, 'a', route, gauge(21, NEW_YEAR - 1n * SECOND));
    buffer.add(place, 'a', route, gauge(22, NEW_YEAR + 1n * SECOND));
    expect(buffer.take().map((p) => [p.timeUnixNano, p.value])).toEqual([
      [NEW_YEAR - SECOND, { value: 21 }],
      [NEW_YEAR + SECOND, { value: 22 }],
    ]);
  });

  it('merges a point the next stage did not take back into its own window only', () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: () => true });
    buffer.add(context(), 'a', route, sum(2, NEW_YEAR, NEW_YEAR + 10n * SECOND));
    const failed = (value: number, time: bigint) =>
      seriesPoint({
        tenant: 'a',
        metric: REQUESTS,
        attributes: { route: '/x' },
        start: time - SECOND,
        time,
        value: { value },
      });
    buffer.restore(failed(1, NEW_YEAR - SECOND));
    buffer.restore(failed(4, NEW_YEAR + SECOND));
    expect(buffer.take().map((p) => [p.startTimeUnixNano, p.timeUnixNano, p.value])).toEqual([
      [NEW_YEAR, NEW_YEAR + 10n * SECOND, { value: 6 }],
      [NEW_YEAR - 2n * SECOND, NEW_YEAR - SECOND, { value: 1 }],
    ]);
  });

  it("counts a tenant's series cap per window: a held series does not fold into overflow in the next window", () => {
    const buffer = new SeriesBuffer(options, { admitsNewSeries: (held) => held < 1 });
    buffer.add(context(), 'a', route, sum(1, 0n, NEW_YEAR - SECOND));
    buffer.add(context(), 'a', route, sum(2, 0n, NEW_YEAR + SECOND));
    buffer.add(context(), 'a', { ...route, route: '/y' }, sum(4, 0n, NEW_YEAR + SECOND));
    expect(buffer.take().map((p) => [p.attributes, p.value])).toEqual([
      [{ route: '/x' }, { value: 1 }],
      [{ route: '/x' }, { value: 2 }],
      [OVERFLOW_ATTRIBUTES, { value: 4 }],
    ]);
  });

  it("merges across all time with a window longer than any timestamp (the benchmarks' baseline)", () => {
    const buffer = new SeriesBuffer(
      { ...options, attributionWindowNs: 1n << 64n },
      { admitsNewSeries: () => true },
    );
    buffer.add(context(), 'a', route, sum(1, 0n, NEW_YEAR - SECOND));
    buffer.add(context(), 'a', route, sum(2, 0n, NEW_YEAR + SECOND));
    expect(buffer.take().map((p) => [p.timeUnixNano, p.value])).toEqual([[NEW_YEAR + SECOND, { value: 3 }]]);
  });
});

describe('Flight', () => {
  it('counts points from hand-off to settlement and restarts the flush clock when told', () => {
    let now = 0;
    const flight = new Flight(() => now);
    flight.handedOff(5);
    now = 40;
    flight.settled(5, 2);
    expect([flight.size, flight.restoredPoints, flight.elapsedSinceDrainedMs()]).toEqual([0, 2, 40]);
    flight.markDrained();
    expect(flight.elapsedSinceDrainedMs()).toBe(0);
  });
});
