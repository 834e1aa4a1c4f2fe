/**
 * Gauges from several sources on the real engine: two hosts and two scopes report one gauge with equal point
 * attributes. Every read answers per source series, naming its source (raw rows and rollups alike); `combine`
 * merges the sources' values per (unit, attributes) bucket by bucket, each source carried forward on its own and
 * a source that has not reported yet left out.
 */
import type { SeriesPoint } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClickHouseMetricExporter,
  type GaugeCombine,
  type GaugeSource,
  type StorageConnection,
  type TimeSeriesLine,
  UsageReader,
} from '../src/index.ts';
import { gaugePoint, storeExporter, storeStorage, tempDir } from './support.ts';

const dataDir = tempDir('gauge-sources');
const MINUTE = 60_000_000_000n;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;
/** 2024-05-01T00:00:00Z */
const T0 = 1_714_521_600_000_000_000n;
const TENANT = 'fleet';
const METRIC = 'connections.open';

const source = (host: string, scopeVersion: string): GaugeSource => ({
  resource: { 'service.name': 'api', 'host.name': host },
  scope: { name: 'pool-meter', version: scopeVersion },
});
/** Host a, scope version 1. */
const A = source('a', '1');
/** Host b: the same scope, another host; it starts reporting mid-range. */
const B = source('b', '1');
/** Host a again, another scope version: a source of its own. */
const C = source('a', '2');

function gauge(from: GaugeSource, value: number, time: bigint, pool = 'main', tenant = TENANT): SeriesPoint {
  const point = gaugePoint(value, { tenant, name: METRIC, time, start: time, attributes: { pool } });
  return { ...point, resource: from.resource, scope: from.scope };
}

let exporter: ClickHouseMetricExporter;
let connection: StorageConnection;
let rollups: UsageReader;
let raw: UsageReader;

beforeAll(async () => {
  exporter = storeExporter(dataDir);
  const result = await exporter.consumeBatch({
    id: 'sources',
    points: [
      gauge(A, 10, T0 - DAY), // carried into the range
      gauge(A, 12, T0 + HOUR + 30n * MINUTE),
      gauge(A, 4, T0 + 3n * HOUR + 10n * MINUTE),
      gauge(B, 7, T0 + 2n * HOUR + 5n * MINUTE), // B's first value
      gauge(C, 1, T0 + HOUR), // exactly on the hour: closes bucket 00:00
      gauge(C, 3, T0 + 4n * HOUR + 59n * MINUTE),
      gauge(A, 5, T0 + 2n * HOUR + 1n, 'spare'),
      gauge(A, 1_000, T0 + 2n * HOUR, 'main', 'elsewhere'), // another tenant, same source
    ],
  });
  expect(result.ok).toBe(true);
  connection = storeStorage(dataDir);
  rollups = new UsageReader(connection, 'otel');
  raw = new UsageReader(connection, 'otel', { useRollups: false });
});

afterAll(async () => {
  await exporter.shutdown();
  await connection.close();
});

const RANGE = { fromUnixNano: T0, toUnixNano: T0 + 5n * HOUR };

function series(reader: UsageReader, combine?: GaugeCombine, step: '1m' | '1h' | '1d' = '1h') {
  return reader.timeSeries(TENANT, {
    metric: METRIC,
    kind: 'gauge',
    step,
    range: RANGE,
    ...(combine === undefined ? {} : { combine }),
  });
}

const shape = (lines: readonly TimeSeriesLine[]) =>
  lines.map(({ points, ...line }) => ({ ...line, values: points.map((point) => point.value) }));

