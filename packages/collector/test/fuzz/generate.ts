/**
 * Generators of valid OTLP metrics requests (the model of model.ts): every point kind, every temporality, and
 * the extremes OTLP allows — int32 offsets, scales −10…20, times near 2^63 and 2^64, ±1e308 and subnormals,
 * int64 limits, big and deeply nested attribute sets, unicode and empty strings — plus the shapes of bugs
 * found before (they must stay fixed): merges that overflow, offsets at both int32 ends, times ≥ 2^63.
 */
import {
  type AnyValue,
  type Buckets,
  type ExponentialPoint,
  type HistogramPoint,
  INT32_MAX,
  INT32_MIN,
  type KeyValue,
  MAX_SAFE,
  type Metric,
  type MetricData,
  type NumberValue,
  type Request,
  type Resource,
  type Scope,
  type SummaryPoint,
} from './model.ts';
import type { Rng } from './rng.ts';

/** Attribute the generator adds to cumulative points to say which source stream they belong to. */
export const STREAM_KEY = 'fz.stream';

const UNICODE = [
  'é',
  'ß',
  '日本語',
  '😀',
  '𝕏',
  'Z̤͔ͧ̑̓',
  'مرحبا',
  '\u0000',
  '\u200b',
  '\ufeff',
  'a\u0301',
  '\u{10ffff}',
  'Ω',
  '\t\n\r',
  '"\\',
  '<&>',
  "'",
  '%s%n',
  '$' + '{x}', // a template placeholder, as text
  '\u2028',
  '🏳️‍🌈',
  '\u007f',
];
const WORDS = [
  'requests',
  'bytes',
  'latency',
  'queue',
  'cpu',
  'http.server.duration',
  'db.calls',
  'x',
  'a.b.c',
];
const NUMERIC_TEXT = ['0', '-0', '1', 'NaN', 'Infinity', 'true', 'null', '1e308', '9223372036854775808'];

export function ascii(rng: Rng, min: number, max: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789._-/';
  let out = '';
  const length = rng.int(min, max);
  for (let i = 0; i < length; i++) out += alphabet[rng.int(0, alphabet.length - 1)];
  return out;
}

/** What a campaign may leave out: shapes of bugs already reported, to look past them. */
export interface GeneratorProfile {
  /** No string starting with U+FEFF (a decoder drops it). */
  noLeadingBom: boolean;
  /** No shapes of known bugs. */
  noShapes: boolean;
  /** No times at or past 2^63 ns. */
  noTimesPast63: boolean;
  /** No exponential-histogram offset −2^31. */
  noOffsetInt32Min: boolean;
}

/** Set by `makeCase` before each (synchronous) generation. */
export const profile: GeneratorProfile = {
  noLeadingBom: false,
  noShapes: false,
  noTimesPast63: false,
  noOffsetInt32Min: false,
};

/** Any valid string: mostly short words, sometimes empty, unicode, numeric-looking or long. */
export function text(rng: Rng): string {
  const out = anyText(rng);
  return profile.noLeadingBom && out.startsWith('\ufeff') ? `x${out}` : out;
}

function anyText(rng: Rng): string {
  return rng.weighted<() => string>([
    [50, () => ascii(rng, 1, 12)],
    [10, () => rng.pick(WORDS)],
    [8, () => ''],
    [18, () => Array.from({ length: rng.int(1, 4) }, () => rng.pick(UNICODE)).join(rng.pick(['', 'x', ' ']))],
    [8, () => rng.pick(NUMERIC_TEXT)],
    [1, () => ascii(rng, 200, 2000)],
    [0.5, () => rng.pick(UNICODE).repeat(rng.int(100, 1000))],
  ])();
}

const SPECIAL_DOUBLES = [
  1e308,
  -1e308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  -0,
  0,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e-300,
  0.1,
  1 / 3,
  2.2250738585072014e-308,
  4503599627370495.5,
];

