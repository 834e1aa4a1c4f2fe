/**
 * What the decoders acknowledge, storage writes: every point refused at write time (the ClickHouse exporter's
 * `pointProblem`, run by its row encoder) is refused by both decoders before the answer, in partial_success,
 * while the rest of the request is taken. The same holds for exemplars, which the row encoder drops silently:
 * every one a decoder keeps is in the row.
 */

import type { SeriesPoint } from '@tallyhouse/model';
import { INT32_MAX, INT32_MIN, MAX_BUCKETED_TIME_UNIX_NANO } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The exporter's own row encoder: a contract between two stages, so the test reaches into its source.
import { encodeRow } from '../../../exporter-clickhouse/src/row-encoding.ts';
import {
  decodeExportMetricsServiceRequestJson,
  OtlpDecodeError,
  type OtlpDecodeResult,
} from '../../src/otlp/index.ts';
import {
  acceptedPoints,
  ENCODINGS,
  type RawExemplar,
  type RawMetric,
  type RawPoint,
  type RawValue,
} from './raw-requests.ts';

const T0 = 1_700_000_000_000_000_000n;
const T1 = 1_700_000_010_000_000_000n;
const LAST = MAX_BUCKETED_TIME_UNIX_NANO;

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
  if (kind === 'summary') {
    return fc.record({
      type: fc.constant('summary' as const),
      count: uint64,
      sum: fc.option(anyDouble, { nil: undefined }),
      quantiles: fc.array(
        fc.record({ quantile: fc.oneof(fc.double({ min: 0, max: 1 }), anyDouble), value: anyDouble }),
        { maxLength: 3 },
      ),
    });
  }
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

/** Ids of the right length (all zeros among them), of none, and of lengths around it. */
const id = (bytes: number) =>
  fc.oneof(
    fc.uint8Array({ minLength: bytes, maxLength: bytes }),
    fc.constantFrom(new Uint8Array(0), new Uint8Array(bytes)),
    fc.uint8Array({ maxLength: bytes + 2 }),
  );

const rawExemplar: fc.Arbitrary<RawExemplar> = fc.record(
  { time, asDouble: anyDouble, asInt: int64, spanId: id(8), traceId: id(16), filtered: fc.boolean() },
  { requiredKeys: ['time', 'spanId', 'traceId'] },
);

const rawMetric: fc.Arbitrary<RawMetric> = fc
  .constantFrom('gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary' as const)
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
          exemplars:
            kind === 'summary'
              ? fc.constant(undefined)
              : fc.option(fc.array(rawExemplar, { maxLength: 3 }), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  );

function outcome(result: OtlpDecodeResult) {
  return {
    batch: result.batch,
    accepted: result.acceptedDataPoints,
    rejected: result.rejectedDataPoints,
    noRecordedValue: result.noRecordedValueDataPoints,
    messages: result.rejectionMessages,
    droppedExemplars: result.droppedExemplars ?? 0,
    exemplarMessages: result.exemplarMessages ?? [],
  };
}

/** The row holds exactly `point`'s exemplars: its `Exemplars.TimeUnix` and `.TraceId` arrays are theirs. */
function expectExemplarsInRow(line: string, point: SeriesPoint): void {
  const exemplars = point.exemplars ?? [];
  expect(line).toContain(`[${exemplars.map((e) => e.timeUnixNano).join(',')}]`);
  expect(line).toContain(JSON.stringify(exemplars.map((e) => e.traceId)));
}

describe('what a decoder takes, storage writes (property)', () => {
  it('the row encoder writes every point and exemplar either decoder accepts, and both decoders accept the same', () => {
    fc.assert(
      fc.property(fc.array(rawMetric, { minLength: 1, maxLength: 3 }), (metrics) => {
        const protobuf = outcome(ENCODINGS.protobuf(metrics));
        const json = outcome(ENCODINGS.json(metrics));
        expect(json).toEqual(protobuf);
        const points = metrics.flatMap((m) => m.points);
        expect(protobuf.accepted + protobuf.rejected + protobuf.noRecordedValue).toBe(points.length);
        const accepted = acceptedPoints(protobuf.batch);
        for (const point of accepted) {
          const line = encodeRow(point, { tenantAttribute: 'tenant.id' });
          if (point.metric.kind !== 'summary') expectExemplarsInRow(line, point);
        }
        // A dropped exemplar never costs its point; with every point kept, every exemplar is kept or dropped.
        if (protobuf.rejected === 0 && protobuf.noRecordedValue === 0) {
          const kept = accepted.reduce((n, p) => n + (p.exemplars?.length ?? 0), 0);
          const sent = points.reduce((n, p) => n + (p.exemplars?.length ?? 0), 0);
          expect(kept + protobuf.droppedExemplars).toBe(sent);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
