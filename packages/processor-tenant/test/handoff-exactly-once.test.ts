/**
 * Nothing lost, nothing counted twice, nothing in the wrong period: random delta and cumulative traffic (resets,
 * resends) through the accumulator, its clock stepping across quarter-hour boundaries, random hand-off failures
 * and retries; every series' total per quarter hour reaches the next stage exactly once, in rows whose time lies
 * in that quarter hour (so the sum over any hour, day or month, in any time zone, is exact).
 */
import type {
  Attributes,
  HistogramValue,
  InputBatch,
  InputResourceMetrics,
  SeriesPoint,
} from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Accumulator } from '../src/accumulator.ts';
import { ATTRIBUTION_WINDOW_NS } from '../src/series-buffer.ts';
import { CHECKOUT, histogram, inputMetric, LATENCY, REQUESTS, SCOPE, sumPoint } from './helpers/builders.ts';

const TENANTS = ['acme', '0', 'a:b'] as const;
const ROUTES = ['/a', '/b'] as const;
const INSTANCES = ['i1', 'i2'] as const;
const BOUNDS = [10, 100];

type Kind = 'sum' | 'histogram';

interface Emit {
  readonly kind: Kind;
  readonly tenant: (typeof TENANTS)[number];
  readonly route: (typeof ROUTES)[number];
  readonly instance: (typeof INSTANCES)[number];
  /** delta: a new delta; add: the running total grows; reset-start / reset-decrease: a new life; repeat: resend. */
  readonly action: 'delta' | 'add' | 'reset-start' | 'reset-decrease' | 'repeat';
  /** Non-negative integers: a sum increment, or per-bucket increments for histograms. */
  readonly amounts: readonly [number, number, number];
  /** How far the clock moves before this point: often within a quarter hour, often across one or more. */
  readonly advance: bigint;
}

const SECOND = 1_000_000_000n;
const QUARTER_HOUR = 900n * SECOND;

type Op =
  | { readonly type: 'consume'; readonly emits: readonly Emit[] }
  | { readonly type: 'take' }
  /** Settles the oldest outstanding take; the next stage fails the points whose mask bit is set. */
  | { readonly type: 'settle'; readonly failMask: readonly boolean[] };

const emitArb: fc.Arbitrary<Emit> = fc.record({
  kind: fc.constantFrom<Kind>('sum', 'histogram'),
  tenant: fc.constantFrom(...TENANTS),
  route: fc.constantFrom(...ROUTES),
  instance: fc.constantFrom(...INSTANCES),
  action: fc.constantFrom('delta', 'add', 'add', 'reset-start', 'reset-decrease', 'repeat'),
  amounts: fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)),
  advance: fc.constantFrom(1n, SECOND, 60n * SECOND, QUARTER_HOUR - 1n, QUARTER_HOUR, 2n * QUARTER_HOUR + 7n),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('consume'),
      emits: fc.array(emitArb, { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ type: 'take' } as const) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('settle'),
      failMask: fc.array(fc.boolean(), { maxLength: 12 }),
    }),
  },
);

/** Exact totals per output series: sum value, or histogram count, sum and bucket counts. */
type Totals = Map<string, number[]>;

/** Exact totals per series and quarter hour `(k·15 min, (k+1)·15 min]`, the window a point's own time falls in. */
const totalsKey = (tenant: string, kind: Kind, route: string, time: bigint) =>
  JSON.stringify([tenant, kind, route, String((time - 1n) / QUARTER_HOUR)]);

function addTo(totals: Totals, key: string, amounts: readonly number[]) {
  const held = totals.get(key) ?? amounts.map(() => 0);
  totals.set(
    key,
    held.map((value, i) => value + (amounts[i] ?? 0)),
  );
}

/** The value vector a point contributes: [value] for sums, [count, sum, ...bucketCounts] for histograms. */
function vectorOf(point: SeriesPoint): number[] {
  if (point.metric.kind === 'sum') return [(point.value as { value: number }).value];
  const value = point.value as HistogramValue;
  return [value.count, value.sum, ...value.bucketCounts];
}

interface CumulativeStream {
  start: bigint;
  /** The running total: [value] or [count, sum, ...buckets]. */
  total: number[];
  lastTime: bigint;
}

/** Builds inputs from ops and keeps the ground truth as it goes. */
class TrafficModel {
  readonly truth: Totals = new Map();
  private readonly streams = new Map<string, CumulativeStream>();
  /** Starts a second before a quarter hour ends, so even short runs cross a boundary. */
  private clock = 1_798_761_600n * SECOND - SECOND;

  toInput(emits: readonly Emit[]): InputBatch {
    const resourceMetrics: InputResourceMetrics[] = [];
    for (const emit of emits) {
      const resource = { ...CHECKOUT, 'service.instance.id': emit.instance };
      const attributes = { 'tenant.id': emit.tenant, route: emit.route };
      this.clock += emit.advance;
      const time = this.clock;
      const key = totalsKey(emit.tenant, emit.kind, emit.route, time);
      let temporality: 'delta' | 'cumulative' = 'cumulative';
      let start: bigint;
      let vector: number[];
      if (emit.action === 'delta') {
        temporality = 'delta';
        start = time - 1n;
        vector = this.vector(emit.kind, emit.amounts);
        addTo(this.truth, key, vector);
      } else {
        const streamKey = JSON.stringify([emit.instance, emit.tenant, emit.kind, emit.route]);
        const stream = this.streams.get(streamKey);
        ({ start, vector } = this.cumulative(emit, stream, streamKey, key, time));
        if (emit.action === 'repeat' && stream !== undefined) {
          // A resend of the stream's last point, with its own timestamp: counted zero times.
          resourceMetrics.push(
            this.resourceMetrics(
              resource,
              emit.kind,
              'cumulative',
              attributes,
              start,
              stream.lastTime,
              vector,
            ),
          );
          continue;
        }
      }
      resourceMetrics.push(
        this.resourceMetrics(resource, emit.kind, temporality, attributes, start, time, vector),
      );
    }
    return { resourceMetrics };
  }

