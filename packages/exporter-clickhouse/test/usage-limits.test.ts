/**
 * Bounded usage reads on the embedded engine: a time series past lines × buckets is refused after one bounded
 * count, before the bucket read; each statement carries its limits in its own SETTINGS (and stays tenant-scoped);
 * the engine's refusals (time, rows, bytes, memory) come back as `ReadLimitError` / `ReadTimeoutError`; and a
 * statement still queued behind another in chDB when its read's time is up is withdrawn.
 */
import { ClickHouseError } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseMetricExporter, type StorageConnection, UsageReader } from '../src/index.ts';
import { mapEngineLimit, ReadLimitError, ReadTimeoutError } from '../src/usage/read-limits.ts';
import { assertTenantScoped } from '../src/usage/tenant-scope.ts';
import { recordingConnection, storeExporter, storeStorage, tempDir } from './support.ts';

const dataDir = tempDir('usage-limits');
const HOUR = 3_600_000_000_000n;
const DAY = 24n * HOUR;
/** 2024-01-01T00:00:00Z */
const T0 = 1_704_067_200_000_000_000n;
const WEEK = { fromUnixNano: T0, toUnixNano: T0 + 7n * DAY };

let exporter: ClickHouseMetricExporter;
let connection: StorageConnection;

/** `rows` sum rows of metric `requests` over the week, attribute `key` cycling through `values` values. */
async function seed(tenant: string, rows: number, key: string, values: number, kind = 'sum'): Promise<void> {
  const spacing = (7n * DAY) / BigInt(Math.ceil(rows / values));
  const sum = kind === 'sum';
  await connection.command(
    `INSERT INTO otel.otel_metrics_${kind} (TenantId, ServiceName, MetricName, MetricUnit, Attributes, StartTimeUnix,
       TimeUnix, Value${sum ? ', AggregationTemporality, IsMonotonic' : ''})
     SELECT '${tenant}', 'checkout', 'requests', '1', map('${key}', concat('v', toString(number % ${values}))),
       fromUnixTimestamp64Nano(toInt64(${T0} + intDiv(number, ${values}) * ${spacing})),
       fromUnixTimestamp64Nano(toInt64(${T0} + 1 + intDiv(number, ${values}) * ${spacing})),
       1${sum ? ', 1, true' : ''}
     FROM numbers(${rows})`,
  );
}

/** A reader over a connection that records every statement (without the client: the plain `queryRows` path). */
function recording(limits: ConstructorParameters<typeof UsageReader>[2] = {}) {
  const sent: string[] = [];
  const reader = new UsageReader(
    recordingConnection(connection, (sql) => sent.push(sql)),
    'otel',
    limits,
  );
  return { reader, sent };
}

beforeAll(async () => {
  exporter = storeExporter(dataDir);
  await exporter.start();
  connection = storeStorage(dataDir);
  await seed('wide', 3_000, 'user', 3_000);
  await seed('many', 200_000, 'user', 200_000);
  await seed('gauges', 50, 'queue', 50, 'gauge');
}, 120_000);

afterAll(async () => {
  await exporter.shutdown();
  await connection.close();
});

