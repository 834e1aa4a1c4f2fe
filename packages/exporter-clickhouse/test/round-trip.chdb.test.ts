import type { Exemplar, PointKind, SeriesPoint, SummaryValue } from '@tallyhouse/model';
import { silentLogger } from '@tallyhouse/model';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClickHouseMetricExporter,
  type StorageConnection,
  type TimeSeriesQuery,
  type UsageReader,
} from '../src/index.ts';
import {
  expHistogramPoint,
  gaugePoint,
  histogramPoint,
  mixedBatch,
  storeEnv,
  summaryPoint,
  sumPoint,
  tempDir,
} from './support.ts';

// One chDB data directory for this file (one per process); tests separate by tenant.
const dataDir = tempDir('round-trip');
let exporter: ClickHouseMetricExporter;
let reader: UsageReader;

beforeAll(async () => {
  exporter = new ClickHouseMetricExporter({ dataDir, logger: silentLogger, env: storeEnv() });
  reader = await exporter.reader();
});
afterAll(async () => {
  await exporter.shutdown();
});

/** What a point looks like after storage: attributes as strings (non-strings as canonical JSON). */
function stored(point: SeriesPoint): SeriesPoint {
  const strings = (attributes: SeriesPoint['attributes']) =>
    Object.fromEntries(
      Object.entries(attributes)
        .filter(([key]) => key !== 'tenant.id')
        .map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]),
    );
  const scope =
    point.scope.attributes === undefined
      ? point.scope
      : { ...point.scope, attributes: strings(point.scope.attributes) };
  const exemplars = point.exemplars?.map((exemplar) => ({
    ...exemplar,
    filteredAttributes: strings(exemplar.filteredAttributes),
  }));
  return {
    ...point,
    resource: strings(point.resource),
    scope,
    attributes: strings(point.attributes),
    ...(exemplars === undefined ? {} : { exemplars }),
  };
}

/** Every kind but summaries (an OTLP summary point has no exemplars, nor has upstream's summary table). */
const KINDS_WITH_EXEMPLARS = ['sum', 'gauge', 'histogram', 'exponentialHistogram'] as const;

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

/** Two exemplars: one with trace context and filtered attributes, one bare; nanosecond times, awkward doubles. */
function exemplars(value: number): Exemplar[] {
  return [
    {
      filteredAttributes: { 'user.id': 'u-1', retries: 2, ünï: 'cödé ☃' },
      timeUnixNano: 1_700_000_000_123_456_789n,
      value,
      spanId: SPAN,
      traceId: TRACE,
    },
    {
      filteredAttributes: {},
      timeUnixNano: 1_700_000_009_999_999_999n,
      value: -0,
      spanId: '',
      traceId: '',
    },
  ];
}

/** A point with every upstream field the pipeline can fill: exemplars, schema URLs, scope attributes. */
function upstreamFields(point: SeriesPoint, value: number): SeriesPoint {
  return {
    ...point,
    resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
    scope: {
      ...point.scope,
      attributes: { pool: 'primary', shard: 3 },
      droppedAttributesCount: 2,
      schemaUrl: 'https://example.com/scope-schema',
    },
    exemplars: exemplars(value),
  };
}

/** The exporter's own connection, for SQL the reader does not offer. */
function storage(): StorageConnection {
  const { session } = exporter as unknown as { session: { current: StorageConnection | undefined } };
  if (session.current === undefined) throw new Error('the exporter has not connected');
  return session.current;
}

async function readBack(tenant: string, kind: PointKind): Promise<SeriesPoint[]> {
  return reader.points(tenant, kind);
}

