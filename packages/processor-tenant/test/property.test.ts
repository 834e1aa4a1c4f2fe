import {
  type Attributes,
  type AttributeValue,
  decodeAttributes,
  encodeAttributes,
  encodeAttributesWith,
  type HistogramValue,
  type InputBatch,
  type InputResourceMetrics,
  type SeriesPoint,
} from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Accumulator, fullSeriesKey, SeriesTable } from '../src/index.ts';
import {
  CHECKOUT,
  gaugePoint,
  histogram,
  inputMetric,
  LATENCY,
  metricInfo,
  REQUESTS,
  SCOPE,
  seriesPoint,
  sumPoint,
  TEMPERATURE,
} from './helpers/builders.ts';

// ---------------------------------------------------------------------------------------------------------
// (a) Nothing lost, nothing counted twice: random delta and cumulative traffic, random hand-off failures.
// ---------------------------------------------------------------------------------------------------------

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
}

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

const totalsKey = (tenant: string, kind: Kind, route: string) => JSON.stringify([tenant, kind, route]);

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
  private clock = 1000n;

  toInput(emits: readonly Emit[]): InputBatch {
    const resourceMetrics: InputResourceMetrics[] = [];
    for (const emit of emits) {
      const resource = { ...CHECKOUT, 'service.instance.id': emit.instance };
      const attributes = { 'tenant.id': emit.tenant, route: emit.route };
      const time = ++this.clock;
      const key = totalsKey(emit.tenant, emit.kind, emit.route);
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
    addTo(totals, totalsKey(point.tenant, point.metric.kind as Kind, String(route)), vectorOf(point));
  }
}

describe('property: hand-off with random failures', () => {
  it('delivers every series total exactly once, whatever fails and is retried', () => {
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

// ---------------------------------------------------------------------------------------------------------
// (b) Identity: equal keys exactly for equal canonical inputs, independent of key order.
// ---------------------------------------------------------------------------------------------------------

/** Small domains, so that independently drawn inputs are sometimes equal and both directions get tested. */
const keyArb = fc.constantFrom('a', 'b', 'c', 'a:b', 'a,b', '"', '{', 'tenant', '');
const scalarArb: fc.Arbitrary<AttributeValue> = fc.constantFrom<AttributeValue>(
  '',
  '1',
  1,
  'true',
  true,
  false,
  null,
  'null',
  Number.NaN,
  'NaN',
  Number.POSITIVE_INFINITY,
  'Infinity',
  0,
  -0,
  1.5,
  'a:b',
  '"a"',
  '{}',
  '[]',
);
const { value: valueArb } = fc.letrec<{ value: AttributeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(keyArb, tie('value'), { maxKeys: 3 }),
  ),
}));
const attributesArb: fc.Arbitrary<Attributes> = fc.dictionary(keyArb, valueArb, { maxKeys: 3 });
const tenantArb = fc.oneof(
  fc.constantFrom('a', 'a:b', 'b', 'a,b', '"a"', '{', '0'),
  fc.string({ unit: fc.constantFrom('a', ':', ',', '"', '{', '}', '[', '\\'), minLength: 1, maxLength: 6 }),
);
const nameArb = fc.constantFrom('b:c', 'c', 'b', 'a:b:c', '"c"');

interface IdentityInput {
  readonly tenant: string;
  readonly name: string;
  readonly attributes: Attributes;
}

const identityArb: fc.Arbitrary<IdentityInput> = fc.record({
  tenant: tenantArb,
  name: nameArb,
  attributes: attributesArb,
});

const pointOf = (input: IdentityInput) =>
  seriesPoint({
    tenant: input.tenant,
    metric: metricInfo('sum', input.name),
    attributes: input.attributes,
    start: 0n,
    time: 1n,
    value: { value: 1 },
  });

/** Structural equality of attribute values: object key order never matters, array order does, NaN equals NaN. */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).sort();
  const kb = Object.keys(rb).sort();
  return ka.length === kb.length && ka.every((key, i) => key === kb[i] && sameValue(ra[key], rb[key]));
}

/** A copy with the keys of every object, at every depth, inserted in a different order. */
function shuffleKeys(value: AttributeValue, random: () => number): AttributeValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => shuffleKeys(item, random));
  const entries = Object.entries(value);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, shuffleKeys(item, random)]));
}

