import type { Exemplar, PointKind, SeriesPoint } from '@tallyhouse/model';
import { INT32_MAX, INT32_MIN, MAX_STORABLE_TIME_UNIX_NANO, pointProblem } from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeRow, float } from '../src/row-encoding.ts';
import { METRIC_COLUMNS, METRIC_COLUMNS_V1, METRIC_TABLES } from '../src/schema/tables.ts';
import { deduplicationToken } from '../src/table-part.ts';
import { expHistogramPoint, gaugePoint, histogramPoint, summaryPoint, sumPoint } from './support.ts';

const options = { tenantAttribute: 'tenant.id' };

/** An encoded row by column name (the table's columns, in order: the row must have exactly as many values). */
function encodedColumns(point: SeriesPoint): Record<string, unknown> {
  const row = JSON.parse(encodeRow(point, options)) as unknown[];
  const columns = METRIC_COLUMNS[METRIC_TABLES[point.metric.kind]];
  expect(row).toHaveLength(columns.length);
  return Object.fromEntries(columns.map((column, index) => [column.name, row[index]]));
}

const EXEMPLARS: readonly Exemplar[] = [
  {
    filteredAttributes: { 'user.id': 'u1', retry: 2, tags: { b: 1, a: [true] } },
    timeUnixNano: 1_700_000_000_123_456_789n,
    value: 20.5,
    spanId: '00f067aa0ba902b7',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  },
  {
    filteredAttributes: {},
    timeUnixNano: 1_700_000_001_000_000_001n,
    value: -0,
    spanId: '',
    traceId: '',
  },
];

const EXEMPLAR_COLUMNS = [
  'Exemplars.FilteredAttributes',
  'Exemplars.TimeUnix',
  'Exemplars.Value',
  'Exemplars.SpanId',
  'Exemplars.TraceId',
];

function exemplarsOf(point: SeriesPoint): unknown[] {
  const row = encodedColumns(point);
  return EXEMPLAR_COLUMNS.map((name) => row[name]);
}

/** A point of every kind that carries exemplars (all but summaries), with `exemplars`. */
const kindsWithExemplars = (exemplars: readonly Exemplar[] | undefined): SeriesPoint[] =>
  [sumPoint(1), gaugePoint(1), histogramPoint(), expHistogramPoint()].map((point) =>
    exemplars === undefined ? point : { ...point, exemplars },
  );