/** A finite double: small integers, dyadic fractions, random magnitudes, extremes. */
export function finiteDouble(rng: Rng): number {
  return rng.weighted<() => number>([
    [30, () => rng.int(-1000, 1000)],
    [15, () => rng.int(-64, 64) / 8],
    [20, () => (rng.float() - 0.5) * 10 ** rng.int(-10, 20)],
    [20, () => rng.pick(SPECIAL_DOUBLES)],
    [
      15,
      () => {
        for (;;) {
          const d = rng.anyDouble();
          if (Number.isFinite(d)) return d;
        }
      },
    ],
  ])();
}

/** Any double, NaN and infinities included (attribute values, fields where they are allowed or rejected). */
export function anyDouble(rng: Rng): number {
  return rng.weighted<() => number>([
    [85, () => finiteDouble(rng)],
    [5, () => Number.NaN],
    [5, () => Number.POSITIVE_INFINITY],
    [5, () => Number.NEGATIVE_INFINITY],
  ])();
}

const INT64_SPECIAL = [
  -(2n ** 63n),
  2n ** 63n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  -(2n ** 53n) - 1n,
  0n,
  -1n,
  BigInt(INT32_MAX) + 1n,
];

export function int64(rng: Rng): bigint {
  return rng.weighted<() => bigint>([
    [60, () => BigInt(rng.int(-100, 100))],
    [20, () => rng.pick(INT64_SPECIAL)],
    [20, () => BigInt.asIntN(64, rng.bigUint(64))],
  ])();
}

const KEYS = ['service.name', 'tenant.id', 'route', 'http.method', 'a', 'b', '', '__proto__', 'constructor'];

function key(rng: Rng): string {
  return rng.bool(0.5) ? rng.pick(KEYS) : text(rng);
}

export function anyValue(rng: Rng, depth: number): AnyValue {
  const nested = depth < 6;
  return rng.weighted<() => AnyValue>([
    [30, () => ({ kind: 'string', value: text(rng) })],
    [8, () => ({ kind: 'bool', value: rng.bool() })],
    [15, () => ({ kind: 'int', value: int64(rng) })],
    [15, () => ({ kind: 'double', value: anyDouble(rng) })],
    [5, () => ({ kind: 'bytes', value: rng.bytes(rng.int(0, 40)) })],
    [
      nested ? 8 : 0,
      () => ({
        kind: 'array',
        values: Array.from({ length: rng.int(0, 4) }, () => anyValue(rng, depth + 1)),
      }),
    ],
    [nested ? 8 : 0, () => ({ kind: 'kvlist', values: keyValues(rng, rng.int(0, 4), depth + 1) })],
    [3, () => ({ kind: 'empty' })],
  ])();
}

/** An `AnyValue` nested exactly `levels` deep (the decoders allow 64). */
export function nestedValue(rng: Rng, levels: number): AnyValue {
  let value: AnyValue = { kind: 'string', value: 'leaf' };
  for (let i = 1; i < levels; i++) {
    value = rng.bool()
      ? { kind: 'array', values: [value] }
      : { kind: 'kvlist', values: [{ key: 'k', value }] };
  }
  return value;
}

function keyValues(rng: Rng, count: number, depth: number): KeyValue[] {
  return Array.from({ length: count }, () => ({
    key: key(rng),
    value: rng.bool(0.03) ? undefined : anyValue(rng, depth),
  }));
}

/**
 * An attribute set: usually a few, sometimes none, sometimes hundreds (`big`: only where few points carry
 * it, to keep bodies small), now and then nested 20–64 deep.
 */
export function attributes(rng: Rng, big = true): KeyValue[] {
  const count = rng.weighted<() => number>([
    [15, () => 0],
    [60, () => rng.int(1, 4)],
    [20, () => rng.int(5, 12)],
    [big ? 5 : 0, () => rng.int(50, 300)],
  ])();
  const out = keyValues(rng, count, 0);
  if (rng.bool(0.02)) out.push({ key: 'deep', value: nestedValue(rng, rng.int(20, 64)) });
  return out;
}

// ---- times ----

