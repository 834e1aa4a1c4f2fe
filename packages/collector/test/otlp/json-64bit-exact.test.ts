import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeExportMetricsServiceRequestJson as decode,
  type OtlpDecodeResult,
} from '../../src/otlp/index.ts';
import {
  countField,
  parseExactIntegers,
  parseIntValue,
  parseUint64,
  withExactIntegers,
} from '../../src/otlp/json/json-values.ts';
import { decodeErrorOf } from './decode-error.ts';

type Json = unknown;

const MAX_UINT64 = 18446744073709551615n;
const MIN_INT64 = -9223372036854775808n;
const MAX_INT64 = 9223372036854775807n;
const MAX_BUCKETED_TIME = 4294967295999999999n;

/** The request with 64-bit values written as decimal strings, the OTLP/JSON default. */
function request(metrics: Json[], resourceAttributes: Json[] = []): string {
  return JSON.stringify({
    resourceMetrics: [
      { resource: { attributes: resourceAttributes }, scopeMetrics: [{ scope: { name: 's' }, metrics }] },
    ],
  });
}

/** The same text with every all-digit string written as a bare JSON number instead. */
function bare(text: string): string {
  const out = text.replace(/"(-?\d+)"/g, '$1');
  expect(out).not.toBe(text);
  return out;
}

const gauge = (dataPoints: Json[]): Json => ({ name: 'level', gauge: { dataPoints } });
const histogram = (dataPoints: Json[]): Json => ({
  name: 'latency',
  histogram: { aggregationTemporality: 2, dataPoints },
});
const exponential = (dataPoints: Json[]): Json => ({
  name: 'latency.exp',
  exponentialHistogram: { aggregationTemporality: 2, dataPoints },
});
const intAttribute = (key: string, intValue: string): Json => ({ key, value: { intValue } });

const decodeError = (text: string) => decodeErrorOf(decode, text);

function points(result: OtlpDecodeResult, metric = 0) {
  const found = result.batch.resourceMetrics[0]?.scopeMetrics[0]?.metrics[metric];
  if (found === undefined) throw new Error('nothing decoded');
  return found.points;
}

/** Decodes the string form and the bare-number form, and requires the same result; returns it. */
function decodeBothForms(text: string): OtlpDecodeResult {
  const fromStrings = decode(text);
  expect(decode(bare(text))).toEqual(fromStrings);
  return fromStrings;
}

