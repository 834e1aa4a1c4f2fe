/**
 * What the decoders acknowledge, storage writes: every point refused at write time (the ClickHouse exporter's
 * `pointProblem`, run by its row encoder) is refused by both decoders before the answer, in partial_success,
 * while the rest of the request is taken.
 */

import type { InputBatch, SeriesPoint } from '@tallyhouse/model';
import { INT32_MAX, INT32_MIN, MAX_BUCKETED_TIME_UNIX_NANO } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The exporter's own row encoder: a contract between two stages, so the test reaches into its source.
import { encodeRow } from '../../../exporter-clickhouse/src/row-encoding.ts';
import {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestProtobuf,
  OtlpDecodeError,
  type OtlpDecodeResult,
} from '../../src/otlp/index.ts';
import { concat, pb } from './otlp-encoder.ts';

const T0 = 1_700_000_000_000_000_000n;
const T1 = 1_700_000_010_000_000_000n;
const LAST = MAX_BUCKETED_TIME_UNIX_NANO;

// ---- a wire-level description of points, so any value can be sent in either encoding ----

interface Buckets {
  readonly offset: number;
  readonly counts: readonly bigint[];
}

type RawValue =
  | { readonly type: 'number'; readonly asDouble?: number; readonly asInt?: bigint }
  | {
      readonly type: 'histogram';
      readonly count: bigint;
      readonly sum?: number;
      readonly bucketCounts: readonly bigint[];
      readonly bounds: readonly number[];
      readonly min?: number;
      readonly max?: number;
    }
  | {
      readonly type: 'exponential';
      readonly count: bigint;
      readonly sum?: number;
      readonly scale: number;
      readonly zeroCount: bigint;
      readonly positive: Buckets;
      readonly negative: Buckets;
      readonly min?: number;
      readonly max?: number;
    };

interface RawPoint {
  readonly start: bigint;
  readonly time: bigint;
  readonly flags: number;
  readonly value: RawValue;
}

interface RawMetric {
  readonly name: string;
  readonly kind: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram';
  readonly temporality: number;
  readonly points: readonly RawPoint[];
}

const DATA_FIELD = { gauge: 5, sum: 7, histogram: 9, exponentialHistogram: 10 } as const;
const optionalDouble = (field: number, value: number | undefined) =>
  value === undefined ? [] : [pb.double(field, value)];

function pointProtobuf(point: RawPoint): Uint8Array {
  const times = [
    pb.fixed64(2, point.start),
    pb.fixed64(3, point.time),
    pb.varint(point.value.type === 'number' ? 8 : 10, point.flags),
  ];
  const attribute = (field: number) =>
    pb.message(field, pb.string(1, 'route'), pb.message(2, pb.string(1, '/pay')));
  const v = point.value;
  if (v.type === 'number') {
    return concat(
      attribute(7),
      ...times,
      ...(v.asDouble === undefined ? [] : [pb.double(4, v.asDouble)]),
      ...(v.asInt === undefined ? [] : [pb.fixed64(6, v.asInt)]),
    );
  }
  if (v.type === 'histogram') {
    return concat(
      attribute(9),
      ...times,
      pb.fixed64(4, v.count),
      ...optionalDouble(5, v.sum),
      ...(v.bucketCounts.length > 0 ? [pb.packedFixed64(6, v.bucketCounts)] : []),
      ...(v.bounds.length > 0 ? [pb.packedDouble(7, v.bounds)] : []),
      ...optionalDouble(11, v.min),
      ...optionalDouble(12, v.max),
    );
  }
  const buckets = (b: Buckets) =>
    concat(pb.sint32(1, b.offset), ...(b.counts.length > 0 ? [pb.packedVarint(2, b.counts)] : []));
  return concat(
    attribute(1),
    pb.fixed64(2, point.start),
    pb.fixed64(3, point.time),
    pb.varint(10, point.flags),
    pb.fixed64(4, v.count),
    ...optionalDouble(5, v.sum),
    pb.sint32(6, v.scale),
    pb.fixed64(7, v.zeroCount),
    pb.message(8, buckets(v.positive)),
    pb.message(9, buckets(v.negative)),
    ...optionalDouble(12, v.min),
    ...optionalDouble(13, v.max),
  );
}

function requestProtobuf(metrics: readonly RawMetric[]): Uint8Array {
  const metricBytes = metrics.map((m) =>
    pb.message(
      2,
      pb.string(1, m.name),
      pb.message(
        DATA_FIELD[m.kind],
        ...m.points.map((p) => pb.message(1, pointProtobuf(p))),
        ...(m.kind === 'gauge' ? [] : [pb.varint(2, m.temporality)]),
      ),
    ),
  );
  return pb.message(1, pb.message(2, pb.message(1, pb.string(1, 'scope')), ...metricBytes));
}

/** OTLP/JSON doubles: non-finite as names, -0 as "-0" (a JSON number would lose the sign). */
const double = (v: number | undefined) =>
  v === undefined
    ? undefined
    : Number.isFinite(v) && !Object.is(v, -0)
      ? v
      : Object.is(v, -0)
        ? '-0'
        : String(v);