const BASE_NS = 1_700_000_000_000_000_000n;
const ALL_TIME_EXTREMES = [
  1n,
  2n ** 62n,
  2n ** 63n - 1n,
  4_102_444_800_000_000_000n, // 2100-01-01
  4_294_967_295_999_999_999n, // the last time storage can bucket (2106-02-07T06:28:15.999999999Z)
  4_294_967_296_000_000_000n, // one past it: rejected
  5_662_310_400_000_000_000n, // 2149-06-06, the end of ClickHouse's Date
  2n ** 63n, // past DateTime64(9)
  2n ** 64n - 1n,
];

function timeExtreme(rng: Rng): bigint {
  const t = rng.pick(ALL_TIME_EXTREMES);
  return profile.noTimesPast63 && t >= 2n ** 63n ? 2n ** 63n - 1n : t;
}

interface Times {
  start: bigint | undefined;
  time: bigint | undefined;
}

/** Point times: ordinary (increasing with `step`), extreme, or missing (a rejection). */
const MAX_U64 = 2n ** 64n - 1n;
const LAST_TIME = (): bigint => (profile.noTimesPast63 ? 2n ** 63n - 1n : MAX_U64);

function times(rng: Rng, start: bigint, step: number): Times {
  const next = start + BigInt(step + 1) * 1_000_000_000n;
  const time = next > LAST_TIME() ? LAST_TIME() - BigInt(step) : next;
  return rng.weighted<() => Times>([
    [85, () => ({ start: rng.bool(0.1) ? undefined : start, time })],
    [5, () => ({ start: rng.bool() ? undefined : timeExtreme(rng), time: timeExtreme(rng) })],
    [3, () => ({ start: time < LAST_TIME() - 5n ? time + 5n : 1n, time })], // start after time
    [3, () => ({ start: timeExtreme(rng), time })],
    [2, () => ({ start, time: undefined })],
    [2, () => ({ start, time: 0n })],
  ])();
}

function flags(rng: Rng): number {
  return rng.weighted([
    [94, 0],
    [3, 1], // no recorded value: skipped
    [2, 2],
    [1, 3],
  ]);
}

// ---- values ----

function numberValue(rng: Rng): NumberValue {
  return rng.weighted<() => NumberValue>([
    [40, () => ({ asInt: BigInt(rng.int(-1000, 1000)) })],
    [45, () => ({ asDouble: finiteDouble(rng) })],
    [6, () => ({ asInt: int64(rng) })],
    [6, () => ({ asDouble: rng.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) })],
    [3, () => undefined],
  ])();
}

/** A histogram's sum: mostly finite, sometimes absent (it is optional in OTLP), rarely NaN. */
function histogramSum(rng: Rng): number | undefined {
  return rng.weighted<() => number | undefined>([
    [85, () => finiteDouble(rng)],
    [12, () => undefined],
    [3, () => Number.NaN],
  ])();
}

function smallCount(rng: Rng): bigint {
  return rng.weighted<() => bigint>([
    [70, () => BigInt(rng.int(0, 100))],
    [20, () => BigInt(rng.int(0, 2 ** 32))],
    [7, () => MAX_SAFE - BigInt(rng.int(0, 3))],
    [3, () => MAX_SAFE + BigInt(rng.int(1, 1000))],
  ])();
}

function minMax(rng: Rng): number | undefined {
  return rng.weighted<() => number | undefined>([
    [50, () => undefined],
    [47, () => finiteDouble(rng)],
    [3, () => rng.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])],
  ])();
}

function increasingBounds(rng: Rng, count: number): number[] {
  if (rng.bool(0.1)) {
    // The whole double range.
    const inner = Array.from({ length: Math.max(0, count - 2) }, (_, i) => i - count / 2);
    return count >= 2 ? [-Number.MAX_VALUE, ...inner, Number.MAX_VALUE] : inner;
  }
  const out: number[] = [];
  let bound = rng.bool(0.2) ? finiteDouble(rng) : rng.int(-100, 100);
  for (let i = 0; i < count; i++) {
    out.push(bound);
    const next = bound + Math.max(Math.abs(bound) * 1e-12, rng.float() * 100 + 1e-9);
    bound = Number.isFinite(next) && next > bound ? next : bound + 1;
    if (!(bound > out[out.length - 1]!)) break;
  }
  return out;
}