describe('OTLP/JSON 64-bit integers sent as bare numbers are exact', () => {
  it('reads times and asInt of number points exactly', () => {
    const result = decodeBothForms(
      request([
        gauge([
          { startTimeUnixNano: '1581452773000000789', timeUnixNano: '1581452773000000790', asInt: '1' },
          { timeUnixNano: '4294967295999999999', asInt: '9007199254740993' },
          { timeUnixNano: '9007199254740993', asInt: '-9223372036854775808' },
          { timeUnixNano: '1', asInt: '9223372036854775807' },
        ]),
      ]),
    );
    expect(result.rejectionMessages).toEqual([]);
    expect(
      points(result).map((p) => [p.startTimeUnixNano, p.timeUnixNano, (p.value as { value: number }).value]),
    ).toEqual([
      [1581452773000000789n, 1581452773000000790n, 1],
      [0n, MAX_BUCKETED_TIME, 9007199254740992],
      [0n, 9007199254740993n, Number(MIN_INT64)],
      [0n, 1n, Number(MAX_INT64)],
    ]);
  });

  it('reads exemplar times and asInt, and summary counts, exactly', () => {
    const result = decodeBothForms(
      request([
        gauge([
          {
            timeUnixNano: '1581452773000000790',
            asInt: '1',
            exemplars: [
              { timeUnixNano: '1581452773000000789', asInt: '-9223372036854775808' },
              { timeUnixNano: '9223372036854775808', asInt: '1' },
            ],
          },
        ]),
        { name: 'q', summary: { dataPoints: [{ timeUnixNano: '5', count: '9007199254740991', sum: 1 }] } },
      ]),
    );
    expect(points(result)[0]?.exemplars?.map((e) => [e.timeUnixNano, e.value])).toEqual([
      [1581452773000000789n, Number(MIN_INT64)],
    ]);
    // 2^63 read exactly: past the last storable time, so the exemplar is dropped.
    expect(result.droppedExemplars).toBe(1);
    expect(points(result, 1)[0]?.value).toMatchObject({ count: 9007199254740991 });
  });

  it('accepts a time of 2^64 - 1 like its string form (the point is rejected, not the request)', () => {
    const result = decodeBothForms(request([gauge([{ timeUnixNano: '18446744073709551615', asInt: '1' }])]));
    expect(result.acceptedDataPoints).toBe(0);
    expect(result.rejectedDataPoints).toBe(1);
  });

  it('reads AnyValue intValue exactly, in resource and point attributes, nested too', () => {
    const attributes = [
      intAttribute('a', '9007199254740993'),
      intAttribute('b', '-9223372036854775808'),
      intAttribute('c', '9223372036854775807'),
      { key: 'd', value: { arrayValue: { values: [{ intValue: '1581452773000000789' }] } } },
      { key: 'e', value: { kvlistValue: { values: [intAttribute('f', '-1581452773000000789')] } } },
    ];
    const result = decodeBothForms(
      request([gauge([{ timeUnixNano: '5', asInt: '1', attributes }])], attributes),
    );
    const expected = {
      a: '9007199254740993',
      b: '-9223372036854775808',
      c: '9223372036854775807',
      d: ['1581452773000000789'],
      e: { f: '-1581452773000000789' },
    };
    expect(result.batch.resourceMetrics[0]!.resource).toEqual(expected);
    expect(points(result)[0]!.attributes).toEqual(expected);
  });

  it('reads histogram count and bucketCounts like their string forms', () => {
    const text = request([
      histogram([
        { timeUnixNano: '5', count: '9007199254740991', bucketCounts: ['9007199254740991'], sum: 1 },
        { timeUnixNano: '5', count: '18446744073709551615', bucketCounts: ['1'], sum: 1 },
        {
          timeUnixNano: '5',
          count: '2',
          bucketCounts: ['1', '9007199254740993'],
          explicitBounds: [1],
          sum: 1,
        },
      ]),
    ]);
    const result = decodeBothForms(text);
    expect(points(result).map((p) => (p.value as { count: number }).count)).toEqual([9007199254740991]);
    expect(result.rejectionMessages).toEqual([
      expect.stringContaining('dataPoints[1].count'),
      expect.stringContaining('dataPoints[2].bucketCounts[1]'),
    ]);
  });

  it('reads exponential count, zeroCount and positive/negative bucketCounts like their string forms', () => {
    const text = request([
      exponential([
        {
          timeUnixNano: '5',
          count: '9007199254740991',
          zeroCount: '9007199254740990',
          positive: { offset: 0, bucketCounts: ['1'] },
          negative: { offset: 0, bucketCounts: [] },
        },
        { timeUnixNano: '5', count: '1', zeroCount: '18446744073709551615' },
        { timeUnixNano: '5', count: '1', positive: { bucketCounts: ['0', '18446744073709551615'] } },
        { timeUnixNano: '5', count: '1', negative: { bucketCounts: ['9223372036854775808'] } },
      ]),
    ]);
    const result = decodeBothForms(text);
    expect(points(result).map((p) => p.value)).toMatchObject([
      { count: 9007199254740991, zeroCount: 9007199254740990, positive: { bucketCounts: [1] } },
    ]);
    expect(result.rejectionMessages).toEqual([
      expect.stringContaining('dataPoints[1].zeroCount'),
      expect.stringContaining('dataPoints[2].positive.bucketCounts[1]'),
      expect.stringContaining('dataPoints[3].negative.bucketCounts[0]'),
    ]);
  });

  it('reads the exact values below the point rules (counts above 2^53 - 1 are rejected there)', () => {
    const doc = parseExactIntegers(
      '{"t":18446744073709551615,"c":1581452773000000789,"i":-9223372036854775808,"s":9007199254740991}',
    ) as Record<string, unknown>;
    withExactIntegers(() => {
      expect(parseUint64(doc.t)).toBe(MAX_UINT64);
      expect(parseUint64(doc.c)).toBe(1581452773000000789n);
      expect(parseIntValue(doc.i)).toBe('-9223372036854775808');
      expect(doc.s).toBe(9007199254740991);
      expect(countField(doc, 's', 's')).toBe(9007199254740991);
    });
  });
});

