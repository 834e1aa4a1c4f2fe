/**
 * Protobuf says a singular message field that occurs more than once is merged (as if the message bytes were
 * concatenated), and that a later member of a oneof clears an earlier one. These tests hold the decoder to
 * that, case by case and against protobufjs under random meaning-preserving re-encodings.
 */
import type { InputBatch } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeExportMetricsServiceRequestProtobuf as decode } from '../../src/otlp/index.ts';
import { batch as batchArbitrary } from './arbitraries.ts';
import { concat, encodeRequestProtobuf, pb, requestJson } from './otlp-encoder.ts';
import { encodeWithProtobufjs, RequestType, referenceBatch } from './otlp-proto-reference.ts';
import { type RewriteOptions, rewrite, rng } from './wire-rewrite.ts';

const T0 = 1_700_000_000_000_000_000n;
const T1 = 1_700_000_010_000_000_000n;

/** One resource holding one scope with the given Metric bodies; `resource`/`scope` are raw field lists. */
function request(
  metrics: Uint8Array[],
  resource: Uint8Array[] = [pb.message(1, pb.message(1, attribute('service.name', 'svc')))],
  scope: Uint8Array[] = [pb.message(1, pb.string(1, 'scope'))],
): Uint8Array {
  return pb.message(1, ...resource, pb.message(2, ...scope, ...metrics.map((m) => pb.message(2, m))));
}

function attribute(key: string, value: string): Uint8Array {
  return concat(pb.string(1, key), pb.message(2, pb.string(1, value)));
}

const sumPoint = (value: number, time = T1) =>
  pb.message(1, pb.fixed64(2, T0), pb.fixed64(3, time), pb.double(4, value));

function values(bytes: Uint8Array): unknown[] {
  return decode(bytes).batch.resourceMetrics.flatMap((rm) =>
    rm.scopeMetrics.flatMap((sm) =>
      sm.metrics.map((m) => [m.metric.kind, m.temporality, m.metric.monotonic, m.points.map((p) => p.value)]),
    ),
  );
}