function histogramPoint(rng: Rng, t: Times, attrs: KeyValue[]): HistogramPoint {
  const boundCount = rng.weighted<() => number>([
    [15, () => 0],
    [60, () => rng.int(1, 5)],
    [20, () => rng.int(6, 20)],
    [5, () => 100],
  ])();
  let bounds = increasingBounds(rng, boundCount);
  let bucketCounts: bigint[] =
    bounds.length === 0 && rng.bool(0.5)
      ? []
      : Array.from({ length: bounds.length + 1 }, () => smallCount(rng));
  let count = bucketCounts.length === 0 ? smallCount(rng) : bucketCounts.reduce((a, b) => a + b, 0n);
  if (rng.bool(0.05)) count = smallCount(rng); // inconsistent with the buckets: still accepted
  // Now and then something a collector must reject.
  const broken = rng.weighted<() => void>([
    [92, () => {}],
    [2, () => bucketCounts.push(1n)],
    [2, () => (bounds = [...bounds, bounds[bounds.length - 1] ?? 0].sort((a, b) => a - b))],
    [2, () => (bounds = [...bounds.slice(0, -1), Number.POSITIVE_INFINITY])],
    [2, () => (bucketCounts = bucketCounts.map((c, i) => (i === 0 ? MAX_SAFE + 1n : c)))],
  ]);
  broken();
  return {
    attributes: attrs,
    ...t,
    flags: flags(rng),
    count,
    sum: histogramSum(rng),
    bucketCounts,
    bounds,
    min: minMax(rng),
    max: minMax(rng),
  };
}

const OFFSET_EXTREMES = [INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 2 ** 30, -(2 ** 30), 0];

function exponentialScale(rng: Rng): number {
  return rng.weighted<() => number>([
    [70, () => rng.int(-10, 20)],
    [22, () => rng.pick([-10, 20, 0])],
    [8, () => rng.pick([-11, 21, INT32_MIN, INT32_MAX])],
  ])();
}

function buckets(rng: Rng): Buckets | undefined {
  if (rng.bool(0.15)) return undefined;
  const length = rng.weighted<() => number>([
    [15, () => 0],
    [60, () => rng.int(1, 8)],
    [20, () => rng.int(9, 200)],
    [5, () => rng.int(500, 3000)],
  ])();
  return {
    offset: Math.max(
      profile.noOffsetInt32Min ? INT32_MIN + 1 : INT32_MIN,
      rng.weighted<() => number>([
        [60, () => rng.int(-20, 20)],
        [25, () => rng.pick(OFFSET_EXTREMES)],
        [15, () => rng.int(INT32_MIN, INT32_MAX)],
      ])(),
    ),
    counts: Array.from({ length }, () => (rng.bool(0.97) ? BigInt(rng.int(0, 100)) : smallCount(rng))),
  };
}

function exponentialPoint(rng: Rng, t: Times, attrs: KeyValue[]): ExponentialPoint {
  const positive = buckets(rng);
  const negative = buckets(rng);
  const zeroCount = rng.bool(0.95) ? BigInt(rng.int(0, 10)) : smallCount(rng);
  let count = zeroCount;
  for (const side of [positive, negative]) for (const c of side?.counts ?? []) count += c;
  if (rng.bool(0.05)) count = smallCount(rng);
  return {
    attributes: attrs,
    ...t,
    flags: flags(rng),
    count,
    sum: histogramSum(rng),
    scale: exponentialScale(rng),
    zeroCount,
    positive,
    negative,
    min: minMax(rng),
    max: minMax(rng),
    zeroThreshold: rng.bool(0.1) ? anyDouble(rng) : undefined,
  };
}