describe('double fields keep the number JSON.parse gives', () => {
  const literals = ['12345678901234567890', '-18446744073709551617', '9007199254740993', '1e19', '1.5e300'];

  it('for asDouble, sum, min, max, explicitBounds and doubleValue, with an exact integer in the request', () => {
    for (const literal of literals) {
      const n = JSON.parse(literal) as number;
      // The asInt forces the exact path; every double field then holds `literal` bare.
      const text = `{"resourceMetrics":[{"resource":{"attributes":[{"key":"d","value":{"doubleValue":${literal}}}]},"scopeMetrics":[{"metrics":[
        {"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"5","asInt":9223372036854775807},{"timeUnixNano":"5","asDouble":${literal}}]}},
        {"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"timeUnixNano":"5","count":1,"sum":${literal},"min":${literal},"max":${literal},"explicitBounds":[${literal}],"bucketCounts":[0,1]}]}}
      ]}]}]}`;
      const result = decode(text);
      expect(result.batch.resourceMetrics[0]!.resource).toEqual({ d: n });
      expect((points(result, 0)[1]!.value as { value: number }).value).toBe(n);
      const h = result.rejectionMessages.length === 0 ? points(result, 1)[0]!.value : undefined;
      // A sum beyond Float64's range is rejected as not finite; otherwise every field holds `n`.
      if (Number.isFinite(n)) expect(h).toMatchObject({ sum: n, min: n, max: n, bounds: [n] });
    }
  });

  it('leaves exponent and fraction literals in integer fields as before', () => {
    const text = (time: string) =>
      `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"timeUnixNano":${time},"asInt":1}]}}]}]}]}`;
    expect(points(decode(text('1.5e18')))[0]!.timeUnixNano).toBe(1500000000000000000n);
    expect(points(decode(text('12345678901234567.5')))[0]!.timeUnixNano).toBe(
      BigInt(Number('12345678901234567.5')),
    );
    const error = decodeError(text('1234567890123456.5'));
    expect(error.message).toMatch(/timeUnixNano: expected a non-negative integer, got 1234567890123456\.5$/);
  });
});

describe('out-of-range 64-bit numbers are still refused', () => {
  const point = (fields: Record<string, Json>) =>
    request([gauge([{ timeUnixNano: '5', asInt: '1', ...fields }])]);
  const hist = (fields: Record<string, Json>) => request([histogram([{ timeUnixNano: '5', ...fields }])]);
  const path = 'resourceMetrics[0].scopeMetrics[0].metrics[0]';

  it.each([
    [
      'timeUnixNano above 2^64 - 1',
      point({ timeUnixNano: '18446744073709551616' }),
      'gauge.dataPoints[0].timeUnixNano',
    ],
    [
      'startTimeUnixNano above 2^64 - 1',
      point({ startTimeUnixNano: '99999999999999999999' }),
      'gauge.dataPoints[0].startTimeUnixNano',
    ],
    ['asInt above 2^63 - 1', point({ asInt: '9223372036854775808' }), 'gauge.dataPoints[0].asInt'],
    ['asInt below -2^63', point({ asInt: '-9223372036854775809' }), 'gauge.dataPoints[0].asInt'],
    ['count above 2^64 - 1', hist({ count: '18446744073709551616' }), 'histogram.dataPoints[0].count'],
    [
      'a bucket count above 2^64 - 1',
      hist({ bucketCounts: ['0', '18446744073709551616'] }),
      'histogram.dataPoints[0].bucketCounts[1]',
    ],
    [
      'zeroCount above 2^64 - 1',
      request([exponential([{ timeUnixNano: '5', zeroCount: '18446744073709551616' }])]),
      'exponentialHistogram.dataPoints[0].zeroCount',
    ],
    [
      'intValue above 2^63 - 1',
      point({ attributes: [intAttribute('k', '18446744073709551615')] }),
      'gauge.dataPoints[0].attributes[0].value.intValue',
    ],
    ['flags (uint32)', point({ flags: '4294967296000000000' }), 'gauge.dataPoints[0].flags'],
  ])('%s, with the message of the string form', (_name, text, field) => {
    const fromString = decodeError(text);
    const fromNumber = decodeError(bare(text));
    expect(fromNumber.code).toBe('INVALID_VALUE');
    expect(fromNumber.path).toBe(`${path}.${field}`);
    expect(fromNumber.message).toBe(fromString.message);
    expect(fromNumber.message).toMatch(/ is out of range$/);
  });

  it.each([
    [
      'count',
      hist({ count: '-9223372036854775808' }),
      'histogram.dataPoints[0].count',
      '-9223372036854775808',
    ],
    [
      'timeUnixNano',
      point({ timeUnixNano: '-1581452773000000789' }),
      'gauge.dataPoints[0].timeUnixNano',
      '-1581452773000000789',
    ],
    ['a bucket count', hist({ bucketCounts: ['-1'] }), 'histogram.dataPoints[0].bucketCounts[0]', '-1'],
  ])('a negative %s', (_name, text, field, value) => {
    const error = decodeError(bare(text));
    expect(error.code).toBe('INVALID_VALUE');
    expect(error.message).toBe(`${path}.${field}: ${value} is out of range`);
  });

  it('a bare unsafe integer where a string belongs is still refused', () => {
    const wrong = { timeUnixNano: '5', asInt: '1', attributes: [{ key: 'k', value: { stringValue: 'x' } }] };
    const exact = { timeUnixNano: '9223372036854775807', asInt: '1' };
    for (const order of [
      [wrong, exact],
      [exact, wrong],
    ]) {
      const error = decodeError(bare(request([gauge(order)])).replace('"x"', '12345678901234567890'));
      expect(error.code).toBe('INVALID_VALUE');
      // Shown rounded when the decoder meets it before any exact integer, as before.
      expect(error.message).toMatch(/stringValue: expected a string, got 12345678901234567\d{3}$/);
    }
  });
});

