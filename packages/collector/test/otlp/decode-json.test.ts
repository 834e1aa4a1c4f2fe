import { describe, expect, it } from 'vitest';
import {
  decodeExportMetricsServiceRequestJson as decode,
  MAX_ANY_VALUE_DEPTH,
} from '../../src/otlp/index.ts';
import { decodeErrorOf } from './decode-error.ts';

type Json = unknown;

function request(metrics: Json[], resourceAttributes: Json[] = []): string {
  return JSON.stringify({
    resourceMetrics: [
      { resource: { attributes: resourceAttributes }, scopeMetrics: [{ scope: { name: 's' }, metrics }] },
    ],
  });
}

const sum = (dataPoints: Json[], extra: Record<string, Json> = {}): Json => ({
  name: 'requests',
  sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints, ...extra },
});

const decodeError = (text: string) => decodeErrorOf(decode, text);

function firstMetric(text: string) {
  const metric = decode(text).batch.resourceMetrics[0]?.scopeMetrics[0]?.metrics[0];
  if (metric === undefined) throw new Error('nothing decoded');
  return metric;
}

describe('JSON decoding', () => {
  it('reads 64-bit integers from strings and numbers, exactly', () => {
    const metric = firstMetric(
      request([
        sum([
          {
            startTimeUnixNano: '1700000000123456789',
            timeUnixNano: '4294967295999999999',
            asInt: '-9007199254740991',
          },
          { timeUnixNano: 1700000000123456, asInt: 42 },
          { timeUnixNano: '5', asDouble: '2.5' },
          { timeUnixNano: '5', asInt: '9223372036854775807' },
        ]),
      ]),
    );
    expect(
      metric.points.map((p) => [p.startTimeUnixNano, p.timeUnixNano, (p.value as { value: number }).value]),
    ).toEqual([
      [1_700_000_000_123_456_789n, 4_294_967_295_999_999_999n, -9_007_199_254_740_991],
      [0n, 1_700_000_000_123_456n, 42],
      [0n, 5n, 2.5],
      [0n, 5n, 2 ** 63],
    ]);
  });

  it('accepts the proto snake_case names (schema_url too) and enum names, and ignores unknown fields and nulls', () => {
    const text = JSON.stringify({
      resource_metrics: [
        {
          schema_url: 'x',
          resource: { attributes: [{ key: 'service.name', value: { string_value: 'svc' } }], entityRefs: [] },
          scope_metrics: [
            {
              scope: { name: 's', version: null, attributes: [] },
              metrics: [
                {
                  name: 'h',
                  metadata: [{ key: 'm', value: {} }],
                  exponential_histogram: {
                    aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
                    data_points: [
                      {
                        time_unix_nano: '10',
                        count: '3',
                        sum: 1.5,
                        scale: -2,
                        zero_count: 1,
                        positive: { offset: -3, bucket_counts: ['1', 1] },
                        zero_threshold: 0,
                        exemplars: [
                          { traceId: '5B8EFFF798038103D269B633813FC60C', spanId: 'EEE19B7EC3C1B174' },
                        ],
                        newFieldFromTheFuture: { deeply: [{ nested: true }] },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const result = decode(text);
    expect(result.rejectionMessages).toEqual([]);
    expect(result.batch).toEqual({
      resourceMetrics: [
        {
          resource: { 'service.name': 'svc' },
          schemaUrl: 'x',
          scopeMetrics: [
            {
              scope: { name: 's', version: '' },
              metrics: [
                {
                  metric: {
                    name: 'h',
                    description: '',
                    unit: '',
                    kind: 'exponentialHistogram',
                    monotonic: false,
                  },
                  temporality: 'cumulative',
                  points: [
                    {
                      attributes: {},
                      startTimeUnixNano: 0n,
                      timeUnixNano: 10n,
                      value: {
                        count: 3,
                        sum: 1.5,
                        scale: -2,
                        zeroCount: 1,
                        positive: { offset: -3, bucketCounts: [1, 1] },
                        negative: { offset: 0, bucketCounts: [] },
                        min: undefined,
                        max: undefined,
                      },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('turns every AnyValue kind into an attribute value', () => {
    const attributes = [
      { key: 'i', value: { intValue: '-12' } },
      { key: 'unsafe', value: { intValue: '9007199254740993' } },
      { key: 'd', value: { doubleValue: 'Infinity' } },
      { key: 'b', value: { boolValue: false } },
      { key: 'bytes', value: { bytesValue: 'AP8QIA' } },
      { key: 'urlsafe', value: { bytesValue: '-_8=' } },
      { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'b' }, { intValue: 1 }, {}] } } },
      {
        key: 'kv',
        value: {
          kvlistValue: {
            values: [
              { key: 'z', value: { boolValue: true } },
              { key: 'a', value: { arrayValue: {} } },
            ],
          },
        },
      },
      { key: 'none' },
    ];
    const metric = firstMetric(request([sum([{ timeUnixNano: '1', asDouble: 1, attributes }])]));
    const decoded = metric.points[0]!.attributes;
    expect(decoded).toEqual({
      i: -12,
      unsafe: '9007199254740993',
      d: Number.POSITIVE_INFINITY,
      b: false,
      bytes: 'AP8QIA==',
      urlsafe: '+/8=',
      arr: ['b', 1, null],
      kv: { a: [], z: true },
      none: null,
    });
    expect(Object.keys(decoded.kv as object)).toEqual(['a', 'z']);
  });

  it('rejects bad points with the same rules and messages as protobuf', () => {
    const result = decode(
      request([
        sum([
          { timeUnixNano: '1', asDouble: 'NaN' },
          { asDouble: 1 },
          { timeUnixNano: '1', asDouble: 2, flags: 1 },
          { timeUnixNano: '1', asInt: '3' },
        ]),
        {
          name: 'q',
          summary: {
            dataPoints: [
              { timeUnixNano: '1', count: '2', sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }] },
              { timeUnixNano: '1', count: '2', quantileValues: [{ value: 1 }, { quantile: -0.5, value: 1 }] },
              {},
            ],
          },
        },
        { name: 'u', sum: { dataPoints: [{ timeUnixNano: '1', asDouble: 1 }] } },
      ]),
    );
    expect(result.acceptedDataPoints).toBe(2);
    expect(result.noRecordedValueDataPoints).toBe(1);
    expect(result.rejectedDataPoints).toBe(5);
    expect(result.rejectionMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asDouble: metric "requests": NaN is not accepted; sum values must be finite',
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[1].timeUnixNano: metric "requests": missing (0); every data point needs its observation time',
      'resourceMetrics[0].scopeMetrics[0].metrics[1].summary.dataPoints[1].quantileValues[1].quantile: metric "q": storage refuses it: -0.5 is not a quantile (a number in [0, 1])',
      'resourceMetrics[0].scopeMetrics[0].metrics[1].summary.dataPoints[2].timeUnixNano: metric "q": missing (0); every data point needs its observation time',
      'resourceMetrics[0].scopeMetrics[0].metrics[2].sum: metric "u": 1 data point rejected: aggregationTemporality is UNSPECIFIED (0); it must be DELTA (1) or CUMULATIVE (2)',
    ]);
  });

  it('reads exemplar ids as hex in either case, and drops one whose id is not hex, keeping its point', () => {
    const result = decode(
      request([
        sum([
          {
            timeUnixNano: '100',
            asDouble: 1,
            exemplars: [
              {
                timeUnixNano: '90',
                asInt: '3',
                spanId: '00F067AA0BA902B7',
                traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                filteredAttributes: [{ key: 'user', value: { stringValue: 'u1' } }],
              },
              { timeUnixNano: '95', asDouble: 2, spanId: 'AAECAwQFBgc=' },
              { timeUnixNano: '96' },
            ],
          },
        ]),
      ]),
    );
    expect(result.acceptedDataPoints).toBe(1);
    expect(result.rejectedDataPoints).toBe(0);
    expect(result.droppedExemplars).toBe(2);
    expect(result.exemplarMessages).toEqual([
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[1].spanId: metric "requests": exemplar dropped: "AAECAwQFBgc=" is not an id of 8 bytes (16 hex digits)',
      'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[2]: metric "requests": exemplar dropped: it has neither asDouble nor asInt',
    ]);
    expect(result.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points[0]!.exemplars).toEqual([
      {
        filteredAttributes: { user: 'u1' },
        timeUnixNano: 90n,
        value: 3,
        spanId: '00f067aa0ba902b7',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      },
    ]);
  });

  it('handles huge arrays of points', () => {
    const points = Array.from({ length: 100_000 }, (_, i) => ({
      timeUnixNano: String(10n ** 18n + BigInt(i)),
      asInt: i,
    }));
    const result = decode(request([sum(points)]));
    expect(result.acceptedDataPoints).toBe(100_000);
    expect(result.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points[99_999]!.timeUnixNano).toBe(
      1_000_000_000_000_099_999n,
    );
  });
});

describe('JSON errors', () => {
  it('names the offending field path and value', () => {
    const text = JSON.stringify({
      resourceMetrics: [
        {
          scopeMetrics: [
            { metrics: [] },
            {
              metrics: [
                {},
                {},
                { name: 'm', sum: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: 'abc' }] } },
              ],
            },
          ],
        },
      ],
    });
    const error = decodeError(text);
    expect(error.code).toBe('INVALID_VALUE');
    expect(error.path).toBe('resourceMetrics[0].scopeMetrics[1].metrics[2].sum.dataPoints[0].timeUnixNano');
    expect(error.message).toBe(
      'resourceMetrics[0].scopeMetrics[1].metrics[2].sum.dataPoints[0].timeUnixNano: expected a non-negative integer, got "abc"',
    );
  });

  it.each([
    [
      'a time out of uint64 range',
      sum([{ timeUnixNano: '18446744073709551616', asDouble: 1 }]),
      'dataPoints[0].timeUnixNano: 18446744073709551616 is out of range',
    ],
    [
      'a fractional time',
      sum([{ timeUnixNano: 1.5, asDouble: 1 }]),
      'dataPoints[0].timeUnixNano: expected a non-negative integer, got 1.5',
    ],
    [
      'a non-numeric double',
      sum([{ timeUnixNano: '1', asDouble: 'lots' }]),
      'dataPoints[0].asDouble: expected a number, got "lots"',
    ],
    [
      'an unknown enum name',
      sum([], { aggregationTemporality: 'DELTA' }),
      'sum.aggregationTemporality: unknown enum value "DELTA"',
    ],
    [
      'dataPoints that are not an array',
      sum([], { dataPoints: {} }),
      'sum.dataPoints: expected an array, got an object',
    ],
    [
      'a bad base64 value',
      sum([
        { timeUnixNano: '1', asDouble: 1, attributes: [{ key: 'k', value: { bytesValue: 'not base64!' } }] },
      ]),
      'dataPoints[0].attributes[0].value.bytesValue: expected base64-encoded bytes, got "not base64!"',
    ],
    [
      'an int64 attribute out of range',
      sum([
        {
          timeUnixNano: '1',
          asDouble: 1,
          attributes: [{ key: 'k', value: { intValue: '9223372036854775808' } }],
        },
      ]),
      'attributes[0].value.intValue: 9223372036854775808 is out of range',
    ],
    [
      'a non-string key',
      sum([{ timeUnixNano: '1', asDouble: 1, attributes: [{ key: 7 }] }]),
      'attributes[0].key: expected a string, got 7',
    ],
    [
      'an exemplar id that is not a string',
      sum([{ timeUnixNano: '1', asDouble: 1, exemplars: [{ asDouble: 1 }, { asDouble: 1, spanId: 7 }] }]),
      'dataPoints[0].exemplars[1].spanId: expected a string, got 7',
    ],
    [
      'an exemplar time that is not an integer',
      sum([{ timeUnixNano: '1', asDouble: 1, exemplars: [{ timeUnixNano: '-1', asDouble: 1 }] }]),
      'dataPoints[0].exemplars[0].timeUnixNano: expected a non-negative integer, got "-1"',
    ],
    [
      'a quantile that is not a number',
      {
        name: 'q',
        summary: { dataPoints: [{ timeUnixNano: '1', quantileValues: [{ quantile: 'half', value: 1 }] }] },
      },
      'summary.dataPoints[0].quantileValues[0].quantile: expected a number, got "half"',
    ],
  ])('refuses %s', (_, metric, ending) => {
    const error = decodeError(request([metric]));
    expect(error.code).toBe('INVALID_VALUE');
    expect(error.message.endsWith(ending)).toBe(true);
  });

  it('refuses text that is not a JSON object', () => {
    expect(decodeError('{"resourceMetrics": [').code).toBe('INVALID_JSON');
    expect(decodeError('[]').message).toBe('expected a JSON object, got an array');
    expect(decodeError('null').code).toBe('INVALID_JSON');
  });

  it(`accepts AnyValue nesting up to ${MAX_ANY_VALUE_DEPTH} levels and refuses deeper`, () => {
    const nested = (levels: number): Json => {
      let value: Json = { stringValue: 'leaf' };
      for (let i = 1; i < levels; i++) value = { arrayValue: { values: [value] } };
      return value;
    };
    const withValue = (value: Json) =>
      request([sum([{ timeUnixNano: '1', asDouble: 1, attributes: [{ key: 'k', value }] }])]);
    expect(decode(withValue(nested(MAX_ANY_VALUE_DEPTH))).acceptedDataPoints).toBe(1);
    const error = decodeError(withValue(nested(MAX_ANY_VALUE_DEPTH + 1)));
    expect(error.code).toBe('NESTING_TOO_DEEP');
    expect(error.path).toMatch(/dataPoints\[0\]\.attributes\[0\]\.value(\.arrayValue\.values\[0\])+$/);
  });

  it('refuses hostile nesting of 100k levels with an OtlpDecodeError, not a stack overflow', () => {
    const depth = 100_000;
    const value = `${'{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth)}{}${'}]}}'.repeat(depth)}`;
    const text = `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"timeUnixNano":"1","asDouble":1,"attributes":[{"key":"k","value":${value}}]}]}}]}]}]}`;
    expect(decodeError(text).code).toBe('NESTING_TOO_DEEP');
  });
});
