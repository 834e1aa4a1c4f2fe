import type { AttributeValue, InputBatch } from '@tallyhouse/model';
import { MAX_BUCKETED_TIME_UNIX_NANO } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeExportMetricsServiceRequestProtobuf as decode,
  formatPartialSuccessMessage,
  MAX_ANY_VALUE_DEPTH,
  MAX_REJECTION_MESSAGES,
  OtlpDecodeError,
} from '../../src/otlp/index.ts';
import { batch as batchArbitrary } from './arbitraries.ts';
import { decodeErrorOf } from './decode-error.ts';
import { concat, encodeAnyValueProtobuf, encodeRequestProtobuf, pb, varintBytes } from './otlp-encoder.ts';

const T0 = 1_700_000_000_123_456_789n;
const T1 = 1_700_000_010_987_654_321n;

/** A request with one resource, one scope and the given Metric message bodies. */
function request(...metrics: Uint8Array[]): Uint8Array {
  return pb.message(
    1,
    pb.message(1, pb.message(1, pb.string(1, 'service.name'), pb.message(2, pb.string(1, 'svc')))),
    pb.message(2, pb.message(1, pb.string(1, 'scope')), ...metrics.map((m) => pb.message(2, m))),
  );
}

function numberPoint(...fields: Uint8Array[]): Uint8Array {
  return pb.message(1, ...fields);
}

function sumMetric(name: string, temporality: number | undefined, ...points: Uint8Array[]): Uint8Array {
  return concat(
    pb.string(1, name),
    pb.message(
      7,
      ...points,
      ...(temporality === undefined ? [] : [pb.varint(2, temporality)]),
      pb.varint(3, 1),
    ),
  );
}

function attribute(key: string, value: AttributeValue): Uint8Array {
  return pb.message(7, pb.string(1, key), pb.message(2, encodeAnyValueProtobuf(value)));
}

const decodeError = (bytes: Uint8Array) => decodeErrorOf(decode, bytes);

function onlyMetric(b: InputBatch) {
  const metric = b.resourceMetrics[0]?.scopeMetrics[0]?.metrics[0];
  if (metric === undefined) throw new Error('no metric decoded');
  return metric;
}

const goodPoint = numberPoint(pb.fixed64(2, T0), pb.fixed64(3, T1), pb.double(4, 1.5));