describe('a singular message field that occurs twice is merged', () => {
  it('keeps the points of both occurrences of a Metric sum, and the later temporality', () => {
    const metric = concat(
      pb.string(1, 'requests'),
      pb.message(7, sumPoint(1), pb.varint(2, 2), pb.varint(3, 1)),
      pb.message(7, sumPoint(2, T1 + 1n), pb.varint(2, 1)),
    );
    expect(values(request([metric]))).toEqual([['sum', 'delta', true, [{ value: 1 }, { value: 2 }]]]);
  });

  it.each([
    ['gauge', 5],
    ['histogram', 9],
    ['exponentialHistogram', 10],
  ] as const)('keeps the points of both occurrences of a Metric %s', (kind, field) => {
    const point =
      kind === 'gauge' ? sumPoint(1) : pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 1n), pb.double(5, 2));
    const temporality = kind === 'gauge' ? [] : [pb.varint(2, 1)];
    const metric = concat(
      pb.string(1, 'm'),
      pb.message(field, point, ...temporality),
      pb.message(field, point),
    );
    const [decoded] = decode(request([metric])).batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    expect([decoded?.metric.kind, decoded?.points.length]).toEqual([kind, 2]);
  });

  it('keeps the points of both occurrences of a Summary', () => {
    const point = pb.message(1, pb.fixed64(3, T1), pb.fixed64(4, 1n));
    const metric = concat(pb.string(1, 'q'), pb.message(11, point), pb.message(11, point, point));
    expect(decode(request([metric])).acceptedDataPoints).toBe(3);
  });

  it('lets a later oneof member replace the earlier one, which a third occurrence does not bring back', () => {
    const metric = concat(
      pb.string(1, 'm'),
      pb.message(7, sumPoint(1), pb.varint(2, 1)),
      pb.message(5, sumPoint(2)),
      pb.message(7, sumPoint(3), pb.varint(2, 2)),
    );
    expect(values(request([metric]))).toEqual([['sum', 'cumulative', false, [{ value: 3 }]]]);
  });

  it('adds up the attributes of a resource that occurs twice', () => {
    const bytes = request(
      [concat(pb.string(1, 'm'), pb.message(5, sumPoint(1)))],
      [
        pb.message(1, pb.message(1, attribute('service.name', 'svc')), pb.message(1, attribute('a', '1'))),
        pb.message(1, pb.message(1, attribute('a', '2')), pb.message(1, attribute('b', '3'))),
      ],
    );
    expect(decode(bytes).batch.resourceMetrics[0]!.resource).toEqual({
      'service.name': 'svc',
      a: '2',
      b: '3',
    });
  });

  it('keeps the scope name of an earlier occurrence when a later one sets only the version', () => {
    const bytes = request([concat(pb.string(1, 'm'), pb.message(5, sumPoint(1)))], undefined, [
      pb.message(1, pb.string(1, 'lib'), pb.string(2, '1.0')),
      pb.message(1, pb.string(2, '2.0')),
    ]);
    expect(decode(bytes).batch.resourceMetrics[0]!.scopeMetrics[0]!.scope).toEqual({
      name: 'lib',
      version: '2.0',
    });
  });

  it('adds up the bucket counts of exponential buckets that occur twice, the later offset winning', () => {
    const point = pb.message(
      1,
      pb.fixed64(3, T1),
      pb.fixed64(4, 6n),
      pb.message(8, pb.sint32(1, -3), pb.packedVarint(2, [1, 2])),
      pb.message(8, pb.sint32(1, 5), pb.packedVarint(2, [3])),
      pb.message(9, pb.sint32(1, 7)),
      pb.message(9, pb.packedVarint(2, [0])),
    );
    const metric = concat(pb.string(1, 'e'), pb.message(10, point, pb.varint(2, 1)));
    const value = decode(request([metric])).batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points[0]!
      .value as { positive: unknown; negative: unknown };
    expect([value.positive, value.negative]).toEqual([
      { offset: 5, bucketCounts: [1, 2, 3] },
      { offset: 7, bucketCounts: [0] },
    ]);
  });

  it('merges the AnyValue of a KeyValue that occurs twice: empty keeps, arrays and kvlists add up', () => {
    const kv = (key: string, ...anyValues: Uint8Array[]) =>
      pb.message(7, pb.string(1, key), ...anyValues.map((v) => pb.message(2, v)));
    const array = (...items: string[]) => pb.message(5, ...items.map((s) => pb.message(1, pb.string(1, s))));
    const kvlist = (...pairs: [string, string][]) =>
      pb.message(6, ...pairs.map(([k, v]) => pb.message(1, attribute(k, v))));
    const point = pb.message(
      1,
      pb.fixed64(3, T1),
      pb.double(4, 1),
      kv('kept', pb.string(1, 'x'), new Uint8Array(0)),
      kv('replaced', pb.string(1, 'x'), pb.varint(2, 1)),
      kv('array', array('a'), array('b', 'c')),
      kv('arrayInOne', concat(array('a'), array('b'))),
      kv('kvlist', kvlist(['z', '1'], ['a', '2']), kvlist(['a', '3'])),
      kv('switched', array('a'), kvlist(['k', 'v']), array('b')),
    );
    const metric = concat(pb.string(1, 'g'), pb.message(5, point));
    expect(
      decode(request([metric])).batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points[0]!.attributes,
    ).toEqual({
      kept: 'x',
      replaced: true,
      array: ['a', 'b', 'c'],
      arrayInOne: ['a', 'b'],
      kvlist: { a: '3', z: '1' },
      switched: ['b'],
    });
  });
});

describe('the decoder reads what protobufjs reads, under meaning-preserving re-encodings', () => {
  /** The original bytes: protobufjs' encoding of the batch, or the test encoder's (packed or not). */
  const encoded = (b: InputBatch, by: number): Uint8Array =>
    by === 0
      ? encodeWithProtobufjs(JSON.parse(requestJson(b)) as object)
      : encodeRequestProtobuf(b, { packed: by === 1, unknownFields: by === 2 });

  const rewrites: fc.Arbitrary<RewriteOptions> = fc.record({
    split: fc.boolean(),
    repack: fc.boolean(),
    unknown: fc.boolean(),
    reorder: fc.boolean(),
  });

  it('splitting singular message fields, repacking, adding unknown fields and reordering change nothing', () => {
    fc.assert(
      fc.property(
        batchArbitrary,
        fc.integer({ min: 0, max: 2 }),
        rewrites,
        fc.noBias(fc.integer()),
        (b, by, options, seed) => {
          const original = encoded(b, by);
          const bytes = rewrite(original, RequestType, rng(seed), options);
          const expected = referenceBatch(bytes);
          // The re-encoding is meaning-preserving by protobufjs' reading too (the test's own check).
          expect(expected).toEqual(referenceBatch(original));
          const result = decode(bytes);
          expect(result.rejectionMessages).toEqual([]);
          expect(result.batch).toEqual(expected);
          expect(result.batch).toEqual(b);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('splits every singular message field somewhere in a sample (the rewrite is not vacuous)', () => {
    const [sample] = fc.sample(
      batchArbitrary.filter((b) => b.resourceMetrics.length > 0),
      { seed: 3, numRuns: 1 },
    );
    const original = encodeRequestProtobuf(sample!);
    const split = rewrite(original, RequestType, rng(1), {
      split: true,
      repack: false,
      unknown: false,
      reorder: false,
    });
    expect(split.length).toBeGreaterThan(original.length);
    expect(decode(split).batch).toEqual(sample);
  });
});
