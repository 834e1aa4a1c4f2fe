/**
 * Which exemplars the decoders keep and which they drop, in both encodings alike: an exemplar that cannot be
 * stored is dropped with a warning in partial_success, never its point; a point keeps its ten most recent.
 */
import { MAX_EXEMPLARS_PER_POINT } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import {
  encodeExportMetricsServiceResponse,
  formatPartialSuccessMessage,
  MAX_PARTIAL_SUCCESS_MESSAGE_LENGTH,
  MAX_REJECTION_MESSAGES,
} from '../../src/otlp/index.ts';
import {
  acceptedPoints,
  ENCODINGS,
  type RawExemplar,
  type RawMetric,
  type RawPoint,
} from './raw-requests.ts';

const T1 = 1_700_000_010_000_000_000n;
const SPAN = Uint8Array.from(Buffer.from('00f067aa0ba902b7', 'hex'));
const TRACE = Uint8Array.from(Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex'));
const NONE = new Uint8Array(0);

const exemplar = (fields: Partial<RawExemplar> = {}): RawExemplar => ({
  time: T1 - 1n,
  asDouble: 0.5,
  spanId: SPAN,
  traceId: TRACE,
  ...fields,
});

const numberPoint = (exemplars: readonly RawExemplar[], fields: Partial<RawPoint> = {}): RawPoint => ({
  start: 0n,
  time: T1,
  flags: 0,
  value: { type: 'number', asDouble: 1 },
  exemplars,
  ...fields,
});

const sum = (name: string, ...points: RawPoint[]): RawMetric => ({
  name,
  kind: 'sum',
  temporality: 1,
  points,
});

describe.each(Object.keys(ENCODINGS) as (keyof typeof ENCODINGS)[])('in %s', (encoding) => {
  const decode = ENCODINGS[encoding];

  it('drops an exemplar storage cannot hold, naming it, and keeps its point and the other exemplars', () => {
    const bad: RawExemplar[] = [
      exemplar({ asDouble: undefined }),
      exemplar({ asDouble: Number.NaN }),
      exemplar({ asDouble: undefined, asInt: 2n ** 63n - 1n, time: 2n ** 63n }),
      exemplar({ spanId: SPAN.subarray(0, 4) }),
      exemplar({ traceId: new Uint8Array(17) }),
      exemplar({ asDouble: Number.NEGATIVE_INFINITY }),
    ];
    const result = decode([
      sum('m', ...bad.slice(0, 3).map((e) => numberPoint([e, exemplar()]))),
      sum('n', ...bad.slice(3).map((e) => numberPoint([exemplar(), e]))),
    ]);
    expect(result).toMatchObject({ acceptedDataPoints: 6, rejectedDataPoints: 0, droppedExemplars: 6 });
    const at = (metric: number, point: number, exemplar: number) =>
      `resourceMetrics[0].scopeMetrics[0].metrics[${metric}].sum.dataPoints[${point}].exemplars[${exemplar}]`;
    expect(result.exemplarMessages).toEqual([
      `${at(0, 0, 0)}: metric "m": exemplar dropped: it has neither asDouble nor asInt`,
      `${at(0, 1, 0)}.asDouble: metric "m": exemplar dropped: NaN is not finite`,
      `${at(0, 2, 0)}.timeUnixNano: metric "m": exemplar dropped: 9223372036854775808 is past 2^63 - 1 ns, the last time storage holds`,
      `${at(1, 0, 1)}.spanId: metric "n": exemplar dropped: "00f067aa" is not an id of 8 bytes (16 hex digits)`,
      `${at(1, 1, 1)}.traceId: metric "n": exemplar dropped: "0000000000000000000000000000000000" is not an id of 16 bytes (32 hex digits)`,
      `${at(1, 2, 1)}.asDouble: metric "n": exemplar dropped: -Infinity is not finite`,
    ]);
    for (const point of acceptedPoints(result.batch)) {
      expect(point.exemplars).toEqual([
        {
          filteredAttributes: {},
          timeUnixNano: T1 - 1n,
          value: 0.5,
          spanId: '00f067aa0ba902b7',
          traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        },
      ]);
    }
  });

  it('keeps an exemplar without trace context: ids absent or all zeros are stored as empty', () => {
    const result = decode([
      sum(
        'm',
        numberPoint([
          exemplar({ spanId: NONE, traceId: NONE, asDouble: undefined, asInt: -(2n ** 62n), filtered: true }),
          exemplar({ spanId: new Uint8Array(8), traceId: new Uint8Array(16) }),
        ]),
      ),
    ]);
    expect(result.droppedExemplars).toBeUndefined();
    expect(acceptedPoints(result.batch)[0]?.exemplars).toEqual([
      {
        filteredAttributes: { user: 'u1' },
        timeUnixNano: T1 - 1n,
        value: -(2 ** 62),
        spanId: '',
        traceId: '',
      },
      { filteredAttributes: {}, timeUnixNano: T1 - 1n, value: 0.5, spanId: '', traceId: '' },
    ]);
  });

  it(`keeps a point's ${MAX_EXEMPLARS_PER_POINT} most recent exemplars, oldest first, the later arrival winning a tie`, () => {
    // 25 exemplars at times T1 - 12 .. T1 in an order that is not time order; value = arrival index.
    const sent = Array.from({ length: 25 }, (_, i) =>
      exemplar({ time: T1 - BigInt((i * 7) % 13), asDouble: i }),
    );
    const [point] = acceptedPoints(decode([sum('m', numberPoint(sent))]).batch);
    const expected = sent
      .map((e, arrival) => ({ time: e.time, arrival }))
      .sort((a, b) => (a.time === b.time ? a.arrival - b.arrival : a.time < b.time ? -1 : 1))
      .slice(-MAX_EXEMPLARS_PER_POINT);
    expect(point?.exemplars?.map((e) => [e.timeUnixNano, e.value])).toEqual(
      expected.map((e) => [e.time, e.arrival]),
    );
  });

  it('reads the exemplars of histogram and exponential histogram points (their own field numbers)', () => {
    const result = decode([
      {
        name: 'h',
        kind: 'histogram',
        temporality: 1,
        points: [
          {
            ...numberPoint([exemplar({ asDouble: 3 })]),
            value: { type: 'histogram', count: 1n, sum: 3, bucketCounts: [], bounds: [] },
          },
        ],
      },
      {
        name: 'e',
        kind: 'exponentialHistogram',
        temporality: 2,
        points: [
          {
            ...numberPoint([exemplar({ asDouble: 4 })]),
            value: {
              type: 'exponential',
              count: 1n,
              sum: 4,
              scale: 0,
              zeroCount: 0n,
              positive: { offset: 2, counts: [1n] },
              negative: { offset: 0, counts: [] },
            },
          },
        ],
      },
    ]);
    expect(acceptedPoints(result.batch).map((p) => p.exemplars?.map((e) => e.value))).toEqual([[3], [4]]);
  });

  it('lets the exemplars of a point that is not kept go with it, unreported', () => {
    const bad = [exemplar({ asDouble: Number.NaN })];
    const result = decode([
      sum('m', numberPoint(bad, { time: 0n }), numberPoint(bad, { flags: 1 }), numberPoint([])),
      sum('', numberPoint(bad)),
    ]);
    expect(result).toMatchObject({
      acceptedDataPoints: 1,
      rejectedDataPoints: 2,
      noRecordedValueDataPoints: 1,
    });
    expect(result.droppedExemplars).toBeUndefined();
    expect(formatPartialSuccessMessage(result)).not.toContain('exemplar');
  });

  it('reports drops as a warning beside rejections: counted exactly, the messages bounded', () => {
    const points = Array.from({ length: 40 }, () =>
      numberPoint(Array.from({ length: 50 }, () => exemplar({ traceId: TRACE.subarray(0, 15) }))),
    );
    const result = decode([
      sum('a', ...points.slice(0, 20)),
      sum('b', ...points.slice(20)),
      sum('c', numberPoint([], { time: 0n })),
    ]);
    expect(result).toMatchObject({ acceptedDataPoints: 40, rejectedDataPoints: 1, droppedExemplars: 2000 });
    expect(result.exemplarMessages?.length).toBeLessThanOrEqual(MAX_REJECTION_MESSAGES);
    const message = formatPartialSuccessMessage(result);
    expect(message.length).toBeLessThanOrEqual(MAX_PARTIAL_SUCCESS_MESSAGE_LENGTH);
    expect(message).toMatch(/^1 data point rejected: .*; 2000 exemplars dropped, their points kept: /);

    const warningOnly = decode([sum('m', numberPoint([exemplar({ asDouble: undefined })]))]);
    const body = encodeExportMetricsServiceResponse(
      {
        rejectedDataPoints: warningOnly.rejectedDataPoints,
        errorMessage: formatPartialSuccessMessage(warningOnly),
      },
      'json',
    );
    expect(JSON.parse(Buffer.from(body).toString())).toEqual({
      partialSuccess: {
        errorMessage:
          '1 exemplar dropped, their points kept: resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0]: metric "m": exemplar dropped: it has neither asDouble nor asInt',
      },
    });
  });
});