describe('gauges from several sources', () => {
  it('answers one line per source series, each naming its source, carried forward on its own', async () => {
    for (const reader of [rollups, raw]) {
      const answer = await series(reader);
      expect(shape(answer.lines)).toEqual([
        { key: { pool: 'main' }, unit: 'ms', source: A, values: [10, 12, 12, 4, 4] },
        { key: { pool: 'main' }, unit: 'ms', source: C, values: [1, 1, 1, 1, 3] },
        {
          key: { pool: 'main' },
          unit: 'ms',
          source: B,
          values: [undefined, undefined, 7, 7, 7],
        },
        {
          key: { pool: 'spare' },
          unit: 'ms',
          source: A,
          values: [undefined, undefined, 5, 5, 5],
        },
      ]);
    }
    // Minutes (raw rows) carry the same values: the last minute of each hour equals the hour's value.
    const minutes = await series(rollups, undefined, '1m');
    const hourly = await series(rollups);
    for (const [index, line] of minutes.lines.entries()) {
      const lastOfHour = [59, 119, 179, 239, 299].map((minute) => line.points[minute]?.value);
      expect(lastOfHour).toEqual(hourly.lines[index]?.points.map((point) => point.value));
      expect(line.source).toEqual(hourly.lines[index]?.source);
    }
  });

  it('gives the latest value of every source series, naming it, however new the others are', async () => {
    for (const reader of [rollups, raw]) {
      const latest = await reader.gaugeLatest(TENANT, { metric: METRIC });
      expect(latest).toEqual([
        {
          metricName: METRIC,
          unit: 'ms',
          attributes: { pool: 'main' },
          source: A,
          value: 4,
          timeUnixNano: T0 + 3n * HOUR + 10n * MINUTE,
        },
        {
          metricName: METRIC,
          unit: 'ms',
          attributes: { pool: 'main' },
          source: C,
          value: 3,
          timeUnixNano: T0 + 4n * HOUR + 59n * MINUTE,
        },
        {
          metricName: METRIC,
          unit: 'ms',
          attributes: { pool: 'main' },
          source: B,
          value: 7,
          timeUnixNano: T0 + 2n * HOUR + 5n * MINUTE,
        },
        {
          metricName: METRIC,
          unit: 'ms',
          attributes: { pool: 'spare' },
          source: A,
          value: 5,
          timeUnixNano: T0 + 2n * HOUR + 1n,
        },
      ]);
    }
  });

  it.each([
    // bucket:  00:00 (A carried in, C)  01:00 (A, C)  02:00 (A, B starts, C)  03:00 (A, B, C)  04:00 (A, B, C)
    ['sum', [11, 13, 20, 12, 14]],
    ['max', [10, 12, 12, 7, 7]],
    ['min', [1, 1, 1, 1, 3]],
    ['avg', [11 / 2, 13 / 2, 20 / 3, 12 / 3, 14 / 3]],
  ] as const)(
    'combine=%s: the sources combined per bucket, each carried forward, a source counted once it reported',
    async (combine, main) => {
      for (const reader of [rollups, raw]) {
        const answer = await series(reader, combine);
        expect(shape(answer.lines)).toEqual([
          { key: { pool: 'main' }, unit: 'ms', sources: 3, values: main },
          { key: { pool: 'spare' }, unit: 'ms', sources: 1, values: [undefined, undefined, 5, 5, 5] },
        ]);
        // Days: rollups and raw rows agree (the one bucket holds every source's last value of the day).
        expect(await series(reader, combine, '1d')).toEqual(await series(raw, combine, '1d'));
      }
    },
  );

  it('combines the latest values of a range, over the sources that have one in it', async () => {
    for (const reader of [rollups, raw]) {
      expect(await reader.gaugeLatest(TENANT, { metric: METRIC, combine: 'sum' })).toEqual([
        {
          metricName: METRIC,
          unit: 'ms',
          attributes: { pool: 'main' },
          combine: 'sum',
          value: 14,
          timeUnixNano: T0 + 4n * HOUR + 59n * MINUTE,
          sources: 3,
        },
        {
          metricName: METRIC,
          unit: 'ms',
          attributes: { pool: 'spare' },
          combine: 'sum',
          value: 5,
          timeUnixNano: T0 + 2n * HOUR + 1n,
          sources: 1,
        },
      ]);
      // Up to 02:00 host b has not reported: only A (12) and C (1) count.
      const early = await reader.gaugeLatest(TENANT, {
        metric: METRIC,
        attributes: { pool: 'main' },
        range: { toUnixNano: T0 + 2n * HOUR },
        combine: 'max',
      });
      expect(early.map(({ value, sources }) => ({ value, sources }))).toEqual([{ value: 12, sources: 2 }]);
    }
  });

  it('refuses an unknown combine, and combine on a sum series', async () => {
    await expect(
      rollups.gaugeLatest(TENANT, { metric: METRIC, combine: 'median' as GaugeCombine }),
    ).rejects.toThrow(/combine must be one of sum, max, min, avg/);
    await expect(series(rollups, 'total' as GaugeCombine)).rejects.toThrow(RangeError);
    await expect(
      rollups.timeSeries(TENANT, { metric: METRIC, kind: 'sum', step: '1h', range: RANGE, combine: 'sum' }),
    ).rejects.toThrow(/gauge time series only/);
  });

  it('keeps each source in its own rollup row', async () => {
    const rows = await connection.queryRows<{ Host: string; ScopeVersion: string; Rows: string }>(
      `SELECT ResourceAttributes['host.name'] AS Host, ScopeVersion, sum(Rows) AS Rows
       FROM otel.tallyhouse_usage_gauge_source_1d WHERE TenantId = {tenant:String} AND Attributes['pool'] = 'main'
       GROUP BY Host, ScopeVersion ORDER BY Host, ScopeVersion`,
      { tenant: TENANT },
    );
    expect(rows).toEqual([
      { Host: 'a', ScopeVersion: '1', Rows: '3' },
      { Host: 'a', ScopeVersion: '2', Rows: '2' },
      { Host: 'b', ScopeVersion: '1', Rows: '1' },
    ]);
  });
});