function summaryPoint(rng: Rng, t: Times, attrs: KeyValue[]): SummaryPoint {
  return {
    attributes: attrs,
    ...t,
    flags: flags(rng),
    count: BigInt(rng.int(0, 100)),
    // Readings kept as sent: NaN and ±Inf sums and values are stored; a quantile outside [0, 1] is rejected.
    sum: rng.bool(0.1) ? anyDouble(rng) : finiteDouble(rng),
    quantiles: Array.from({ length: rng.int(0, 3) }, () => ({
      quantile: rng.bool(0.05) ? rng.pick([-0.5, 1.5, Number.NaN]) : rng.float(),
      value: rng.bool(0.1) ? anyDouble(rng) : finiteDouble(rng),
    })),
  };
}

// ---- metrics ----

function temporality(rng: Rng): number {
  return rng.weighted<() => number>([
    [45, () => 1],
    [45, () => 2],
    [10, () => rng.pick([0, 3, -1, INT32_MAX])], // rejected
  ])();
}

function pointCount(rng: Rng): number {
  return rng.weighted<() => number>([
    [30, () => 1],
    [45, () => rng.int(2, 4)],
    [22, () => rng.int(5, 10)],
    [3, () => rng.int(50, 200)],
  ])();
}

/**
 * Point attributes: delta points reuse a few attribute sets (so points merge into one series); cumulative
 * points say their source stream explicitly — usually one stream per point, sometimes a short sequence.
 */
function pointAttributes(
  rng: Rng,
  cumulative: boolean,
  pool: KeyValue[][],
  index: number,
  sequences: number,
) {
  const base = rng.pick(pool);
  if (!cumulative) return base;
  // The random suffix keeps streams of same-named metrics apart.
  const stream =
    sequences > 0 && rng.bool(0.6)
      ? `seq-${rng.int(0, sequences - 1)}`
      : `pt-${index}-${rng.u32().toString(36)}`;
  return [...base, { key: STREAM_KEY, value: { kind: 'string', value: stream } } as KeyValue];
}

function metricName(rng: Rng): string {
  return rng.weighted<() => string>([
    [70, () => `${rng.pick(WORDS)}${rng.bool(0.5) ? `.${ascii(rng, 1, 4)}` : ''}`],
    [25, () => text(rng) || 'empty-name-avoided'],
    [5, () => ''], // rejected
  ])();
}

export function metric(rng: Rng): Metric {
  const kind = rng.weighted<MetricData['kind']>([
    [30, 'sum'],
    [15, 'gauge'],
    [20, 'histogram'],
    [25, 'exponentialHistogram'],
    [5, 'summary'],
    [2, 'none'],
  ]);
  const n = pointCount(rng);
  const poolSize = rng.int(1, 3);
  const pool = Array.from({ length: poolSize }, () => attributes(rng, n <= 4));
  const startBase = rng.bool(0.95) ? BASE_NS + BigInt(rng.int(0, 1e6)) * 1_000_000n : timeExtreme(rng);
  const data = ((): MetricData => {
    switch (kind) {
      case 'sum':
      case 'gauge': {
        const temp = kind === 'sum' ? temporality(rng) : 2;
        const cumulative = kind === 'sum' && temp === 2;
        const points = Array.from({ length: n }, (_, i) => ({
          attributes: pointAttributes(rng, cumulative, pool, i, rng.int(0, 2)),
          ...times(rng, startBase, i),
          flags: flags(rng),
          value: numberValue(rng),
        }));
        return kind === 'gauge'
          ? { kind, points }
          : { kind, temporality: temp, monotonic: rng.bool(), points };
      }
      case 'histogram': {
        const temp = temporality(rng);
        const points = Array.from({ length: n }, (_, i) =>
          histogramPoint(rng, times(rng, startBase, i), pointAttributes(rng, temp === 2, pool, i, 0)),
        );
        return {
          kind,
          temporality: temp,
          points: temp === 2 ? cumulativeHistogramSequence(rng, points) : points,
        };
      }
      case 'exponentialHistogram': {
        const temp = temporality(rng);
        const points = Array.from({ length: n }, (_, i) =>
          exponentialPoint(rng, times(rng, startBase, i), pointAttributes(rng, temp === 2, pool, i, 0)),
        );
        return { kind, temporality: temp, points };
      }
      case 'summary':
        return {
          kind,
          points: Array.from({ length: n }, (_, i) => summaryPoint(rng, times(rng, startBase, i), pool[0]!)),
        };
      case 'none':
        return { kind };
    }
  })();
  return {
    name: metricName(rng),
    description: rng.bool(0.7) ? text(rng) : '',
    unit: rng.pick(['', '1', 'By', 'ms', '{request}', text(rng)]),
    data,
    metadata: rng.bool(0.05) ? keyValues(rng, rng.int(1, 3), 0) : [],
  };
}