describe('row encoding', () => {
  it('puts the tenant first and leaves the tenant attribute out of Attributes', () => {
    const row = JSON.parse(
      encodeRow(sumPoint(1, { tenant: '0', attributes: { 'tenant.id': '0', b: 'x', a: 'y' } }), options),
    );
    expect(row[0]).toBe('0');
    const { Attributes } = encodedColumns(
      sumPoint(1, { tenant: '0', attributes: { 'tenant.id': '0', b: 'x', a: 'y' } }),
    );
    expect(Attributes).toEqual({ a: 'y', b: 'x' });
    expect(Object.keys(Attributes as object)).toEqual(['a', 'b']);
  });

  it('writes times as exact integer nanoseconds', () => {
    const line = encodeRow(
      gaugePoint(1, { start: 1_700_000_000_123_456_789n, time: 9_223_372_036_854_775_807n }),
      options,
    );
    expect(line).toContain(',1700000000123456789,9223372036854775807,');
  });

  it('writes sums as deltas with their monotonicity', () => {
    const row = encodedColumns(sumPoint(2.5));
    expect([row.Value, row.AggregationTemporality, row.IsMonotonic]).toEqual([2.5, 1, true]);
  });

  it('writes Float64 so ClickHouse reads back the same double, including -0, NaN and ±Inf', () => {
    expect(float(0.1)).toBe('0.1');
    expect(float(-0)).toBe('-0');
    expect(float(1e300)).toBe('1e+300');
    expect(float(Number.NaN)).toBe('"nan"');
    expect(float(Number.POSITIVE_INFINITY)).toBe('"inf"');
    expect(float(Number.NEGATIVE_INFINITY)).toBe('"-inf"');
  });

  it('stores an unrecorded histogram min/max as NaN', () => {
    const row = encodedColumns(histogramPoint({ min: undefined, max: undefined }));
    expect([row.Min, row.Max]).toEqual(['nan', 'nan']);
  });

  it.each([
    ['a non-finite sum delta', sumPoint(Number.NaN), 'NON_FINITE_SUM'],
    ['an empty tenant', sumPoint(1, { tenant: '' }), 'INVALID_TENANT'],
    ['a tenant with a control character', sumPoint(1, { tenant: 'a\nb' }), 'INVALID_TENANT'],
    ['a negative time', gaugePoint(1, { time: -1n }), 'TIME_OUT_OF_RANGE'],
    ['a time past 2262', gaugePoint(1, { time: 2n ** 63n }), 'TIME_OUT_OF_RANGE'],
    ['a start time past 2262', gaugePoint(1, { start: 2n ** 64n - 1n }), 'TIME_OUT_OF_RANGE'],
    ['a fractional count', histogramPoint({ count: 1.5 }), 'INVALID_VALUE'],
    ['mismatched buckets', histogramPoint({ bucketCounts: [1] }), 'INVALID_VALUE'],
    ['a negative summary count', summaryPoint({ count: -1 }), 'INVALID_VALUE'],
    ['a quantile above 1', summaryPoint({ quantileValues: [{ quantile: 1.01, value: 2 }] }), 'INVALID_VALUE'],
    ['a summary time past 2262', summaryPoint({}, { time: 2n ** 63n }), 'TIME_OUT_OF_RANGE'],
  ])('rejects %s (it goes to the dead letters)', (_name, point, code) => {
    const { tables, rejected } = encodeBatch([point], options);
    expect(tables).toEqual([]);
    expect(rejected.map((r) => r.code)).toEqual([code]);
  });

  it('writes a summary as sent: count, sum, the quantiles as parallel arrays in order, Flags 0', () => {
    const row = encodedColumns(
      summaryPoint({
        count: 5,
        sum: Number.NaN,
        quantileValues: [
          { quantile: 0.9, value: Number.POSITIVE_INFINITY },
          { quantile: 0.1, value: -0 },
          { quantile: 0.5, value: 2.5 },
        ],
      }),
    );
    expect([row.Count, row.Sum, row.Flags]).toEqual([5, 'nan', 0]);
    // The source's order is kept (OTLP does not require it sorted).
    expect(row['ValueAtQuantiles.Quantile']).toEqual([0.9, 0.1, 0.5]);
    expect(row['ValueAtQuantiles.Value']).toEqual(['inf', -0, 2.5]);
    expect(Object.is((row['ValueAtQuantiles.Value'] as number[])[1], -0)).toBe(true);
    // As upstream's summary table: no exemplars, no temporality.
    expect(Object.keys(row).filter((name) => /Exemplars|Temporality|Value$/.test(name))).toEqual([
      'ValueAtQuantiles.Value',
    ]);
  });

  it('writes a summary without quantiles as two empty arrays', () => {
    const row = encodedColumns(summaryPoint({ quantileValues: [] }));
    expect([row['ValueAtQuantiles.Quantile'], row['ValueAtQuantiles.Value']]).toEqual([[], []]);
  });

  it("keys a summary row's deduplication on its whole row (layout 2 is the first its table had)", () => {
    const [rows] = encodeBatch([summaryPoint()], options).tables;
    expect(rows?.deduplicationLines).toEqual(rows?.lines);
    // Other tables are keyed on their layout-1 columns only.
    const [sums] = encodeBatch([sumPoint(1)], options).tables;
    expect(JSON.parse(sums?.deduplicationLines[0] ?? '')).toHaveLength(
      METRIC_COLUMNS_V1.otel_metrics_sum.length,
    );
  });

  it('writes exponential offsets and scales over the whole Int32 range, -2147483648 included', () => {
    const point = expHistogramPoint({
      positive: { offset: INT32_MIN, bucketCounts: [1] },
      negative: { offset: INT32_MAX, bucketCounts: [2] },
    });
    const row = encodedColumns(point);
    expect([
      row.PositiveOffset,
      row.PositiveBucketCounts,
      row.NegativeOffset,
      row.NegativeBucketCounts,
    ]).toEqual([INT32_MIN, [1], INT32_MAX, [2]]);
    expect(encodeBatch([point], options).rejected).toEqual([]);
  });

  it.each([
    ['below', INT32_MIN - 1],
    ['above', INT32_MAX + 1],
  ])('rejects an exponential offset one %s Int32', (_side, offset) => {
    const { rejected } = encodeBatch(
      [expHistogramPoint({ positive: { offset, bucketCounts: [1] } })],
      options,
    );
    expect(rejected.map((r) => [r.code, r.message])).toEqual([
      [
        'INVALID_VALUE',
        `exponentialHistogram "test.exponentialHistogram" of tenant "acme": positive.offset ${offset} is not an Int32 (-2147483648..2147483647)`,
      ],
    ]);
  });

  it.each([
    ['an attribute value', gaugePoint(1, { attributes: { route: 'a\ud800' } }), 'an attribute ("route")'],
    ['an attribute key', gaugePoint(1, { attributes: { '\udc00': 'x' } }), 'an attribute ("\\udc00")'],
    [
      'a resource attribute',
      gaugePoint(1, { service: 'svc\udbff' }),
      'a resource attribute ("service.name")',
    ],
    ['the metric name', gaugePoint(1, { name: 'm\ud800' }), 'metric name'],
    [
      'a scope attribute',
      { ...gaugePoint(1), scope: { name: 's', version: '1', attributes: { pool: '\ud800' } } },
      'a scope attribute ("pool")',
    ],
    [
      'the scope schema URL',
      { ...gaugePoint(1), scope: { name: 's', version: '1', schemaUrl: 'https://x/\udc00' } },
      'scope schema URL',
    ],
    ['the resource schema URL', { ...gaugePoint(1), resourceSchemaUrl: '\ud800' }, 'resource schema URL'],
  ])(
    'rejects a point whose %s holds an unpaired surrogate (ClickHouse would fail the whole insert)',
    (_what, point, field) => {
      const { tables, rejected } = encodeBatch([gaugePoint(2), point, gaugePoint(3)], options);
      expect(rejected.map((r) => r.code)).toEqual(['INVALID_VALUE']);
      expect(rejected[0]?.message).toContain(`${field} holds an unpaired UTF-16 surrogate`);
      expect(tables.map((t) => t.lines.length)).toEqual([2]);
    },
  );

  it('writes a surrogate pair, a literal backslash-u text and a lone surrogate nested in a value (canonical JSON escapes it)', () => {
    const point = gaugePoint(1, {
      attributes: { emoji: '\ud83d\ude00', text: '\\ud800', nested: ['\ud800'] },
    });
    expect(encodedColumns(point).Attributes).toEqual({
      emoji: '\u{1f600}',
      nested: '["\\ud800"]',
      text: '\\ud800',
    });
  });

  it('rejects a malformed point instead of throwing', () => {
    const malformed = { ...sumPoint(1), value: undefined } as unknown as Parameters<typeof encodeRow>[0];
    const { rejected } = encodeBatch([malformed], options);
    expect(rejected.map((r) => r.code)).toEqual(['INVALID_VALUE']);
  });

  it('groups points by table in a fixed table order', () => {
    const { tables } = encodeBatch(
      [summaryPoint(), histogramPoint(), sumPoint(1), gaugePoint(1), sumPoint(2)],
      options,
    );
    expect(tables.map((t) => [t.table, t.lines.length])).toEqual([
      ['otel_metrics_sum', 2],
      ['otel_metrics_gauge', 1],
      ['otel_metrics_histogram', 1],
      ['otel_metrics_summary', 1],
    ]);
  });

  it.each(kindsWithExemplars(undefined).map((point) => [point.metric.kind, point] as const))(
    'writes the upstream columns a %s point has no data for as their empty defaults',
    (kind, point) => {
      const row = encodedColumns(point);
      expect([
        row.ResourceSchemaUrl,
        row.ScopeAttributes,
        row.ScopeDroppedAttrCount,
        row.ScopeSchemaUrl,
      ]).toEqual(['', {}, 0, '']);
      expect(row.Flags).toBe(0);
      expect(exemplarsOf(point)).toEqual([[], [], [], [], []]);
      // Every sum and histogram row is a delta; gauges have no temporality column (as upstream).
      expect(row.AggregationTemporality).toBe(kind === 'gauge' ? undefined : 1);
      expect('AggregationTemporality' in row).toBe(kind !== 'gauge');
    },
  );

  it('writes the schema URLs and the scope attributes and dropped count a point carries', () => {
    const point: SeriesPoint = {
      ...histogramPoint(),
      resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scope: {
        name: 'lib',
        version: '2',
        attributes: { pool: 'primary', weight: 3, nested: { z: 1, a: null } },
        droppedAttributesCount: 4,
        schemaUrl: 'https://example.com/scope',
      },
    };
    const row = encodedColumns(point);
    expect([row.ResourceSchemaUrl, row.ScopeName, row.ScopeVersion]).toEqual([
      'https://opentelemetry.io/schemas/1.26.0',
      'lib',
      '2',
    ]);
    expect(row.ScopeAttributes).toEqual({ nested: '{"a":null,"z":1}', pool: 'primary', weight: '3' });
    expect(Object.keys(row.ScopeAttributes as object)).toEqual(['nested', 'pool', 'weight']);
    expect([row.ScopeDroppedAttrCount, row.ScopeSchemaUrl]).toEqual([4, 'https://example.com/scope']);
  });

  it.each([-1, 1.5, 2 ** 32])(
    'stores a dropped-attribute count of %s (not a UInt32) as 0 instead of failing the insert',
    (count) => {
      const point = { ...sumPoint(1), scope: { name: 's', version: '', droppedAttributesCount: count } };
      expect(encodedColumns(point).ScopeDroppedAttrCount).toBe(0);
    },
  );

  it.each(kindsWithExemplars(EXEMPLARS).map((point) => [point.metric.kind, point] as const))(
    'writes the exemplars of a %s point as parallel Exemplars.* arrays, in order',
    (_kind, point) => {
      expect(exemplarsOf(point)).toEqual([
        [{ retry: '2', tags: '{"a":[true],"b":1}', 'user.id': 'u1' }, {}],
        [1_700_000_000_123_456_800, 1_700_000_001_000_000_000],
        [20.5, -0],
        ['00f067aa0ba902b7', ''],
        ['4bf92f3577b34da6a3ce929d0e0e4736', ''],
      ]);
      // Times are exact integer nanoseconds in the text (the parsed doubles above are rounded).
      expect(encodeRow(point, options)).toContain(',[1700000000123456789,1700000001000000001],[20.5,-0],');
    },
  );

  it('encodes filtered attributes as point attributes: sorted, canonical JSON, without the tenant attribute', () => {
    const point = {
      ...gaugePoint(1),
      exemplars: [
        { ...(EXEMPLARS[0] as Exemplar), filteredAttributes: { z: 'last', 'tenant.id': 'x', a: [2, 1] } },
      ],
    };
    const [attributes] = exemplarsOf(point) as [Record<string, string>[]];
    expect(attributes).toEqual([{ a: '[2,1]', z: 'last' }]);
    expect(Object.keys(attributes[0] as object)).toEqual(['a', 'z']);
  });

  it.each([
    ['sum', sumPoint(1), [20.5]],
    ['histogram', histogramPoint(), [20.5]],
    ['exponentialHistogram', expHistogramPoint(), [20.5]],
    // A gauge is a reading kept as sent (nonFiniteField): so is a gauge's exemplar.
    ['gauge', gaugePoint(1), ['nan', 20.5, 'inf', '-inf']],
  ] as const)(
    'applies the finite-value rule of a %s to its exemplars: a refused one is dropped, the row is written',
    (_kind, point, values) => {
      const sample = EXEMPLARS[0] as Exemplar;
      const exemplars = [Number.NaN, 20.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(
        (value) => ({
          ...sample,
          value,
        }),
      );
      const { tables, rejected } = encodeBatch([{ ...point, exemplars }], options);
      expect(rejected).toEqual([]);
      expect(tables.map((table) => table.lines.length)).toEqual([1]);
      const [, times, stored, spans] = exemplarsOf({ ...point, exemplars });
      expect(stored).toEqual(values);
      expect([(times as unknown[]).length, (spans as unknown[]).length]).toEqual([
        values.length,
        values.length,
      ]);
    },
  );

  it('drops an exemplar it cannot store (ids not hex of the right length, a lone surrogate, a bad time), never the row', () => {
    const sample = EXEMPLARS[0] as Exemplar;
    const exemplars: Exemplar[] = [
      { ...sample, spanId: '00F067AA0BA902B7', traceId: '4BF92F3577B34DA6A3CE929D0E0E4736' },
      { ...sample, spanId: '00f067aa0ba902' },
      { ...sample, traceId: 'zz' },
      { ...sample, filteredAttributes: { 'user.id': 'u\ud800' } },
      { ...sample, filteredAttributes: { '\udc00': 'x' } },
      { ...sample, timeUnixNano: -1n },
      { ...sample, spanId: undefined as unknown as string },
      { ...sample, value: 7 },
    ];
    const point = { ...sumPoint(1), exemplars };
    const { tables, rejected } = encodeBatch([point], options);
    expect(rejected).toEqual([]);
    expect(tables[0]?.lines).toHaveLength(1);
    const [, , values, spans, traces] = exemplarsOf(point);
    // Upper-case ids are stored lower-case, as upstream stores them.
    expect(spans).toEqual(['00f067aa0ba902b7', '00f067aa0ba902b7']);
    expect(traces).toEqual(['4bf92f3577b34da6a3ce929d0e0e4736', '4bf92f3577b34da6a3ce929d0e0e4736']);
    expect(values).toEqual([20.5, 7]);
  });

  it('keeps at most the 10 most recent exemplars of a point', () => {
    const sample = EXEMPLARS[0] as Exemplar;
    const exemplars = Array.from({ length: 12 }, (_, index) => ({
      ...sample,
      timeUnixNano: 1_000n + BigInt(11 - index),
      value: 11 - index,
    }));
    const [, , values] = exemplarsOf({ ...gaugePoint(1), exemplars });
    // Values 11..0 at times newest..oldest: the 10 newest (2..11), oldest first.
    expect(values).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('derives the deduplication token from batch id, table and rows', () => {
    const token = deduplicationToken('b1', 'otel_metrics_sum', '[1]\n');
    expect(deduplicationToken('b1', 'otel_metrics_sum', '[1]\n')).toBe(token);
    expect(deduplicationToken('b2', 'otel_metrics_sum', '[1]\n')).not.toBe(token);
    expect(deduplicationToken('b1', 'otel_metrics_gauge', '[1]\n')).not.toBe(token);
    expect(deduplicationToken('b1', 'otel_metrics_sum', '[2]\n')).not.toBe(token);
  });
});

describe("pointProblem: the storage rules the row encoder and the collector's decoders share", () => {
  const T = 1_700_000_000_000_000_000n;
  const histogram = histogramPoint().value;
  const exponential = expHistogramPoint().value;

  it.each<[string, PointKind, bigint, bigint, unknown, string | undefined]>([
    ['the last DateTime64(9) nanosecond', 'gauge', 0n, MAX_STORABLE_TIME_UNIX_NANO, { value: 1 }, undefined],
    ['a time of 2^63', 'gauge', 0n, 2n ** 63n, { value: 1 }, 'TIME_OUT_OF_RANGE timeUnixNano'],
    ['a negative start', 'gauge', -1n, T, { value: 1 }, 'TIME_OUT_OF_RANGE startTimeUnixNano'],
    ['a NaN gauge (stored as nan)', 'gauge', T, T, { value: Number.NaN }, undefined],
    ['a gauge without a number', 'gauge', T, T, { value: '1' }, 'INVALID_VALUE value'],
    ['an infinite sum delta', 'sum', T, T, { value: Number.NEGATIVE_INFINITY }, 'NON_FINITE_SUM value'],
    ['no value at all', 'sum', T, T, undefined, 'INVALID_VALUE '],
    [
      'one bucket too many',
      'histogram',
      T,
      T,
      { ...histogram, bucketCounts: [1, 2, 3, 0] },
      'INVALID_VALUE bucketCounts',
    ],
    [
      'a negative bucket count',
      'histogram',
      T,
      T,
      { ...histogram, bucketCounts: [1, -1, 2] },
      'INVALID_VALUE bucketCounts[1]',
    ],
    ['a count past 2^53 - 1', 'histogram', T, T, { ...histogram, count: 2 ** 53 }, 'INVALID_VALUE count'],
    [
      'a bound that is not a number',
      'histogram',
      T,
      T,
      { ...histogram, bounds: [1, '2'] },
      'INVALID_VALUE explicitBounds[1]',
    ],
    ['a min that is not a number', 'histogram', T, T, { ...histogram, min: null }, 'INVALID_VALUE min'],
    [
      'a fractional scale',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, scale: 0.5 },
      'INVALID_VALUE scale',
    ],
    [
      'a scale past Int32',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, scale: 2 ** 31 },
      'INVALID_VALUE scale',
    ],
    [
      'a fractional zero count',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, zeroCount: 1.5 },
      'INVALID_VALUE zeroCount',
    ],
    [
      'missing negative buckets',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, negative: undefined },
      'INVALID_VALUE negative',
    ],
    [
      'an unsafe bucket count',
      'exponentialHistogram',
      T,
      T,
      { ...exponential, negative: { offset: 0, bucketCounts: [2 ** 60] } },
      'INVALID_VALUE negative.bucketCounts[0]',
    ],
    [
      'offsets at both Int32 ends',
      'exponentialHistogram',
      T,
      T,
      {
        ...exponential,
        positive: { offset: INT32_MIN, bucketCounts: [] },
        negative: { offset: INT32_MAX, bucketCounts: [] },
      },
      undefined,
    ],
  ])('%s', (_name, kind, start, time, value, expected) => {
    const problem = pointProblem(kind, start, time, value);
    expect(problem === undefined ? undefined : `${problem.code} ${problem.field}`).toBe(expected);
  });
});