function seededRandom(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('property: series identity', () => {
  it('gives equal keys exactly when tenant, metric and canonical attributes are equal', () => {
    let equalPairs = 0;
    fc.assert(
      fc.property(
        identityArb,
        identityArb,
        fc.constantFrom('independent', 'same-metric', 'same-attributes'),
        (a, drawn, how) => {
          // Pairs that share parts collide more often than independent ones: both directions get exercised.
          const b =
            how === 'same-metric'
              ? { ...drawn, tenant: a.tenant, name: a.name }
              : how === 'same-attributes'
                ? { ...drawn, attributes: structuredClone(a.attributes) }
                : drawn;
          const same = a.tenant === b.tenant && a.name === b.name && sameValue(a.attributes, b.attributes);
          if (same) equalPairs++;
          expect(fullSeriesKey(pointOf(a)) === fullSeriesKey(pointOf(b))).toBe(same);
        },
      ),
      { numRuns: 1500 },
    );
    // The domains are small on purpose: some pairs must be equal, or the ⇐ direction was never tested.
    expect(equalPairs).toBeGreaterThan(0);
  });

  it('does not depend on key order at any nesting level', () => {
    fc.assert(
      fc.property(identityArb, fc.integer(), (input, seed) => {
        const shuffled = shuffleKeys(input.attributes, seededRandom(seed)) as Attributes;
        expect(fullSeriesKey(pointOf({ ...input, attributes: shuffled }))).toBe(
          fullSeriesKey(pointOf(input)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('merges inputs that differ only in key order into one buffered series', () => {
    fc.assert(
      fc.property(attributesArb, fc.integer(), (attributes, seed) => {
        const accumulator = new Accumulator({ now: () => 0 });
        const shuffled = shuffleKeys(attributes, seededRandom(seed)) as Attributes;
        for (const [i, set] of [attributes, shuffled].entries()) {
          accumulator.consume({
            resourceMetrics: [
              {
                resource: CHECKOUT,
                scopeMetrics: [
                  {
                    scope: SCOPE,
                    metrics: [
                      inputMetric(REQUESTS, 'delta', [
                        sumPoint({ ...set, 'tenant.id': 'acme' }, BigInt(i), BigInt(i + 1), 1),
                      ]),
                    ],
                  },
                ],
              },
            ],
          });
        }
        const points = accumulator.take();
        expect(points).toHaveLength(1);
        expect(points[0]?.value).toEqual({ value: 2 });
        expect(sameValue(points[0]?.attributes, attributes)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// (c) Gauges: last write wins by timestamp, ties go to the later arrival, whatever the arrival order.
// ---------------------------------------------------------------------------------------------------------

describe('property: gauge last write wins', () => {
  const arrivalsArb = fc.array(
    fc.record({
      time: fc.bigInt({ min: 1n, max: 6n }),
      /** Cut the input here (a new consume call) … */
      newInput: fc.boolean(),
      /** … and before it, let the next stage take and fail everything held so far. */
      failedHandOff: fc.boolean(),
    }),
    { minLength: 1, maxLength: 12 },
  );

  it('keeps the newest timestamp and, among equal ones, the last arrival', () => {
    fc.assert(
      fc.property(arrivalsArb, (arrivals) => {
        const accumulator = new Accumulator({ now: () => 0 });
        const kitchen = { 'tenant.id': 'acme', room: 'kitchen' };
        let pending: ReturnType<typeof gaugePoint>[] = [];
        const flush = () => {
          if (pending.length === 0) return;
          accumulator.consume({
            resourceMetrics: [
              {
                resource: CHECKOUT,
                scopeMetrics: [{ scope: SCOPE, metrics: [inputMetric(TEMPERATURE, 'delta', pending)] }],
              },
            ],
          });
          pending = [];
        };
        arrivals.forEach((arrival, index) => {
          if (arrival.newInput) {
            flush();
            if (arrival.failedHandOff) {
              const taken = accumulator.take();
              accumulator.settle(taken.length, taken);
            }
          }
          // The value is the arrival index, so the winner names itself.
          pending.push(gaugePoint(kitchen, arrival.time, index));
        });
        flush();
        // biome-ignore lint/complexity/useMathMinMax: bigint timestamps; Math.max takes numbers only
        const maxTime = arrivals.reduce((max, arrival) => (arrival.time > max ? arrival.time : max), 0n);
        const winner = arrivals.findLastIndex((arrival) => arrival.time === maxTime);
        const points = accumulator.take();
        expect(points).toHaveLength(1);
        expect(points[0]?.timeUnixNano).toBe(maxTime);
        expect(points[0]?.value).toEqual({ value: winner });
      }),
      { numRuns: 300 },
    );
  });
});

describe('property: the series table finds exactly the series the key encoding identifies', () => {
  const SKIP = 'tenant';
  // Variants of a few base sets (one value overridden, keys reordered, a skipped or undefined key added):
  // they share paths deep into the table and often meet, so both hits and misses get exercised.
  const variantArb = fc.record({
    base: fc.nat(),
    override: fc.option(fc.record({ key: keyArb, value: scalarArb })),
    seed: fc.integer(),
    skipped: fc.option(scalarArb),
    undefinedKey: fc.option(fc.constantFrom('a', 'z', '__proto__')),
    extra: fc.constantFrom('[1,2]', '[1,3]', '[]'),
  });
  const baseArb = fc.array(fc.dictionary(keyArb, valueArb, { minKeys: 2, maxKeys: 4 }), {
    minLength: 1,
    maxLength: 4,
  });

  it('get() hits exactly when encodeAttributes gives a key seen before; forEach() gives the sets back', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        baseArb,
        fc.array(variantArb, { maxLength: 30 }),
        (withExtra, bases, variants) => {
          const table = new SeriesTable<string>(withExtra);
          const reference = new Set<string>();
          for (const variant of variants) {
            const base = bases[variant.base % bases.length]!;
            const attributes: Record<string, unknown> = {
              ...(shuffleKeys(base, seededRandom(variant.seed)) as Attributes),
            };
            if (variant.override !== null) attributes[variant.override.key] = variant.override.value;
            if (variant.skipped !== null) attributes[SKIP] = variant.skipped;
            if (variant.undefinedKey !== null && !(variant.undefinedKey in attributes))
              Object.defineProperty(attributes, variant.undefinedKey, { value: undefined, enumerable: true });
            const set = attributes as Attributes;
            const extra = withExtra ? variant.extra : undefined;
            const key = encodeAttributesWith(set, SKIP, extra ?? null);
            const found = table.get(set, SKIP, extra);
            expect(found).toBe(reference.has(key) ? key : undefined);
            if (found === undefined) {
              table.insert(set, SKIP, extra, key);
              reference.add(key);
            }
          }
          expect(table.size).toBe(reference.size);
          const visited: string[] = [];
          table.forEach((attributes, key) => {
            expect(encodeAttributes(attributes)).toBe(decodeAttributesKey(key));
            visited.push(key);
          });
          expect(visited.sort()).toEqual([...reference].sort());
        },
      ),
      { numRuns: 1500 },
    );
  });
});

/** The attribute part of an `encodeAttributesWith` key, re-encoded without the extra part. */
function decodeAttributesKey(key: string): string {
  return encodeAttributes(decodeAttributes(key));
}

describe('property: the series table keeps every series while it reorders its levels', () => {
  // Enough series per shape to pass the reordering thresholds (64, 128, 256…), with names of very
  // different cardinalities in random name order, inserted in random order.
  const columnArb = fc.record({
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    distinct: fc.integer({ min: 1, max: 400 }),
  });

  it('finds each inserted series, misses the others, and gives each back once', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(columnArb, { minLength: 2, maxLength: 4, selector: (column) => column.name }),
        fc.integer({ min: 64, max: 700 }),
        fc.integer(),
        (columns, count, seed) => {
          const random = seededRandom(seed);
          const setOf = (i: number) =>
            Object.fromEntries(
              columns.map(({ name, distinct }) => [name, (i * 7919 + name.charCodeAt(0)) % distinct]),
            );
          const table = new SeriesTable<string>();
          const reference = new Set<string>();
          for (let n = 0; n < count; n++) {
            const set = setOf(Math.floor(random() * count * 2));
            const key = encodeAttributes(set);
            expect(table.get(set, undefined)).toBe(reference.has(key) ? key : undefined);
            if (!reference.has(key)) {
              table.insert(set, undefined, undefined, key);
              reference.add(key);
            }
          }
          for (const key of reference) expect(table.get(decodeAttributes(key), undefined)).toBe(key);
          const visited: string[] = [];
          table.forEach((attributes, key) => {
            expect(encodeAttributes(attributes)).toBe(key);
            expect(Object.keys(attributes)).toEqual(Object.keys(attributes).sort());
            visited.push(key);
          });
          expect(visited.sort()).toEqual([...reference].sort());
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('property: the series table past its limit of shapes', () => {
  // Random subsets of twelve names give hundreds of shapes: the first 64 get tries, the rest go by text.
  const NAMES = 'abcdefghijkl'.split('');
  const setArb = fc.record({
    mask: fc.integer({ min: 0, max: 4095 }),
    values: fc.array(fc.constantFrom<AttributeValue | undefined>(1, '1', true, null, undefined, [1]), {
      minLength: 12,
      maxLength: 12,
    }),
    extra: fc.constantFrom('[1]', '[2]'),
  });

  it('finds exactly the series seen before, tracked or not, and gives each back once', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(setArb, { minLength: 100, maxLength: 400 }), (withExtra, drawn) => {
        const table = new SeriesTable<string>(withExtra);
        const reference = new Set<string>();
        for (const { mask, values, extra: drawnExtra } of drawn) {
          const set = Object.fromEntries(
            NAMES.flatMap((name, i) => ((mask >> i) & 1 ? [[name, values[i]]] : [])),
          ) as Attributes;
          const extra = withExtra ? drawnExtra : undefined;
          const key = encodeAttributesWith(set, undefined, extra ?? null);
          expect(table.get(set, undefined, extra)).toBe(reference.has(key) ? key : undefined);
          if (!reference.has(key)) {
            table.insert(set, undefined, extra, key);
            reference.add(key);
          }
        }
        const visited: string[] = [];
        table.forEach((attributes, key) => {
          expect(encodeAttributes(attributes)).toBe(decodeAttributesKey(key));
          visited.push(key);
        });
        expect(visited.sort()).toEqual([...reference].sort());
      }),
      { numRuns: 60 },
    );
  });
});