/**
 * Sometimes turns a cumulative histogram's first points into one stream of growing (or, once, shrinking —
 * a reset) running totals, so cumulative-to-delta conversion is exercised with exact expectations.
 */
function cumulativeHistogramSequence(rng: Rng, points: HistogramPoint[]): HistogramPoint[] {
  if (points.length < 2 || !rng.bool(0.4)) return points;
  const first = points[0]!;
  if (first.bucketCounts.length === 0) return points;
  const stream: KeyValue = { key: STREAM_KEY, value: { kind: 'string', value: 'hist-seq' } };
  const out: HistogramPoint[] = [];
  let counts = first.bucketCounts.map((c) => c % 1000n);
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (i > 0) counts = counts.map((c) => (rng.bool(0.05) ? 0n : c + BigInt(rng.int(0, 5))));
    out.push({
      ...p,
      attributes: [...first.attributes.filter((kv) => kv.key !== STREAM_KEY), stream],
      start: first.start,
      time:
        (first.time !== undefined && first.time < 2n ** 62n ? first.time : BASE_NS) +
        BigInt(i) * 1_000_000_000n,
      flags: 0,
      bounds: first.bounds,
      bucketCounts: counts,
      count: counts.reduce((a, b) => a + b, 0n),
      sum: i,
    });
  }
  return out;
}

// ---- shapes of bugs found before: they must stay fixed ----

export const KNOWN_SHAPES = [
  'exp-offsets-0-and-int32-max-at-scale-0',
  'exp-offset-int32-max-then-scale-minus-1',
  'exp-offset-int32-min',
  'time-at-or-past-2^63',
  'delta-sum-1e308-twice',
] as const;
export type KnownShape = (typeof KNOWN_SHAPES)[number];

function exponentialShape(
  name: string,
  parts: { scale: number; offset: number; counts: number[] }[],
): Metric {
  const attributes: KeyValue[] = [{ key: 'shape', value: { kind: 'string', value: name } }];
  return {
    name,
    description: '',
    unit: 's',
    metadata: [],
    data: {
      kind: 'exponentialHistogram',
      temporality: 1,
      points: parts.map((part, i) => {
        const counts = part.counts.map(BigInt);
        return {
          attributes,
          start: BASE_NS + BigInt(i) * 1_000_000n,
          time: BASE_NS + BigInt(i + 1) * 1_000_000n,
          flags: 0,
          count: counts.reduce((a, b) => a + b, 0n),
          sum: 1,
          scale: part.scale,
          zeroCount: 0n,
          positive: { offset: part.offset, counts },
          negative: undefined,
          min: undefined,
          max: undefined,
          zeroThreshold: undefined,
        };
      }),
    },
  };
}