describe('storage round trip on the embedded engine', () => {
  it('writes every point type and reads back exactly what was written', async () => {
    const points = [
      sumPoint(12.5, { tenant: 'rt-all' }),
      gaugePoint(-3.25, { tenant: 'rt-all' }),
      histogramPoint({}, { tenant: 'rt-all' }),
      histogramPoint(
        { min: undefined, max: undefined },
        { tenant: 'rt-all', name: 'test.histogram.nominmax' },
      ),
      expHistogramPoint({}, { tenant: 'rt-all' }),
    ];
    expect(await exporter.consumeBatch({ id: 'rt-all-1', points })).toEqual({ ok: true });
    expect(await readBack('rt-all', 'sum')).toEqual([stored(points[0]!)]);
    expect(await readBack('rt-all', 'gauge')).toEqual([stored(points[1]!)]);
    expect(await readBack('rt-all', 'histogram')).toEqual([stored(points[2]!), stored(points[3]!)]);
    expect(await readBack('rt-all', 'exponentialHistogram')).toEqual([stored(points[4]!)]);
  });

  it('writes exemplars, schema URLs and scope attributes on every kind and reads them back exactly', async () => {
    const tenant = 'rt-upstream';
    const points = [
      upstreamFields(sumPoint(12.5, { tenant }), 0.1 + 0.2),
      upstreamFields(gaugePoint(-3.25, { tenant }), Number.NaN),
      upstreamFields(histogramPoint({}, { tenant }), 1e-300),
      upstreamFields(expHistogramPoint({}, { tenant }), -1.7976931348623157e308),
    ];
    expect(await exporter.consumeBatch({ id: 'rt-upstream-1', points })).toEqual({ ok: true });
    expect(await readBack(tenant, 'sum')).toEqual([stored(points[0]!)]);
    expect(await readBack(tenant, 'gauge')).toEqual([stored(points[1]!)]);
    expect(await readBack(tenant, 'histogram')).toEqual([stored(points[2]!)]);
    expect(await readBack(tenant, 'exponentialHistogram')).toEqual([stored(points[3]!)]);
    // As upstream's queries see them: one row per exemplar through ARRAY JOIN, ids as lowercase hex.
    const rows = await storage().queryRows<Record<string, unknown>>(
      `SELECT MetricName, Exemplars.TraceId AS trace, Exemplars.SpanId AS span,
              Exemplars.FilteredAttributes['user.id'] AS user, toUnixTimestamp64Nano(Exemplars.TimeUnix) AS time,
              ScopeAttributes['pool'] AS pool, Flags
       FROM otel.otel_metrics_histogram ARRAY JOIN Exemplars
       WHERE TenantId = {tenant:String} ORDER BY Exemplars.TimeUnix`,
      { tenant },
    );
    expect(rows).toEqual([
      {
        MetricName: 'test.histogram',
        trace: TRACE,
        span: SPAN,
        user: 'u-1',
        time: '1700000000123456789',
        pool: 'primary',
        Flags: 0,
      },
      {
        MetricName: 'test.histogram',
        trace: '',
        span: '',
        user: '',
        time: '1700000009999999999',
        pool: 'primary',
        Flags: 0,
      },
    ]);
  });

  it('reads a point without exemplars, schema URLs or scope attributes back without them (absent, not empty)', async () => {
    const point = histogramPoint({}, { tenant: 'rt-bare' });
    expect(await exporter.consumeBatch({ id: 'rt-bare-1', points: [point] })).toEqual({ ok: true });
    const [read] = await readBack('rt-bare', 'histogram');
    expect(read).toEqual(point);
    expect(Object.keys(read ?? {})).not.toContain('exemplars');
    expect(Object.keys(read ?? {})).not.toContain('resourceSchemaUrl');
    expect(Object.keys(read?.scope ?? {})).toEqual(['name', 'version']);
  });

  it('stores a sum whose exemplar value is NaN or ±Inf, without that exemplar (the row is usage)', async () => {
    const tenant = 'rt-nonfinite-exemplar';
    const [sample] = exemplars(4);
    const point: SeriesPoint = {
      ...sumPoint(7, { tenant }),
      exemplars: [
        { ...sample!, value: Number.NaN },
        { ...sample!, value: 4 },
        { ...sample!, value: Number.POSITIVE_INFINITY },
      ],
    };
    expect(await exporter.consumeBatch({ id: 'rt-nonfinite-exemplar-1', points: [point] })).toEqual({
      ok: true,
    });
    expect(await readBack(tenant, 'sum')).toEqual([
      stored({ ...point, exemplars: [{ ...sample!, value: 4 }] }),
    ]);
    const [total] = await reader.sumTotals(tenant);
    expect(total?.total).toBe(7);
  });

  it('writes a batch whose points span more than 100 daily partitions (ClickHouse refuses that by default)', async () => {
    const day = 86_400_000_000_000n;
    const points = Array.from({ length: 150 }, (_, i) =>
      sumPoint(i + 1, {
        tenant: 'rt-many-days',
        attributes: { day: String(i) },
        start: 1_700_000_000_000_000_000n + BigInt(i) * day,
        time: 1_700_000_000_000_000_000n + BigInt(i) * day + 1n,
      }),
    );
    const bystander = sumPoint(5, { tenant: 'rt-many-days-bystander' });
    expect(await exporter.consumeBatch({ id: 'rt-many-days-1', points: [...points, bystander] })).toEqual({
      ok: true,
    });
    expect(await readBack('rt-many-days', 'sum')).toHaveLength(150);
    expect(await readBack('rt-many-days-bystander', 'sum')).toEqual([stored(bystander)]);
  });

  it('moves the tenant into TenantId and never repeats it in Attributes', async () => {
    const point = sumPoint(1, { tenant: 'rt-tenant', attributes: { 'tenant.id': 'rt-tenant', route: '/a' } });
    await exporter.consumeBatch({ id: 'rt-tenant-1', points: [point] });
    const [row] = await readBack('rt-tenant', 'sum');
    expect(row?.tenant).toBe('rt-tenant');
    expect(row?.attributes).toEqual({ route: '/a' });
  });

  it('stores non-string attribute values as canonical JSON (sorted keys, recursively)', async () => {
    const point = gaugePoint(1, {
      tenant: 'rt-json',
      attributes: {
        n: 42,
        ok: true,
        list: ['a', 'b'],
        nested: { z: 1, a: { y: [1, { d: 2, c: 3 }], b: null } },
      },
    });
    await exporter.consumeBatch({ id: 'rt-json-1', points: [point] });
    const [row] = await readBack('rt-json', 'gauge');
    expect(row?.attributes).toEqual({
      list: '["a","b"]',
      n: '42',
      nested: '{"a":{"b":null,"y":[1,{"c":3,"d":2}]},"z":1}',
      ok: 'true',
    });
  });

  it('keeps times to the nanosecond, from the epoch to the end of DateTime64(9)', async () => {
    const times = [0n, 1n, 999_999_999n, 1_700_000_000_123_456_789n, 9_223_372_036_854_775_807n];
    const points = times.map((time, index) =>
      gaugePoint(index, { tenant: 'rt-time', start: time, time, name: `t${index}` }),
    );
    await exporter.consumeBatch({ id: 'rt-time-1', points });
    const back = await readBack('rt-time', 'gauge');
    expect(back.map((point) => point.timeUnixNano)).toEqual(times);
    expect(back.map((point) => point.startTimeUnixNano)).toEqual(times);
  });

  it('writes sums as deltas (AggregationTemporality = 1) so sum(Value) is the usage in a range', async () => {
    const points = [1n, 2n, 3n].map((step) =>
      sumPoint(Number(step) * 10, {
        tenant: 'rt-delta',
        start: step * 1_000_000_000n,
        time: (step + 1n) * 1_000_000_000n,
      }),
    );
    await exporter.consumeBatch({ id: 'rt-delta-1', points });
    const [total] = await reader.sumTotals('rt-delta', {
      fromUnixNano: 2_000_000_000n,
      toUnixNano: 4_000_000_000n,
    });
    expect(total?.total).toBe(50);
    const connection = storage();
    const temporality = await connection.queryRows<{ t: number }>(
      "SELECT DISTINCT AggregationTemporality AS t FROM otel.otel_metrics_sum WHERE TenantId = 'rt-delta'",
    );
    expect(temporality).toEqual([{ t: 1 }]);
  });

  it('stores NaN and ±Inf gauge values and histogram extremes as such; a NaN histogram sum is refused', async () => {
    const points = [
      gaugePoint(Number.NaN, { tenant: 'rt-nonfinite', name: 'a' }),
      gaugePoint(Number.POSITIVE_INFINITY, { tenant: 'rt-nonfinite', name: 'b' }),
      gaugePoint(Number.NEGATIVE_INFINITY, { tenant: 'rt-nonfinite', name: 'c' }),
      gaugePoint(-0, { tenant: 'rt-nonfinite', name: 'd' }),
      histogramPoint(
        { min: Number.NEGATIVE_INFINITY, max: Number.POSITIVE_INFINITY, sum: 2.5 },
        { tenant: 'rt-nonfinite' },
      ),
      // The shared finite-value rule: a histogram sum is added into totals, so NaN would poison them.
      histogramPoint({ sum: Number.NaN }, { tenant: 'rt-nonfinite', name: 'poison' }),
    ];
    const rejectedBefore = exporter.stats().rejectedRows;
    await exporter.consumeBatch({ id: 'rt-nonfinite-1', points });
    const gauges = await readBack('rt-nonfinite', 'gauge');
    expect(gauges.map((point) => (point.value as { value: number }).value)).toEqual([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
    ]);
    expect(Object.is((gauges[3]!.value as { value: number }).value, -0)).toBe(true);
    const histograms = await readBack('rt-nonfinite', 'histogram');
    expect(histograms).toHaveLength(1);
    expect(histograms[0]?.value).toMatchObject({
      min: Number.NEGATIVE_INFINITY,
      max: Number.POSITIVE_INFINITY,
      sum: 2.5,
    });
    expect(exporter.stats().rejectedRows - rejectedBefore).toBe(1);
  });

  it('dead-letters a sum whose delta is NaN or ±Inf instead of poisoning sum(Value), and writes the rest', async () => {
    const good = sumPoint(5, { tenant: 'rt-nansum', name: 'good' });
    const points = [
      good,
      sumPoint(Number.NaN, { tenant: 'rt-nansum', name: 'nan' }),
      sumPoint(Number.POSITIVE_INFINITY, { tenant: 'rt-nansum', name: 'inf' }),
    ];
    const before = exporter.stats();
    expect(await exporter.consumeBatch({ id: 'rt-nansum-1', points })).toEqual({ ok: true });
    expect(await readBack('rt-nansum', 'sum')).toEqual([stored(good)]);
    const after = exporter.stats();
    expect(after.rejectedRows - before.rejectedRows).toBe(2);
    expect(after.deadLetterRows - before.deadLetterRows).toBe(2);
    const connection = storage();
    const letters = await connection.queryRows<{ ErrorCode: string; Payload: string }>(
      "SELECT ErrorCode, Payload FROM otel.tallyhouse_dead_letters WHERE TenantId = 'rt-nansum' ORDER BY Payload",
    );
    expect(letters.map((letter) => letter.ErrorCode)).toEqual(['NON_FINITE_SUM', 'NON_FINITE_SUM']);
    expect(letters.map((letter) => JSON.parse(letter.Payload).value.value).sort()).toEqual([
      'Infinity',
      'NaN',
    ]);
  });

  it('adds nothing when the same batch is sent again', async () => {
    const batch = mixedBatch('rt-resend-1', 'rt-resend');
    for (let i = 0; i < 3; i++) expect(await exporter.consumeBatch(batch)).toEqual({ ok: true });
    for (const point of batch.points) {
      expect(await readBack('rt-resend', point.metric.kind)).toEqual([point]);
    }
  });

  it('adds nothing when a batch with exemplars is sent again, whatever its exemplars', async () => {
    const tenant = 'rt-resend-exemplars';
    const batch = mixedBatch('rt-resend-exemplars-1', tenant, 1, KINDS_WITH_EXEMPLARS);
    const withExemplars = { ...batch, points: batch.points.map((point) => upstreamFields(point, 3)) };
    for (let i = 0; i < 3; i++) expect(await exporter.consumeBatch(withExemplars)).toEqual({ ok: true });
    for (const [index, kind] of KINDS_WITH_EXEMPLARS.entries()) {
      expect(await readBack(tenant, kind)).toEqual([stored(withExemplars.points[index]!)]);
    }
    // Same id, same usage, other exemplars: still a re-send (the token covers the usage columns of row layout 1,
    // so a release that adds columns never re-counts a batch an older one wrote): nothing added.
    const otherExemplars = { ...batch, points: batch.points.map((point) => upstreamFields(point, 5)) };
    expect(await exporter.consumeBatch(otherExemplars)).toEqual({ ok: true });
    expect(await readBack(tenant, 'sum')).toHaveLength(1);
  });

  it('stores summaries as sent: NaN and ±Inf sums and values, no quantiles, many quantiles, every upstream field', async () => {
    const tenant = 'rt-summary';
    const many = Array.from({ length: 101 }, (_, index) => ({
      quantile: index / 100,
      value: index === 0 ? -0 : Math.sqrt(index) * 1e-3 + 0.1,
    }));
    const points: SeriesPoint[] = [
      summaryPoint({}, { tenant, name: 's.a.basic' }),
      summaryPoint({ sum: Number.NaN, quantileValues: [] }, { tenant, name: 's.b.nan-empty' }),
      summaryPoint(
        {
          count: 0,
          sum: Number.NEGATIVE_INFINITY,
          quantileValues: [
            { quantile: 0.5, value: Number.NaN },
            { quantile: 0.99, value: Number.POSITIVE_INFINITY },
          ],
        },
        { tenant, name: 's.c.non-finite' },
      ),
      summaryPoint(
        { count: 2 ** 53 - 1, sum: 0.1 + 0.2, quantileValues: many },
        { tenant, name: 's.d.many' },
      ),
      // A summary's resource is its source's whole resource (as for gauges); the scope with every field.
      {
        ...summaryPoint({}, { tenant, name: 's.e.upstream', attributes: { route: '/a', code: 200 } }),
        resource: { 'service.name': 'checkout', 'host.name': 'node-7', 'k8s.pod.uid': 'p-1' },
        resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scope: {
          name: 'lib',
          version: '2',
          attributes: { pool: 'primary', shard: 3 },
          droppedAttributesCount: 1,
          schemaUrl: 'https://example.com/scope-schema',
        },
      },
    ];
    expect(await exporter.consumeBatch({ id: 'rt-summary-1', points })).toEqual({ ok: true });
    const back = await readBack(tenant, 'summary');
    expect(back).toEqual(points.map(stored));
    expect(Object.is((back[3]!.value as SummaryValue).quantileValues[0]!.value, -0)).toBe(true);
    // As upstream's queries read them: one row per quantile through ARRAY JOIN, Flags 0.
    const rows = await storage().queryRows<Record<string, unknown>>(
      `SELECT MetricName, Count, ValueAtQuantiles.Quantile AS q, ValueAtQuantiles.Value AS v, Flags
       FROM otel.otel_metrics_summary ARRAY JOIN ValueAtQuantiles
       WHERE TenantId = {tenant:String} AND MetricName = 's.a.basic' ORDER BY q`,
      { tenant },
    );
    expect(rows).toEqual(
      [
        [0, 1.5],
        [0.5, 20],
        [0.99, 88.25],
        [1, 90],
      ].map(([q, v]) => ({ MetricName: 's.a.basic', Count: '12', q, v, Flags: 0 })),
    );
  });

  it('dead-letters a summary the storage rules refuse, with the rule broken, and writes the rest', async () => {
    const tenant = 'rt-summary-refused';
    const good = summaryPoint({}, { tenant, name: 'good' });
    const points = [
      good,
      summaryPoint({ quantileValues: [{ quantile: 1.5, value: 1 }] }, { tenant, name: 'quantile' }),
      summaryPoint({ count: -1 }, { tenant, name: 'count' }),
    ];
    const before = exporter.stats();
    expect(await exporter.consumeBatch({ id: 'rt-summary-refused-1', points })).toEqual({ ok: true });
    expect(await readBack(tenant, 'summary')).toEqual([stored(good)]);
    const after = exporter.stats();
    expect(after.rejectedRows - before.rejectedRows).toBe(2);
    expect(after.deadLetterRows - before.deadLetterRows).toBe(2);
    const letters = await storage().queryRows<{ TableName: string; ErrorCode: string; Error: string }>(
      'SELECT TableName, ErrorCode, Error FROM otel.tallyhouse_dead_letters WHERE TenantId = {tenant:String} ORDER BY Error',
      { tenant },
    );
    expect(letters).toEqual([
      {
        TableName: 'otel_metrics_summary',
        ErrorCode: 'INVALID_VALUE',
        Error: `summary "count" of tenant "${tenant}": count -1 is not a count (an integer 0..2^53 - 1)`,
      },
      {
        TableName: 'otel_metrics_summary',
        ErrorCode: 'INVALID_VALUE',
        Error: `summary "quantile" of tenant "${tenant}": quantileValues[0].quantile 1.5 is not a quantile (a number in [0, 1])`,
      },
    ]);
  });

  it('adds nothing when a batch of summaries is sent again; another batch id is new data', async () => {
    const tenant = 'rt-summary-resend';
    const points = [
      summaryPoint({ sum: Number.NaN }, { tenant, name: 'a' }),
      summaryPoint({ quantileValues: [] }, { tenant, name: 'b' }),
    ];
    for (let i = 0; i < 3; i++) {
      expect(await exporter.consumeBatch({ id: 'rt-summary-resend-1', points })).toEqual({ ok: true });
    }
    expect(await readBack(tenant, 'summary')).toEqual(points);
    expect(await exporter.consumeBatch({ id: 'rt-summary-resend-2', points })).toEqual({ ok: true });
    expect(await readBack(tenant, 'summary')).toHaveLength(4);
  });

  it('never aggregates summaries: aggregate reads of a summary metric answer as for an unknown metric', async () => {
    const tenant = 'rt-summary-reads';
    const point = summaryPoint({}, { tenant, name: 'rpc.duration' });
    expect(await exporter.consumeBatch({ id: 'rt-summary-reads-1', points: [point] })).toEqual({ ok: true });
    const metric = 'rpc.duration';
    for (const name of [metric, 'no.such.metric']) {
      expect(await reader.total(tenant, { metric: name })).toEqual({ total: 0, rows: 0 });
      expect(await reader.topN(tenant, { metric: name, by: 'route', limit: 5 })).toEqual([]);
      expect(await reader.gaugeLatest(tenant, { metric: name })).toEqual([]);
      expect(await reader.percentiles(tenant, { metric: name, quantiles: [0.5] })).toEqual([]);
    }
    expect(await reader.sumTotals(tenant)).toEqual([]);
    const range = { fromUnixNano: 1_700_000_000_000_000_000n, toUnixNano: 1_700_000_060_000_000_000n };
    const series = await reader.timeSeries(tenant, { metric, kind: 'gauge', step: '1m', range });
    expect(series.lines).toEqual([]);
    // A plain JavaScript caller naming the kind is told the reads have no such kind.
    const summarySeries = { metric, kind: 'summary', step: '1m', range } as unknown as TimeSeriesQuery;
    await expect(reader.timeSeries(tenant, summarySeries)).rejects.toThrow(
      /kind must be 'sum' or 'gauge', got "summary"/,
    );
    // The stored point is there, for `points`.
    expect(await readBack(tenant, 'summary')).toEqual([point]);
  });

  it('writes a batch re-using an id with different rows (the token covers the content)', async () => {
    await exporter.consumeBatch({ id: 'rt-reuse', points: [sumPoint(1, { tenant: 'rt-reuse' })] });
    await exporter.consumeBatch({ id: 'rt-reuse', points: [sumPoint(2, { tenant: 'rt-reuse' })] });
    const [total] = await reader.sumTotals('rt-reuse');
    expect(total?.total).toBe(3);
  });

  it('round-trips arbitrary doubles, times, strings and exemplars exactly (property)', async () => {
    let run = 0;
    const time = fc.bigInt({ min: 0n, max: 9_223_372_036_854_775_807n });
    const hex = (length: number) =>
      fc.oneof(
        fc.constant(''),
        fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length }),
      );
    const exemplar = fc.record({
      filteredAttributes: fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), {
        maxKeys: 3,
      }),
      timeUnixNano: time,
      value: fc.double(),
      spanId: hex(16),
      traceId: hex(32),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            value: fc.double(),
            time,
            route: fc.string({ unit: 'grapheme' }),
            exemplars: fc.array(exemplar, { maxLength: 10 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        async (records) => {
          run += 1;
          const tenant = `rt-prop-${run}`;
          const points = records.map((record, index): SeriesPoint => {
            const point = gaugePoint(record.value, {
              tenant,
              name: `g${index}`,
              start: record.time,
              time: record.time,
              attributes: { route: record.route },
            });
            // A gauge's exemplars are kept whatever their value (NaN and ±Inf included), in the point's order.
            return record.exemplars.length === 0 ? point : { ...point, exemplars: record.exemplars };
          });
          expect(await exporter.consumeBatch({ id: `${tenant}-1`, points })).toEqual({ ok: true });
          const back = await readBack(tenant, 'gauge');
          const key = (point: SeriesPoint) => point.metric.name;
          expect([...back].sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
            points.map(stored).sort((a, b) => key(a).localeCompare(key(b))),
          );
        },
      ),
      { numRuns: 15 },
    );
  });

  it('refuses tenant-scoped reads without a valid tenant', async () => {
    await expect(reader.sumTotals('')).rejects.toThrow(/empty/);
    await expect(reader.points('a\u0000b', 'sum')).rejects.toThrow(/control character/);
  });
});