describe('bounded time series', () => {
  it('refuses lines × buckets past maxPoints after one bounded count, before the bucket read, naming the limit', async () => {
    const { reader, sent } = recording({ limits: { names: { maxPoints: 'MAX_POINTS_VARIABLE' } } });
    const error = await reader
      .timeSeries('wide', { metric: 'requests', kind: 'sum', step: '1h', range: WEEK, groupBy: 'user' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadLimitError);
    expect(error).toMatchObject({ code: 'USAGE_READ_LIMIT', limit: 'maxPoints', max: 200_000 });
    // 200,000 / 168 buckets = 1,190 lines fit; the count stopped at 1,191 of the 3,000.
    expect((error as Error).message).toBe(
      'more than 1190 lines (values of "user") × 168 buckets of 1h are more than MAX_POINTS_VARIABLE=200000 points ' +
        '(at 168 buckets at most 1190 lines fit); narrow the query: a larger step (1d: about 7 buckets), a shorter ' +
        'range, or filter on attributes or service, or group by an attribute with fewer values',
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^SELECT count\(\) AS Lines FROM \(SELECT DISTINCT GroupValue FROM \(/);
    expect(sent[0]).toMatch(/LIMIT \{p\d+:Int64\}\) SETTINGS max_execution_time = /);
    expect(() => assertTenantScoped(sent[0] as string)).not.toThrow();
  });

  it('answers what fits: every statement bounded by its own SETTINGS, lines and buckets exact', async () => {
    const { reader, sent } = recording();
    const daily = await reader.timeSeries('wide', {
      metric: 'requests',
      kind: 'sum',
      step: '1d',
      range: WEEK,
      groupBy: 'user',
    });
    expect(daily.lines).toHaveLength(3_000);
    expect(daily.lines.every((line) => line.points.length === 7)).toBe(true);
    expect(
      daily.lines.reduce((sum, line) => sum + line.points.reduce((s, p) => s + (p.value ?? 0), 0), 0),
    ).toBe(3_000);
    expect(sent).toHaveLength(2);
    for (const sql of sent) {
      expect(sql).toMatch(
        /SETTINGS max_execution_time = \d+\.\d{3}, timeout_overflow_mode = 'throw', max_result_rows = 10001, max_result_bytes = 33554432, result_overflow_mode = 'throw', max_memory_usage = 1073741824$/,
      );
      expect(() => assertTenantScoped(sql)).not.toThrow();
    }
  });

  it('refuses one line whose buckets alone pass maxPoints without sending anything', async () => {
    const { reader, sent } = recording({ limits: { maxPoints: 100 } });
    await expect(
      reader.timeSeries('wide', { metric: 'requests', kind: 'sum', step: '1h', range: WEEK }),
    ).rejects.toThrow(
      '168 buckets of 1h are more than maxPoints=100 points; use a larger step (1d: about 7 buckets)',
    );
    expect(sent).toEqual([]);
  });

  it('counts gauge lines as the series at or before the range end, carried-in ones included', async () => {
    // 50 series, all written during the week: at 1d (7 buckets) 49 lines fit, 50 do not.
    const { reader: week } = recording({ limits: { maxPoints: 49 * 7 } });
    await expect(
      week.timeSeries('gauges', { metric: 'requests', kind: 'gauge', step: '1d', range: WEEK }),
    ).rejects.toMatchObject({
      limit: 'maxPoints',
      message: expect.stringMatching(/^more than 49 lines \(source series\)/),
    });
    // A day after the week holds no point, yet every series is carried in: still 50 lines (of one bucket).
    const after = { fromUnixNano: T0 + 8n * DAY, toUnixNano: T0 + 9n * DAY };
    const { reader: tight } = recording({ limits: { maxPoints: 49 } });
    await expect(
      tight.timeSeries('gauges', { metric: 'requests', kind: 'gauge', step: '1d', range: after }),
    ).rejects.toMatchObject({ limit: 'maxPoints' });
    const { reader: roomy } = recording({ limits: { maxPoints: 50 } });
    const series = await roomy.timeSeries('gauges', {
      metric: 'requests',
      kind: 'gauge',
      step: '1d',
      range: after,
    });
    expect(series.lines).toHaveLength(50);
    expect(series.lines.every((line) => line.points.length === 1 && line.points[0]?.value === 1)).toBe(true);
  });

  it('refuses more lines than maxRows even when the points would fit', async () => {
    const { reader } = recording({ limits: { maxRows: 100 } });
    await expect(
      reader.timeSeries('wide', {
        metric: 'requests',
        kind: 'sum',
        step: '1d',
        range: WEEK,
        groupBy: 'user',
      }),
    ).rejects.toMatchObject({
      limit: 'maxRows',
      message: expect.stringMatching(
        /^more than 100 lines \(values of "user"\) are more than maxRows=100 rows/,
      ),
    });
  });
});

describe('engine limits come back as read-limit errors', () => {
  it('a top-N limit past maxRows is refused before any SQL; a result past it is stopped by the engine', async () => {
    const { reader, sent } = recording({ limits: { maxRows: 5 } });
    await expect(reader.topN('many', { metric: 'requests', by: 'user', limit: 6 })).rejects.toMatchObject({
      code: 'USAGE_READ_LIMIT',
      limit: 'maxRows',
    });
    expect(sent).toEqual([]);
    // gaugeLatest answers a row per series: 50 > 5, stopped by max_result_rows.
    const error = await reader.gaugeLatest('gauges', { metric: 'requests' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadLimitError);
    expect(error).toMatchObject({ limit: 'maxRows', max: 5 });
    // chDB's ClickHouseError (its own copy of the client's class): the engine's code and name.
    expect((error as Error).cause).toMatchObject({ code: '396', type: 'TOO_MANY_ROWS_OR_BYTES' });
  });

  it('a statement past maxMemoryBytes is stopped by the engine (MEMORY_LIMIT_EXCEEDED)', async () => {
    const reader = new UsageReader(connection, 'otel', { limits: { maxMemoryBytes: 2 * 1024 * 1024 } });
    // Ranking 200,000 distinct values needs a hash table far larger than 2 MiB.
    const error = await reader
      .topN('many', { metric: 'requests', by: 'user', limit: 10, range: WEEK })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadLimitError);
    expect(error).toMatchObject({ limit: 'maxMemoryBytes', max: 2 * 1024 * 1024 });
    expect((error as Error).message).toMatch(
      /^the read needs more than maxMemoryBytes=2097152 bytes of engine memory/,
    );
  });

  it('a statement past its time is stopped by the engine (TIMEOUT_EXCEEDED → ReadTimeoutError)', async () => {
    const reader = new UsageReader(connection, 'otel', { useRollups: false, limits: { timeoutMs: 1 } });
    const started = performance.now();
    const error = await reader
      .topN('many', { metric: 'requests', by: 'user', limit: 10, range: WEEK })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadTimeoutError);
    expect(error).toMatchObject({ code: 'USAGE_READ_TIMEOUT', timeoutMs: 1 });
    expect((error as Error).message).toMatch(/^the read took longer than timeoutMs=1 ms; narrow the query/);
    // Either the engine's own limit (code 159), or none left before sending.
    const cause = (error as Error).cause as ClickHouseError | undefined;
    if (cause !== undefined) expect(cause.code).toBe('159');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('withdraws a statement still queued behind another in chDB once its read’s time is up', async () => {
    // chDB runs parameterized statements one at a time: this one holds the engine for about 3 s.
    const blocker = connection.client
      .query({
        query: 'SELECT sum(cityHash64(number)) AS s FROM numbers({n:UInt64}) SETTINGS max_execution_time = 3',
        query_params: { n: 100_000_000_000 },
        format: 'JSONEachRow',
      })
      .then(
        () => performance.now(),
        () => performance.now(),
      );
    const reader = new UsageReader(connection, 'otel', { limits: { timeoutMs: 200 } });
    const started = performance.now();
    const error = await reader.total('wide', { metric: 'requests' }).catch((e: unknown) => e);
    const failedAt = performance.now();
    expect(error).toBeInstanceOf(ReadTimeoutError);
    // Given up at its time plus the grace, while the blocker still ran.
    expect(failedAt - started).toBeGreaterThanOrEqual(1_150);
    expect(failedAt).toBeLessThan(await blocker);
  });

  it('maps engine errors by code, name or message; the process-wide memory limit is not a read limit', () => {
    const limits = {
      maxPoints: 1,
      maxRows: 2,
      maxBytes: 3,
      timeoutMs: 4,
      maxMemoryBytes: 5,
      names: { timeoutMs: 'T', maxRows: 'R', maxBytes: 'B', maxMemoryBytes: 'M' },
    };
    const engine = (code: string, type: string, message: string) =>
      new ClickHouseError({ code, type, message });
    expect(mapEngineLimit(engine('159', 'TIMEOUT_EXCEEDED', 'Timeout exceeded'), limits)).toBeInstanceOf(
      ReadTimeoutError,
    );
    expect(mapEngineLimit(new Error('Code: 159. DB::Exception: Timeout exceeded'), limits)).toBeInstanceOf(
      ReadTimeoutError,
    );
    expect(
      mapEngineLimit(
        engine('396', 'TOO_MANY_ROWS_OR_BYTES', 'Limit for result exceeded, max rows: 2'),
        limits,
      ),
    ).toMatchObject({ limit: 'maxRows', message: expect.stringContaining('R=2 rows') });
    expect(
      mapEngineLimit(
        engine('396', 'TOO_MANY_ROWS_OR_BYTES', 'Limit for result exceeded, max bytes: 3'),
        limits,
      ),
    ).toMatchObject({ limit: 'maxBytes', message: expect.stringContaining('B=3 bytes') });
    expect(
      mapEngineLimit(
        engine('241', 'MEMORY_LIMIT_EXCEEDED', 'Query memory limit exceeded: would use'),
        limits,
      ),
    ).toMatchObject({ limit: 'maxMemoryBytes' });
    expect(
      mapEngineLimit(engine('241', 'MEMORY_LIMIT_EXCEEDED', 'Memory limit (total) exceeded'), limits),
    ).toBeUndefined();
    expect(mapEngineLimit(engine('60', 'UNKNOWN_TABLE', 'Table does not exist'), limits)).toBeUndefined();
  });

  it('refuses limits that are not positive integers, naming them', () => {
    expect(() => new UsageReader(connection, 'otel', { limits: { maxPoints: 0 } })).toThrow(
      'read limit maxPoints must be a positive integer, got 0',
    );
    expect(() => new UsageReader(connection, 'otel', { limits: { timeoutMs: 1.5 } })).toThrow('timeoutMs');
  });
});