  private cumulative(
    emit: Emit,
    stream: CumulativeStream | undefined,
    streamKey: string,
    key: string,
    time: bigint,
  ) {
    if (stream !== undefined && emit.action === 'repeat')
      return { start: stream.start, vector: stream.total };
    const increment = this.vector(emit.kind, emit.amounts);
    let next: CumulativeStream;
    let counted: number[];
    if (stream === undefined || emit.action === 'reset-start') {
      // A first point, or a restart: the new running total counts in full.
      next = { start: stream === undefined ? 0n : time - 1n, total: increment, lastTime: time };
      counted = increment;
    } else if (emit.action === 'reset-decrease' && this.canDecrease(emit.kind, stream.total)) {
      const total = this.decreased(emit.kind, stream.total);
      next = { start: stream.start, total, lastTime: time };
      counted = total;
    } else {
      const total = stream.total.map((value, i) => value + (increment[i] ?? 0));
      next = { start: stream.start, total, lastTime: time };
      counted = increment;
    }
    this.streams.set(streamKey, next);
    addTo(this.truth, key, counted);
    return { start: next.start, vector: next.total };
  }

  private canDecrease(kind: Kind, total: readonly number[]) {
    return kind === 'sum' ? (total[0] ?? 0) > 0 : total.slice(2).some((count) => count > 0);
  }

  /** A lower running total: a monotonic counter or a histogram bucket went back. */
  private decreased(kind: Kind, total: readonly number[]): number[] {
    if (kind === 'sum') return [Math.floor((total[0] ?? 0) / 2)];
    const buckets = total.slice(2);
    const index = buckets.findIndex((count) => count > 0);
    buckets[index] = (buckets[index] ?? 0) - 1;
    return [buckets.reduce((a, b) => a + b, 0), total[1] ?? 0, ...buckets];
  }

  private vector(kind: Kind, amounts: readonly [number, number, number]): number[] {
    if (kind === 'sum') return [amounts[0] - (amounts[0] % 1)];
    // sum = 5 per observation in the first bucket, 50 in the second, 500 in the last: exact integers.
    const [a, b, c] = amounts;
    return [a + b + c, 5 * a + 50 * b + 500 * c, a, b, c];
  }

  private resourceMetrics(
    resource: Attributes,
    kind: Kind,
    temporality: 'delta' | 'cumulative',
    attributes: Attributes,
    start: bigint,
    time: bigint,
    vector: readonly number[],
  ): InputResourceMetrics {
    const metric =
      kind === 'sum'
        ? inputMetric(REQUESTS, temporality, [sumPoint(attributes, start, time, vector[0] ?? 0)])
        : inputMetric(LATENCY, temporality, [
            {
              attributes,
              startTimeUnixNano: start,
              timeUnixNano: time,
              value: histogram(BOUNDS, vector.slice(2), vector[1] ?? 0),
            },
          ]);
    return { resource, scopeMetrics: [{ scope: SCOPE, metrics: [metric] }] };
  }
}

function delivered(totals: Totals, points: readonly SeriesPoint[]) {
  for (const point of points) {
    const route = point.attributes.route;
    addTo(
      totals,
      totalsKey(point.tenant, point.metric.kind as Kind, String(route), point.timeUnixNano),
      vectorOf(point),
    );
  }
}

describe('property: hand-off with random failures', () => {
  it('delivers every series total per quarter hour exactly once, whatever fails and is retried', () => {
    expect(ATTRIBUTION_WINDOW_NS).toBe(QUARTER_HOUR);
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 60 }),
        fc.array(fc.boolean(), { maxLength: 30 }),
        (ops, finalMask) => {
          const accumulator = new Accumulator({ now: () => 0 });
          const model = new TrafficModel();
          const received: Totals = new Map();
          const outstanding: SeriesPoint[][] = [];
          const settle = (points: SeriesPoint[], mask: readonly boolean[]) => {
            const failed = points.filter((_, i) => mask[i % Math.max(mask.length, 1)] === true);
            delivered(
              received,
              points.filter((point) => !failed.includes(point)),
            );
            accumulator.settle(points.length, failed);
          };
          for (const op of ops) {
            if (op.type === 'consume') accumulator.consume(model.toInput(op.emits));
            else if (op.type === 'take') outstanding.push(accumulator.take());
            else {
              const points = outstanding.shift();
              if (points !== undefined) settle(points, op.failMask);
            }
          }
          for (const points of outstanding.splice(0)) settle(points, finalMask);
          // Drain: the next stage recovers and takes everything.
          for (let round = 0; accumulator.bufferedCount() > 0; round++) {
            if (round > 3) throw new Error('the buffer does not drain');
            settle(accumulator.take(), []);
          }
          expect(accumulator.count()).toBe(0);
          expect(Object.fromEntries([...received].sort())).toStrictEqual(
            Object.fromEntries([...model.truth].sort()),
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
