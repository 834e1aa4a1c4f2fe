import type { SeriesPoint } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseMetricExporter, type StorageConnection, UsageReader } from '../src/index.ts';
import { gaugePoint, storeExporter, storeStorage, sumPoint, tempDir } from './support.ts';

// Local days of a time zone as `1d` buckets: the truth here is computed with Intl (the local date of each point),
// independently of the reader's calendar code.
const dataDir = tempDir('usage-time-zones');
const MS = 1_000_000n;
const MINUTE_MS = 60_000;
const ms = (iso: string) => Date.parse(iso);

let exporter: ClickHouseMetricExporter;
let connection: StorageConnection;
let rollups: UsageReader;
let raw: UsageReader;

beforeAll(async () => {
  exporter = storeExporter(dataDir);
  await exporter.start();
  connection = storeStorage(dataDir);
  rollups = new UsageReader(connection, 'otel');
  raw = new UsageReader(connection, 'otel', { useRollups: false });
});

afterAll(async () => {
  await exporter.shutdown();
  await connection.close();
});

/** The local date (`YYYY-MM-DD`) of the instant just before `timeMs`: a delta row on midnight closes the day before. */
function localDateOf(timeMs: number, zone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, dateStyle: 'short' }).format(timeMs - 1);
}

/** One point every 7 minutes over `[fromMs, toMs)`, values 1..9 cycling, plus points exactly on `onTimes`. */
function deltas(tenant: string, fromMs: number, toMs: number, onTimes: number[]) {
  const points: { timeMs: number; value: number }[] = [];
  let i = 0;
  for (let t = fromMs; t < toMs; t += 7 * MINUTE_MS) points.push({ timeMs: t, value: (i++ % 9) + 1 });
  for (const t of onTimes) points.push({ timeMs: t, value: 1000 });
  const series: SeriesPoint[] = points.map(({ timeMs, value }) =>
    sumPoint(value, {
      tenant,
      name: 'api.requests',
      time: BigInt(timeMs) * MS,
      start: BigInt(timeMs) * MS - 1n,
    }),
  );
  return { points, series };
}