describe('property: random 64-bit values decode the same as bare numbers and as strings', () => {
  const biased = (min: bigint, max: bigint) =>
    fc.oneof(
      fc.bigInt({ min, max }),
      fc.bigInt({ min: max - 2n ** 12n, max }),
      fc.bigInt({ min, max: min + 2n ** 12n }),
      fc.bigInt({ min: 2n ** 53n - 2n ** 10n, max: 2n ** 53n + 2n ** 10n }),
    );
  const uint64 = biased(0n, MAX_UINT64);
  const int64 = biased(MIN_INT64, MAX_INT64);
  const time = fc.oneof(biased(1n, MAX_BUCKETED_TIME), uint64);
  const count = fc.oneof(uint64, fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }));

  it('in every 64-bit field', () => {
    fc.assert(
      fc.property(
        fc.record({
          start: time,
          time,
          asInt: int64,
          intValue: int64,
          count,
          buckets: fc.array(count, { maxLength: 4 }),
          zeroCount: count,
          positive: fc.array(count, { maxLength: 3 }),
          negative: fc.array(count, { maxLength: 3 }),
          exemplarTime: uint64,
          exemplarInt: int64,
        }),
        (v) => {
          const s = (n: bigint) => n.toString();
          const frame = {
            startTimeUnixNano: s(v.start),
            timeUnixNano: s(v.time),
            attributes: [intAttribute('k', s(v.intValue))],
          };
          const text = request(
            [
              gauge([{ timeUnixNano: '1', asInt: '1' }]),
              gauge([
                {
                  ...frame,
                  asInt: s(v.asInt),
                  exemplars: [{ timeUnixNano: s(v.exemplarTime), asInt: s(v.exemplarInt) }],
                },
              ]),
              histogram([
                {
                  ...frame,
                  count: s(v.count),
                  bucketCounts: v.buckets.map(s),
                  explicitBounds: v.buckets.slice(1).map((_, i) => i),
                },
              ]),
              exponential([
                {
                  ...frame,
                  count: s(v.count),
                  zeroCount: s(v.zeroCount),
                  positive: { offset: 1, bucketCounts: v.positive.map(s) },
                  negative: { offset: -1, bucketCounts: v.negative.map(s) },
                },
              ]),
              { name: 'q', summary: { dataPoints: [{ ...frame, count: s(v.count) }] } },
            ],
            [intAttribute('r', s(v.intValue))],
          );
          const result = decodeBothForms(text);
          const exactInt = Number.isSafeInteger(Number(v.intValue)) ? Number(v.intValue) : s(v.intValue);
          expect(result.batch.resourceMetrics[0]?.resource).toEqual({ r: exactInt });
          if (v.time >= 1n && v.time <= MAX_BUCKETED_TIME && v.start <= MAX_BUCKETED_TIME) {
            expect(points(result, 1)[0]).toMatchObject({
              startTimeUnixNano: v.start,
              timeUnixNano: v.time,
              attributes: { k: exactInt },
              value: { value: Number(v.asInt) },
            });
            if (v.exemplarTime <= MAX_INT64) {
              expect(points(result, 1)[0]?.exemplars).toMatchObject([
                { timeUnixNano: v.exemplarTime, value: Number(v.exemplarInt) },
              ]);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