function pointJson(point: RawPoint): object {
  const common = {
    attributes: [{ key: 'route', value: { stringValue: '/pay' } }],
    startTimeUnixNano: String(point.start),
    timeUnixNano: String(point.time),
    flags: point.flags,
  };
  const v = point.value;
  if (v.type === 'number')
    return {
      ...common,
      asDouble: double(v.asDouble),
      asInt: v.asInt === undefined ? undefined : String(v.asInt),
    };
  const shared = { count: String(v.count), sum: double(v.sum), min: double(v.min), max: double(v.max) };
  if (v.type === 'histogram') {
    return {
      ...common,
      ...shared,
      bucketCounts: v.bucketCounts.map(String),
      explicitBounds: v.bounds.map(double),
    };
  }
  const buckets = (b: Buckets) => ({ offset: b.offset, bucketCounts: b.counts.map(String) });
  return {
    ...common,
    ...shared,
    scale: v.scale,
    zeroCount: String(v.zeroCount),
    positive: buckets(v.positive),
    negative: buckets(v.negative),
  };
}

function requestJson(metrics: readonly RawMetric[]): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            scope: { name: 'scope' },
            metrics: metrics.map((m) => ({
              name: m.name,
              [m.kind]: {
                dataPoints: m.points.map(pointJson),
                ...(m.kind === 'gauge' ? {} : { aggregationTemporality: m.temporality }),
              },
            })),
          },
        ],
      },
    ],
  });
}

const ENCODINGS = {
  protobuf: (metrics: readonly RawMetric[]) =>
    decodeExportMetricsServiceRequestProtobuf(requestProtobuf(metrics)),
  json: (metrics: readonly RawMetric[]) => decodeExportMetricsServiceRequestJson(requestJson(metrics)),
} as const;

function acceptedPoints(batch: InputBatch): SeriesPoint[] {
  return batch.resourceMetrics.flatMap((rm) =>
    rm.scopeMetrics.flatMap((sm) =>
      sm.metrics.flatMap((m) =>
        m.points.map(
          (p): SeriesPoint => ({
            tenant: 'acme',
            resource: rm.resource,
            scope: sm.scope,
            metric: m.metric,
            attributes: p.attributes,
            startTimeUnixNano: p.startTimeUnixNano,
            timeUnixNano: p.timeUnixNano,
            value: p.value,
          }),
        ),
      ),
    ),
  );
}

const gaugeAt = (time: bigint, start = 0n, asDouble = 1): RawPoint => ({
  start,
  time,
  flags: 0,
  value: { type: 'number', asDouble },
});

const exponential = (offset: number, negativeOffset = offset): RawPoint => ({
  start: T0,
  time: T1,
  flags: 0,
  value: {
    type: 'exponential',
    count: 3n,
    sum: 1.5,
    scale: 0,
    zeroCount: 0n,
    positive: { offset, counts: [1n, 2n] },
    negative: { offset: negativeOffset, counts: [] },
  },
});

describe.each(Object.keys(ENCODINGS) as (keyof typeof ENCODINGS)[])('in %s', (encoding) => {
  const decode = ENCODINGS[encoding];

  it('refuses a point at 2^63 ns in partial_success, naming the field and the metric, and takes the rest', () => {
    const result = decode([
      {
        name: 'temperature',
        kind: 'gauge',
        temporality: 0,
        points: [gaugeAt(2n ** 63n), gaugeAt(T1, 0n, 2)],
      },
    ]);
    expect(result.rejectedDataPoints).toBe(1);
    expect(result.rejectionMessages).toEqual([
      `resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].timeUnixNano: metric "temperature": 9223372036854775808 is past ${LAST} (2106-02-07T06:28:15.999999999Z), the last time storage can bucket`,
    ]);
    expect(acceptedPoints(result.batch).map((p) => p.value)).toEqual([{ value: 2 }]);
  });

  it('takes times up to 2106-02-07T06:28:15.999999999Z and refuses one nanosecond later, start times too', () => {
    const result = decode([
      {
        name: 'g',
        kind: 'gauge',
        temporality: 0,
        points: [gaugeAt(LAST, LAST), gaugeAt(LAST + 1n), gaugeAt(T1, LAST + 1n), gaugeAt(2n ** 64n - 1n)],
      },
    ]);
    expect(acceptedPoints(result.batch).map((p) => [p.startTimeUnixNano, p.timeUnixNano])).toEqual([
      [LAST, LAST],
    ]);
    expect(result.rejectionMessages.map((m) => /dataPoints\[\d\]\.\w+/.exec(m)?.[0])).toEqual([
      'dataPoints[1].timeUnixNano',
      'dataPoints[2].startTimeUnixNano',
      'dataPoints[3].timeUnixNano',
    ]);
  });

  it('takes exponential bucket offsets over the whole int32 range, -2147483648 included', () => {
    const result = decode([
      {
        name: 'e',
        kind: 'exponentialHistogram',
        temporality: 1,
        points: [exponential(INT32_MIN, INT32_MAX)],
      },
    ]);
    expect(result.rejectionMessages).toEqual([]);
    const [point] = acceptedPoints(result.batch);
    expect(point?.value).toMatchObject({
      positive: { offset: INT32_MIN, bucketCounts: [1, 2] },
      negative: { offset: INT32_MAX },
    });
    expect(() => encodeRow(point!, { tenantAttribute: 'tenant.id' })).not.toThrow();
  });
});