export function knownShape(rng: Rng, shape: KnownShape): Metric {
  switch (shape) {
    case 'exp-offsets-0-and-int32-max-at-scale-0':
      return exponentialShape(shape, [
        { scale: 0, offset: 0, counts: [1] },
        { scale: 0, offset: INT32_MAX, counts: [1, 1] },
      ]);
    case 'exp-offset-int32-max-then-scale-minus-1':
      return exponentialShape(shape, [
        { scale: 0, offset: INT32_MAX, counts: [1, 1] },
        { scale: -1, offset: 0, counts: [1] },
      ]);
    case 'exp-offset-int32-min':
      return exponentialShape(shape, [{ scale: rng.int(-10, 20), offset: INT32_MIN, counts: [2, 3] }]);
    case 'time-at-or-past-2^63': {
      const time = rng.pick([2n ** 63n, 2n ** 63n + 1n, 2n ** 64n - 1n]);
      return {
        name: shape,
        description: '',
        unit: '1',
        metadata: [],
        data: {
          kind: 'sum',
          temporality: 1,
          monotonic: true,
          points: [
            {
              attributes: [],
              start: rng.bool() ? undefined : time - 1n,
              time,
              flags: 0,
              value: { asInt: 7n },
            },
          ],
        },
      };
    }
    case 'delta-sum-1e308-twice': {
      const attributes: KeyValue[] = [{ key: 'shape', value: { kind: 'string', value: 'overflow' } }];
      const values = rng.pick([
        [1e308, 1e308],
        [Number.MAX_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE],
        [-1e308, -1e308, 5],
      ]);
      return {
        name: shape,
        description: '',
        unit: '1',
        metadata: [],
        data: {
          kind: 'sum',
          temporality: 1,
          monotonic: false,
          points: values.map((v, i) => ({
            attributes,
            start: BASE_NS,
            time: BASE_NS + BigInt(i + 1),
            flags: 0,
            value: { asDouble: v },
          })),
        },
      };
    }
  }
}

function scope(rng: Rng): Scope {
  return {
    name: rng.bool(0.8) ? text(rng) : '',
    version: rng.bool(0.5) ? ascii(rng, 1, 6) : '',
    attributes: rng.bool(0.1) ? keyValues(rng, rng.int(1, 3), 0) : [],
    metrics: Array.from(
      {
        length: rng.weighted<() => number>([
          [3, () => 0],
          [80, () => rng.int(1, 3)],
          [17, () => rng.int(4, 8)],
        ])(),
      },
      () => metric(rng),
    ),
    schemaUrl: rng.bool(0.3) ? 'https://opentelemetry.io/schemas/1.30.0' : '',
  };
}

function resource(rng: Rng): Resource {
  const attrs = rng.bool(0.7) ? keyValues(rng, rng.int(0, 4), 0) : [];
  const service = rng.weighted<() => KeyValue | undefined>([
    [
      80,
      () => ({
        key: 'service.name',
        value: { kind: 'string', value: rng.pick(['checkout', 'api', text(rng)]) },
      }),
    ],
    [10, () => ({ key: 'service.name', value: anyValue(rng, 0) })],
    [10, () => undefined],
  ])();
  return {
    attributes: service === undefined ? attrs : [service, ...attrs],
    scopes: Array.from(
      {
        length: rng.weighted<() => number>([
          [3, () => 0],
          [70, () => 1],
          [27, () => rng.int(2, 3)],
        ])(),
      },
      () => scope(rng),
    ),
    schemaUrl: rng.bool(0.3) ? 'https://opentelemetry.io/schemas/1.30.0' : '',
  };
}

export interface GeneratedRequest {
  readonly request: Request;
  /** Shapes of known bugs this request carries on purpose. */
  readonly shapes: readonly KnownShape[];
}

/** A valid request; about one in eight also carries the shape of a known bug as an extra metric. */
export function request(rng: Rng): GeneratedRequest {
  const resources = Array.from(
    {
      length: rng.weighted<() => number>([
        [3, () => 0],
        [75, () => 1],
        [22, () => rng.int(2, 3)],
      ])(),
    },
    () => resource(rng),
  );
  const shapes: KnownShape[] = [];
  if (rng.bool(0.12) && !profile.noShapes) {
    const shape = rng.pick(KNOWN_SHAPES);
    shapes.push(shape);
    const extra = knownShape(rng, shape);
    const first = resources[0];
    if (first === undefined || first.scopes.length === 0) {
      resources.push({
        attributes: [{ key: 'service.name', value: { kind: 'string', value: 'shapes' } }],
        scopes: [{ name: 'shapes', version: '', attributes: [], metrics: [extra], schemaUrl: '' }],
        schemaUrl: '',
      });
    } else {
      const [scope0, ...rest] = first.scopes;
      resources[0] = { ...first, scopes: [{ ...scope0!, metrics: [...scope0!.metrics, extra] }, ...rest] };
    }
  }
  return { request: { resources }, shapes };
}