describe('1d time series in a time zone: buckets are local days', () => {
  it('America/New_York over both DST changes: 23- and 25-hour days, rollups and raw rows agree with the truth', async () => {
    const zone = 'America/New_York';
    const tenant = 'tz-ny';
    // Spring forward 2026-03-08, fall back 2026-11-01; points on local and UTC midnights test the edges.
    const onTimes = [
      ms('2026-03-08T05:00:00Z'),
      ms('2026-03-09T04:00:00Z'),
      ms('2026-03-09T00:00:00Z'),
      ms('2026-11-01T04:00:00Z'),
      ms('2026-11-02T05:00:00Z'),
    ];
    const spring = deltas(
      tenant,
      ms('2026-03-06T00:00:00Z'),
      ms('2026-03-11T00:00:00Z'),
      onTimes.slice(0, 3),
    );
    const fall = deltas(tenant, ms('2026-10-30T00:00:00Z'), ms('2026-11-04T00:00:00Z'), onTimes.slice(3));
    expect((await exporter.consumeBatch({ id: 'ny-spring', points: spring.series })).ok).toBe(true);
    expect((await exporter.consumeBatch({ id: 'ny-fall', points: fall.series })).ok).toBe(true);

    for (const [window, data] of [
      [['2026-03-06T12:00:00Z', '2026-03-10T12:00:00Z'], spring],
      [['2026-10-30T12:00:00Z', '2026-11-03T12:00:00Z'], fall],
    ] as const) {
      const truth = new Map<string, number>();
      for (const { timeMs, value } of data.points) {
        const date = localDateOf(timeMs, zone);
        truth.set(date, (truth.get(date) ?? 0) + value);
      }
      const query = {
        metric: 'api.requests',
        kind: 'sum' as const,
        step: '1d' as const,
        timeZone: zone,
        range: { fromUnixNano: BigInt(ms(window[0])) * MS, toUnixNano: BigInt(ms(window[1])) * MS },
      };
      const fromRollups = await rollups.timeSeries(tenant, query);
      const fromRaw = await raw.timeSeries(tenant, query);
      expect(fromRaw).toEqual(fromRollups);
      const [line] = fromRollups.lines;
      const starts = line!.points.map((p) => Number(p.startUnixNano / MS));
      // Each bucket starts at a local midnight, and is labelled with the local date that follows it.
      for (const start of starts) {
        expect(new Date(start).toLocaleTimeString('en-GB', { timeZone: zone })).toBe('00:00:00');
      }
      const lengths = starts.slice(1).map((start, i) => (start - starts[i]!) / 3_600_000);
      const got = Object.fromEntries(
        line!.points.map((p) => [localDateOf(Number(p.startUnixNano / MS) + 1, zone), p.value]),
      );
      for (const [date, value] of Object.entries(got)) expect(value, date).toBe(truth.get(date) ?? 0);
      expect(Object.keys(got)).toHaveLength(5);
      expect(lengths).toContain(window[0].startsWith('2026-03') ? 23 : 25);
    }
  });

  it('Asia/Kolkata (+05:30): days start on the half hour, read from raw rows, still exact', async () => {
    const zone = 'Asia/Kolkata';
    const tenant = 'tz-kolkata';
    const onTimes = [ms('2026-06-01T18:30:00Z'), ms('2026-06-02T00:00:00Z')];
    const data = deltas(tenant, ms('2026-06-01T00:00:00Z'), ms('2026-06-04T00:00:00Z'), onTimes);
    expect((await exporter.consumeBatch({ id: 'kolkata', points: data.series })).ok).toBe(true);
    const series = await rollups.timeSeries(tenant, {
      metric: 'api.requests',
      kind: 'sum',
      step: '1d',
      timeZone: zone,
      range: {
        fromUnixNano: BigInt(ms('2026-06-01T00:00:00Z')) * MS,
        toUnixNano: BigInt(ms('2026-06-04T00:00:00Z')) * MS,
      },
    });
    const truth = new Map<string, number>();
    for (const { timeMs, value } of data.points) {
      const date = localDateOf(timeMs, zone);
      truth.set(date, (truth.get(date) ?? 0) + value);
    }
    const got = series.lines[0]!.points.map((p) => [
      new Date(Number(p.startUnixNano / MS)).toISOString(),
      localDateOf(Number(p.startUnixNano / MS) + 1, zone),
      p.value,
    ]);
    expect(got.map(([start]) => start)).toEqual([
      '2026-05-31T18:30:00.000Z',
      '2026-06-01T18:30:00.000Z',
      '2026-06-02T18:30:00.000Z',
      '2026-06-03T18:30:00.000Z',
    ]);
    for (const [, date, value] of got) expect(value, String(date)).toBe(truth.get(String(date)) ?? 0);
    expect(got.reduce((total, [, , value]) => total + Number(value), 0)).toBe(
      data.points.reduce((total, p) => total + p.value, 0),
    );
  });

  it('gauges: the last value of each local day, carried forward', async () => {
    const zone = 'America/New_York';
    const tenant = 'tz-gauge';
    const at = (iso: string, value: number) =>
      gaugePoint(value, { tenant, name: 'seats', time: BigInt(ms(iso)) * MS });
    const points = [
      at('2026-03-07T04:30:00Z', 1), // 2026-03-06 23:30 local
      at('2026-03-07T05:30:00Z', 2), // 2026-03-07 00:30 local
      at('2026-03-08T04:59:00Z', 3), // 2026-03-07 23:59 local (the UTC date is the 8th)
      at('2026-03-09T03:30:00Z', 4), // 2026-03-08 23:30 local (EDT since 02:00)
    ];
    expect((await exporter.consumeBatch({ id: 'gauge-ny', points })).ok).toBe(true);
    const query = {
      metric: 'seats',
      kind: 'gauge' as const,
      step: '1d' as const,
      timeZone: zone,
      range: {
        fromUnixNano: BigInt(ms('2026-03-06T05:00:00Z')) * MS,
        toUnixNano: BigInt(ms('2026-03-10T04:00:00Z')) * MS,
      },
    };
    for (const reader of [rollups, raw]) {
      const series = await reader.timeSeries(tenant, query);
      expect(series.lines).toHaveLength(1);
      expect(series.lines[0]!.points.map((p) => p.value)).toEqual([1, 3, 4, 4]);
    }
  });

  it('UTC and zones whose midnights are UTC midnights give the plain UTC series', async () => {
    const tenant = 'tz-ny';
    const query = {
      metric: 'api.requests',
      kind: 'sum' as const,
      step: '1d' as const,
      range: {
        fromUnixNano: BigInt(ms('2026-03-06T00:00:00Z')) * MS,
        toUnixNano: BigInt(ms('2026-03-11T00:00:00Z')) * MS,
      },
    };
    const plain = await rollups.timeSeries(tenant, query);
    expect(await rollups.timeSeries(tenant, { ...query, timeZone: 'UTC' })).toEqual(plain);
    expect(await rollups.timeSeries(tenant, { ...query, timeZone: 'Africa/Abidjan' })).toEqual(plain);
    await expect(rollups.timeSeries(tenant, { ...query, timeZone: 'Mars/Olympus' })).rejects.toThrow(
      /"Mars\/Olympus" is not an IANA time zone/,
    );
  });
});