describe('protobuf decoding of values', () => {
  it('keeps fixed64 times exact to the nanosecond, up to the last one storage can bucket (2106-02-07)', () => {
    const max = MAX_BUCKETED_TIME_UNIX_NANO;
    const result = decode(
      request(
        sumMetric('m', 1, numberPoint(pb.fixed64(2, T0), pb.fixed64(3, max), pb.double(4, 1)), goodPoint),
      ),
    );
    const points = onlyMetric(result.batch).points;
    expect(points.map((p) => [p.startTimeUnixNano, p.timeUnixNano])).toEqual([
      [T0, max],
      [T0, T1],
    ]);
  });

  it('reads asInt as sfixed64: negatives exactly, beyond 2^53 as the nearest number', () => {
    const values = [-5n, 2n ** 53n - 1n, -(2n ** 63n), 2n ** 63n - 1n];
    const result = decode(
      request(sumMetric('m', 2, ...values.map((v) => numberPoint(pb.fixed64(3, T1), pb.fixed64(6, v))))),
    );
    expect(onlyMetric(result.batch).points.map((p) => (p.value as { value: number }).value)).toEqual([
      -5,
      2 ** 53 - 1,
      -(2 ** 63),
      2 ** 63,
    ]);
  });

  it('turns every AnyValue kind into an attribute value', () => {
    const kvlist = pb.message(
      6,
      pb.message(1, pb.string(1, 'z'), pb.message(2, pb.varint(3, 1))),
      pb.message(1, pb.string(1, 'a'), pb.message(2, pb.string(1, 'first'))),
      pb.message(1, pb.string(1, 'm'), pb.message(2, pb.message(5, pb.message(1, pb.varint(2, 1))))),
    );
    const point = numberPoint(
      pb.fixed64(3, T1),
      pb.double(4, 1),
      attribute('s', 'text ✓'),
      attribute('t', true),
      attribute('f', false),
      attribute('i', -42),
      pb.message(7, pb.string(1, 'negative64'), pb.message(2, pb.varint(3, -(2n ** 63n)))),
      pb.message(7, pb.string(1, 'unsafe'), pb.message(2, pb.varint(3, 2n ** 53n + 1n))),
      attribute('d', 0.1),
      attribute('arr', ['b', 'a', 3, [true]]),
      pb.message(7, pb.string(1, 'kv'), pb.message(2, kvlist)),
      pb.message(7, pb.string(1, 'bytes'), pb.message(2, pb.bytes(7, Uint8Array.from([0, 255, 16, 32])))),
      pb.message(7, pb.string(1, 'empty'), pb.message(2)),
      pb.message(7, pb.string(1, 'novalue')),
      // string_value_strindex and key_strindex belong to profiles and are ignored.
      pb.message(7, pb.string(1, 'strindex'), pb.message(2, pb.varint(8, 3))),
      pb.message(7, pb.string(1, 'keyindex'), pb.varint(3, 9), pb.message(2, pb.string(1, 'v'))),
    );
    const attributes = onlyMetric(decode(request(sumMetric('m', 1, point))).batch).points[0]!.attributes;
    expect(attributes).toEqual({
      s: 'text ✓',
      t: true,
      f: false,
      i: -42,
      negative64: '-9223372036854775808',
      unsafe: '9007199254740993',
      d: 0.1,
      arr: ['b', 'a', 3, [true]],
      kv: { a: 'first', m: [true], z: 1 },
      bytes: 'AP8QIA==',
      empty: null,
      novalue: null,
      strindex: null,
      keyindex: 'v',
    });
    expect(Object.keys(attributes.kv as object)).toEqual(['a', 'm', 'z']);
  });

  it('returns the right text for many distinct and colliding short strings (interning never mixes them up)', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i.toString(36)}`);
    keys.push('ab', 'ba', 'Aa', 'BB', 'a\u0000', '\u0000a');
    for (let round = 0; round < 2; round++) {
      const points = keys.map((key, i) =>
        numberPoint(pb.fixed64(3, T1), pb.double(4, i), attribute(key, `${key}=v`)),
      );
      const decoded = onlyMetric(decode(request(sumMetric('m', 1, ...points))).batch).points;
      decoded.forEach((point, i) => {
        expect(point.attributes).toEqual({ [keys[i]!]: `${keys[i]}=v` });
      });
    }
  });

  it('lets the last of duplicate keys win, and never lets __proto__ touch the prototype', () => {
    const point = numberPoint(
      pb.fixed64(3, T1),
      pb.double(4, 1),
      attribute('k', 'first'),
      attribute('k', 'second'),
      attribute('__proto__', { polluted: true }),
    );
    const attributes = onlyMetric(decode(request(sumMetric('m', 1, point))).batch).points[0]!.attributes;
    expect(attributes.k).toBe('second');
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('accepts repeated scalars packed and unpacked, even mixed in one field', () => {
    const histogram = (counts: Uint8Array[], bounds: Uint8Array[]) =>
      concat(
        pb.string(1, 'h'),
        pb.message(
          9,
          pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 6n), pb.double(5, 10), ...counts, ...bounds),
          pb.varint(2, 1),
        ),
      );
    const packed = decode(
      request(histogram([pb.packedFixed64(6, [1n, 2n, 3n])], [pb.packedDouble(7, [1, 2])])),
    );
    const unpacked = decode(
      request(
        histogram(
          [1n, 2n, 3n].map((c) => pb.fixed64(6, c)),
          [pb.double(7, 1), pb.double(7, 2)],
        ),
      ),
    );
    const mixed = decode(
      request(
        histogram(
          [pb.fixed64(6, 1n), pb.packedFixed64(6, [2n, 3n])],
          [pb.packedDouble(7, [1]), pb.double(7, 2)],
        ),
      ),
    );
    expect(onlyMetric(packed.batch).points[0]!.value).toEqual({
      count: 6,
      sum: 10,
      bounds: [1, 2],
      bucketCounts: [1, 2, 3],
      min: undefined,
      max: undefined,
    });
    expect(unpacked.batch).toEqual(packed.batch);
    expect(mixed.batch).toEqual(packed.batch);
  });

  it('skips unknown fields of every wire type, groups included, at every level', () => {
    const b = fc.sample(batchArbitrary, { seed: 7, numRuns: 5 });
    for (const sample of b) {
      expect(decode(encodeRequestProtobuf(sample, { unknownFields: true })).batch).toEqual(sample);
    }
  });

  it('lets the last data field of the Metric oneof win', () => {
    const metric = concat(
      pb.string(1, 'm'),
      pb.message(5, goodPoint),
      pb.message(7, numberPoint(pb.fixed64(3, T1), pb.double(4, 7)), pb.varint(2, 2)),
    );
    const decoded = onlyMetric(decode(request(metric)).batch);
    expect(decoded.metric.kind).toBe('sum');
    expect(decoded.temporality).toBe('cumulative');
    expect(decoded.points).toHaveLength(1);
  });

  it('decodes an empty body to an empty batch', () => {
    expect(decode(new Uint8Array(0))).toEqual({
      batch: { resourceMetrics: [] },
      acceptedDataPoints: 0,
      rejectedDataPoints: 0,
      rejectionMessages: [],
      noRecordedValueDataPoints: 0,
    });
  });

  it('treats a histogram without buckets as one bucket, and an absent sum as 0', () => {
    const metric = concat(
      pb.string(1, 'h'),
      pb.message(
        9,
        pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 4n), pb.double(11, -1), pb.double(12, 3)),
        pb.varint(2, 2),
      ),
    );
    expect(onlyMetric(decode(request(metric)).batch).points[0]!.value).toEqual({
      count: 4,
      sum: 0,
      bounds: [],
      bucketCounts: [4],
      min: -1,
      max: 3,
    });
  });
});

describe('protobuf point rejections', () => {
  it('rejects only the bad points, naming path, metric and reason', () => {
    const result = decode(
      request(
        sumMetric(
          'requests',
          1,
          goodPoint,
          numberPoint(pb.fixed64(3, T1), pb.double(4, Number.NaN)),
          numberPoint(pb.fixed64(2, T0), pb.double(4, 1)),
          numberPoint(pb.fixed64(3, T1)),
          numberPoint(pb.fixed64(3, T1), pb.double(4, Number.POSITIVE_INFINITY)),
          goodPoint,
        ),
      ),
    );
    expect(result.acceptedDataPoints).toBe(2);
    expect(onlyMetric(result.batch).points).toHaveLength(2);
    expect(result.rejectedDataPoints).toBe(4);
    const base = 'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints';
    expect(result.rejectionMessages).toEqual([
      `${base}[1].asDouble: metric "requests": NaN is not accepted; sum values must be finite`,
      `${base}[2].timeUnixNano: metric "requests": missing (0); every data point needs its observation time`,
      `${base}[3]: metric "requests": the point has neither asDouble nor asInt`,
      `${base}[4].asDouble: metric "requests": Infinity is not accepted; sum values must be finite`,
    ]);
    expect(formatPartialSuccessMessage(result)).toMatch(/^4 data points rejected: resourceMetrics\[0\]/);
  });

  it('rejects a whole sum or histogram whose aggregation temporality is unspecified or unknown', () => {
    const histogram = concat(
      pb.string(1, 'h'),
      pb.message(9, pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 1n))),
    );
    const result = decode(
      request(sumMetric('s0', undefined, goodPoint, goodPoint), sumMetric('s7', 7, goodPoint), histogram),
    );
    expect(result.batch).toEqual({ resourceMetrics: [] });
    expect(result.rejectedDataPoints).toBe(4);
    expect(result.rejectionMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum: metric "s0": 2 data points rejected: aggregationTemporality is UNSPECIFIED (0); it must be DELTA (1) or CUMULATIVE (2)',
      'resourceMetrics[0].scopeMetrics[0].metrics[1].sum: metric "s7": 1 data point rejected: aggregationTemporality 7 is unknown; it must be DELTA (1) or CUMULATIVE (2)',
      'resourceMetrics[0].scopeMetrics[0].metrics[2].histogram: metric "h": 1 data point rejected: aggregationTemporality is UNSPECIFIED (0); it must be DELTA (1) or CUMULATIVE (2)',
    ]);
  });

  it('accepts Summary points as sent and rejects one with a quantile outside [0, 1], naming it', () => {
    const summaryPoint = (quantile: number) =>
      pb.message(
        1,
        pb.fixed64(3, T1),
        pb.fixed64(4, 3n),
        pb.double(5, 9),
        pb.message(6, pb.double(1, 0.5), pb.double(2, 2.5)),
        pb.message(6, pb.double(1, quantile), pb.double(2, 4)),
      );
    const result = decode(
      request(
        concat(pb.string(1, 'latency'), pb.message(11, summaryPoint(1), summaryPoint(1.5))),
        sumMetric('ok', 1, goodPoint),
      ),
    );
    expect(result.acceptedDataPoints).toBe(2);
    expect(result.rejectedDataPoints).toBe(1);
    expect(result.rejectionMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints[1].quantileValues[1].quantile: metric "latency": storage refuses it: 1.5 is not a quantile (a number in [0, 1])',
    ]);
    const [summary] = result.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    expect(summary?.metric).toMatchObject({ name: 'latency', kind: 'summary', monotonic: false });
    expect(summary?.points.map((point) => point.value)).toEqual([
      {
        count: 3,
        sum: 9,
        quantileValues: [
          { quantile: 0.5, value: 2.5 },
          { quantile: 1, value: 4 },
        ],
      },
    ]);
  });

  it('decodes exemplars with their trace context, and drops (naming it) one that cannot be stored', () => {
    const traceId = Uint8Array.from(Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex'));
    const spanId = Uint8Array.from(Buffer.from('00f067aa0ba902b7', 'hex'));
    const exemplar = (...fields: Uint8Array[]) => pb.message(5, ...fields);
    const point = numberPoint(
      pb.fixed64(3, T1),
      pb.double(4, 1),
      exemplar(
        attribute('user', 'u1'),
        pb.fixed64(2, T1 - 5n),
        pb.double(3, 0.25),
        pb.bytes(4, spanId),
        pb.bytes(5, traceId),
      ),
      exemplar(pb.fixed64(2, T1 - 4n), pb.fixed64(6, 7n), pb.bytes(4, spanId.subarray(0, 4))),
      exemplar(pb.fixed64(2, T1 - 3n), pb.fixed64(6, 9n), pb.bytes(5, new Uint8Array(16))),
    );
    const result = decode(request(sumMetric('m', 1, point)));
    expect(result.acceptedDataPoints).toBe(1);
    expect(result.rejectedDataPoints).toBe(0);
    expect(result.droppedExemplars).toBe(1);
    expect(result.exemplarMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[1].spanId: metric "m": exemplar dropped: "00f067aa" is not an id of 8 bytes (16 hex digits)',
    ]);
    expect(formatPartialSuccessMessage(result)).toMatch(/^1 exemplar dropped, their points kept: /);
    const [decoded] = result.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points;
    expect(decoded?.exemplars).toEqual([
      {
        filteredAttributes: { user: 'u1' },
        timeUnixNano: T1 - 5n,
        value: 0.25,
        spanId: '00f067aa0ba902b7',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      },
      // An all-zero trace id is no trace context.
      { filteredAttributes: {}, timeUnixNano: T1 - 3n, value: 9, spanId: '', traceId: '' },
    ]);
  });

  it('keeps the ten most recent exemplars of a point that carries thousands', () => {
    const exemplars = Array.from({ length: 5_000 }, (_, i) =>
      pb.message(5, pb.fixed64(2, T1 - 10_000n + BigInt((i * 7919) % 5_000)), pb.double(3, i)),
    );
    const result = decode(
      request(sumMetric('m', 1, numberPoint(pb.fixed64(3, T1), pb.double(4, 1), ...exemplars))),
    );
    const times = result.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points[0]!.exemplars!.map(
      (exemplar) => exemplar.timeUnixNano,
    );
    expect(times).toEqual(Array.from({ length: 10 }, (_, i) => T1 - 10_000n + 4_990n + BigInt(i)));
  });

  it('drops points flagged "no recorded value" without calling them rejected', () => {
    const stale = numberPoint(pb.fixed64(3, T1), pb.varint(8, 1));
    const result = decode(request(sumMetric('m', 2, stale, goodPoint)));
    expect(result).toMatchObject({
      acceptedDataPoints: 1,
      rejectedDataPoints: 0,
      noRecordedValueDataPoints: 1,
    });
  });

  it('rejects histograms whose buckets do not fit their bounds, and counts beyond 2^53', () => {
    const point = (...fields: Uint8Array[]) =>
      pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 2n), pb.double(5, 1), ...fields);
    const metric = concat(
      pb.string(1, 'h'),
      pb.message(
        9,
        point(pb.packedFixed64(6, [1n, 1n]), pb.packedDouble(7, [1, 2])),
        point(pb.packedFixed64(6, [1n, 1n, 0n]), pb.packedDouble(7, [2, 1])),
        point(pb.packedFixed64(6, [2n ** 53n, 0n]), pb.packedDouble(7, [1])),
        pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 2n ** 60n)),
        point(pb.double(5, Number.NaN)),
        pb.varint(2, 1),
      ),
    );
    const messages = decode(request(metric)).rejectionMessages.map((m) => m.replace(/^.*dataPoints/, ''));
    expect(messages).toEqual([
      '[0].bucketCounts: metric "h": has 2 entries for 2 explicit bounds; expected 3',
      '[1].explicitBounds[1]: metric "h": bounds must be strictly increasing',
      '[2].bucketCounts[0]: metric "h": exceeds 2^53 - 1 and cannot be counted exactly',
      '[3].count: metric "h": exceeds 2^53 - 1 and cannot be counted exactly',
      '[4].sum: metric "h": NaN is not accepted; the sum must be finite',
    ]);
  });

  it('rejects exponential histograms with a scale OTLP does not define', () => {
    const metric = concat(
      pb.string(1, 'e'),
      pb.message(
        10,
        pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 1n), pb.double(5, 1), pb.sint32(6, 21)),
        pb.varint(2, 1),
      ),
    );
    expect(decode(request(metric)).rejectionMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[0].exponentialHistogram.dataPoints[0].scale: metric "e": 21 is outside the range -10..20 OTLP defines',
    ]);
  });

  it('keeps the count exact but at most a few messages when many points are rejected', () => {
    const bad = numberPoint(pb.fixed64(3, T1), pb.double(4, Number.NaN));
    const result = decode(request(sumMetric('m', 1, ...Array.from({ length: 1000 }, () => bad))));
    expect(result.rejectedDataPoints).toBe(1000);
    expect(result.rejectionMessages).toHaveLength(MAX_REJECTION_MESSAGES);
    expect(formatPartialSuccessMessage(result).length).toBeLessThanOrEqual(4096);
  });

  it('rejects a metric with an empty name', () => {
    const result = decode(request(sumMetric('', 1, goodPoint)));
    expect(result.rejectionMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum: metric "": 1 data point rejected: the metric name is empty',
    ]);
  });
});

describe('protobuf errors', () => {
  it('names the field path of a known field with the wrong wire type', () => {
    const error = decodeError(request(sumMetric('m', 1, goodPoint, numberPoint(pb.varint(3, 5)))));
    expect(error.code).toBe('MALFORMED_PROTOBUF');
    expect(error.message).toBe(
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[1].timeUnixNano: field 3 has wire type 0; expected 64-bit',
    );
  });

  it.each([
    [
      'an exemplar that is not a message',
      numberPoint(pb.fixed64(3, T1), pb.varint(5, 1)),
      'exemplars',
      'length-delimited',
    ],
    [
      'an exemplar time that is not fixed64',
      numberPoint(pb.fixed64(3, T1), pb.message(5, pb.double(3, 1)), pb.message(5, pb.varint(2, 1))),
      'exemplars[1].timeUnixNano',
      '64-bit',
    ],
    [
      'an exemplar span id that is not bytes',
      numberPoint(pb.fixed64(3, T1), pb.message(5, pb.fixed64(4, 1n))),
      'exemplars[0].spanId',
      'length-delimited',
    ],
  ])('names %s as malformed, with its path', (_, point, path, expected) => {
    const error = decodeError(request(sumMetric('m', 1, point)));
    expect(error.code).toBe('MALFORMED_PROTOBUF');
    expect(error.path).toBe(`resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].${path}`);
    expect(error.message).toMatch(new RegExp(`expected ${expected}$`));
  });

  it('names a quantile that is not a double as malformed, with its path', () => {
    const point = pb.message(
      1,
      pb.fixed64(3, T1),
      pb.message(6, pb.double(1, 0.5)),
      pb.message(6, pb.varint(1, 1)),
    );
    const error = decodeError(request(concat(pb.string(1, 'q'), pb.message(11, point))));
    expect(error.code).toBe('MALFORMED_PROTOBUF');
    expect(error.path).toBe(
      'resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints[0].quantileValues[1].quantile',
    );
  });

  it('reports invalid UTF-8 in a string field with its path', () => {
    const error = decodeError(
      request(concat(pb.bytes(1, Uint8Array.from([0xc3, 0x28])), pb.message(5, goodPoint))),
    );
    expect(error.code).toBe('INVALID_UTF8');
    expect(error.path).toBe('resourceMetrics[0].scopeMetrics[0].metrics[0].name');
  });

  it(`accepts AnyValue nesting up to ${MAX_ANY_VALUE_DEPTH} levels and refuses deeper`, () => {
    const nested = (levels: number): Uint8Array => {
      let value = encodeAnyValueProtobuf('leaf');
      for (let i = 1; i < levels; i++) value = pb.message(5, pb.message(1, value));
      return numberPoint(
        pb.fixed64(3, T1),
        pb.double(4, 1),
        pb.message(7, pb.string(1, 'deep'), pb.message(2, value)),
      );
    };
    expect(decode(request(sumMetric('m', 1, nested(MAX_ANY_VALUE_DEPTH)))).acceptedDataPoints).toBe(1);
    const error = decodeError(request(sumMetric('m', 1, nested(MAX_ANY_VALUE_DEPTH + 1))));
    expect(error.code).toBe('NESTING_TOO_DEEP');
    expect(error.path).toMatch(
      /^resourceMetrics\[0\].*dataPoints\[0\]\.attributes\[0\]\.value\.arrayValue\.values\[0\]/,
    );
  });

  it('refuses hostile nesting of 100k levels with an OtlpDecodeError, not a stack overflow', () => {
    const levels = 100_000;
    // Written back to front into one buffer; concatenating level by level would be quadratic.
    const buf = new Uint8Array(levels * 12 + 16);
    let start = buf.length;
    const prepend = (bytes: readonly number[]) => {
      start -= bytes.length;
      buf.set(bytes, start);
    };
    prepend([...encodeAnyValueProtobuf('x')]);
    for (let i = 0; i < levels; i++) {
      prepend(varintBytes(BigInt(buf.length - start))); // ArrayValue.values[0] = the AnyValue so far
      prepend([0x0a]);
      prepend(varintBytes(BigInt(buf.length - start))); // AnyValue.array_value
      prepend([0x2a]);
    }
    const deep = buf.subarray(start);
    const point = numberPoint(pb.fixed64(3, T1), pb.message(7, pb.string(1, 'k'), pb.message(2, deep)));
    expect(decodeError(request(sumMetric('m', 1, point))).code).toBe('NESTING_TOO_DEEP');
  });

  it('throws OtlpDecodeError or decodes, never anything else, when truncated at every byte offset', () => {
    const [sample] = fc.sample(
      batchArbitrary.filter((b) => b.resourceMetrics.length > 0),
      { seed: 42, numRuns: 1 },
    );
    const full = encodeRequestProtobuf(sample!, { unknownFields: true });
    let errors = 0;
    for (let length = 0; length < full.length; length++) {
      try {
        decode(full.subarray(0, length));
      } catch (error) {
        expect(error).toBeInstanceOf(OtlpDecodeError);
        expect(['TRUNCATED', 'MALFORMED_PROTOBUF', 'INVALID_UTF8']).toContain(
          (error as OtlpDecodeError).code,
        );
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(full.length / 2);
  });

  it('reports a message cut inside a field as TRUNCATED', () => {
    const full = request(sumMetric('m', 1, goodPoint));
    expect(decodeError(full.subarray(0, full.length - 3)).code).toBe('TRUNCATED');
  });

  it('survives random garbage: decodes or throws OtlpDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decode(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(OtlpDecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('survives random corruption of valid requests: decodes or throws OtlpDecodeError', () => {
    fc.assert(
      fc.property(
        batchArbitrary,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (b, edits) => {
          const bytes = encodeRequestProtobuf(b).slice();
          if (bytes.length === 0) return;
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          try {
            decode(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(OtlpDecodeError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses varints longer than 10 bytes, field number 0 and the wire types that do not exist', () => {
    expect(decodeError(Uint8Array.from([0x08, ...Array(10).fill(0xff), 0x01])).code).toBe(
      'MALFORMED_PROTOBUF',
    );
    expect(decodeError(Uint8Array.from([0x00, 0x00])).code).toBe('MALFORMED_PROTOBUF');
    expect(decodeError(Uint8Array.from([0x16])).message).toBe('wire type 6 of field 2 does not exist');
    expect(decodeError(Uint8Array.from([0x0e])).message).toBe(
      'resourceMetrics: field 1 has wire type 6; expected length-delimited',
    );
    expect(decodeError(Uint8Array.from([0x0c])).code).toBe('MALFORMED_PROTOBUF');
  });
});