describe('JSON strings', () => {
  const withAttribute = (escaped: string) =>
    `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"${T1}","asDouble":1,"attributes":[{"key":"k","value":{"stringValue":"${escaped}"}}]}]}}]}]}]}`;

  it('refuses an unpaired surrogate escape as invalid UTF-8, naming the path, as protobuf refuses invalid UTF-8', () => {
    for (const escaped of ['\\ud800', 'a\\udfff', '\\udc00\\ud800']) {
      let error: unknown;
      try {
        decodeExportMetricsServiceRequestJson(withAttribute(escaped));
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(OtlpDecodeError);
      expect((error as OtlpDecodeError).code).toBe('INVALID_UTF8');
      expect((error as OtlpDecodeError).path).toBe(
        'resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].attributes[0].value.stringValue',
      );
    }
  });

  it('takes a surrogate pair written as escapes, and a literal backslash-u text', () => {
    const result = decodeExportMetricsServiceRequestJson(withAttribute('\\ud83d\\ude00 and \\\\ud800'));
    expect(acceptedPoints(result.batch)[0]?.attributes).toEqual({ k: '😀 and \\ud800' });
  });
});

// ---- property: what a decoder takes, the row encoder writes ----

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const uint64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 100n }),
  fc.constantFrom(0n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const time = fc.oneof(
  fc.constantFrom(0n, 1n, LAST, LAST + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: T0, max: T1 }),
);
const anyDouble = fc.oneof(
  fc.double(),
  fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
);
const int32 = fc.oneof(
  fc.constantFrom(INT32_MIN, INT32_MAX, 0),
  fc.integer({ min: INT32_MIN, max: INT32_MAX }),
);
const buckets = fc.record({ offset: int32, counts: fc.array(uint64, { maxLength: 4 }) });

const rawValue = (kind: RawMetric['kind']): fc.Arbitrary<RawValue> => {
  if (kind === 'gauge' || kind === 'sum') {
    return fc.record(
      { type: fc.constant('number' as const), asDouble: anyDouble, asInt: int64 },
      { requiredKeys: ['type'] },
    );
  }
  const shared = {
    count: uint64,
    sum: fc.option(anyDouble, { nil: undefined }),
    min: fc.option(anyDouble, { nil: undefined }),
    max: fc.option(anyDouble, { nil: undefined }),
  };
  if (kind === 'histogram') {
    return fc.record({
      type: fc.constant('histogram' as const),
      ...shared,
      bucketCounts: fc.array(uint64, { maxLength: 5 }),
      bounds: fc.oneof(
        fc.array(anyDouble, { maxLength: 4 }),
        fc
          .uniqueArray(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 4 })
          .map((b) => b.sort((x, y) => x - y)),
      ),
    });
  }
  return fc.record({
    type: fc.constant('exponential' as const),
    ...shared,
    scale: fc.oneof(fc.integer({ min: -12, max: 22 }), int32),
    zeroCount: uint64,
    positive: buckets,
    negative: buckets,
  });
};

const rawMetric: fc.Arbitrary<RawMetric> = fc
  .constantFrom('gauge', 'sum', 'histogram', 'exponentialHistogram' as const)
  .chain((kind) =>
    fc.record({
      name: fc.constantFrom('m', 'requests', ''),
      kind: fc.constant(kind),
      temporality: fc.constantFrom(1, 2, 1, 2, 0, 3),
      points: fc.array(
        fc.record({
          start: fc.oneof(fc.constant(0n), time),
          time,
          flags: fc.constantFrom(0, 0, 0, 1),
          value: rawValue(kind),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  );

function summary(result: OtlpDecodeResult) {
  return {
    batch: result.batch,
    accepted: result.acceptedDataPoints,
    rejected: result.rejectedDataPoints,
    noRecordedValue: result.noRecordedValueDataPoints,
    messages: result.rejectionMessages,
  };
}

describe('what a decoder takes, storage writes (property)', () => {
  it('the row encoder writes every point either decoder accepts, and both decoders accept the same points', () => {
    fc.assert(
      fc.property(fc.array(rawMetric, { minLength: 1, maxLength: 3 }), (metrics) => {
        const protobuf = summary(ENCODINGS.protobuf(metrics));
        const json = summary(ENCODINGS.json(metrics));
        expect(json).toEqual(protobuf);
        const sent = metrics.reduce((n, m) => n + m.points.length, 0);
        expect(protobuf.accepted + protobuf.rejected + protobuf.noRecordedValue).toBe(sent);
        for (const point of acceptedPoints(protobuf.batch)) {
          expect(() => encodeRow(point, { tenantAttribute: 'tenant.id' })).not.toThrow();
        }
      }),
      { numRuns: 1000 },
    );
  });
});
