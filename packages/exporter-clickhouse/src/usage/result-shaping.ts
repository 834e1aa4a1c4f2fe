/**
 * The engine's rows of the usage statements (`statements.ts`) as answers: totals, top-N entries, latest gauge
 * values, histogram percentiles, and time series — sums zero-filled, gauges carried forward through empty
 * buckets — assembled in slices that hand the event loop back.
 */

import type { Slicer } from '@tallyhouse/model';
import { histogramQuantile } from './percentiles.ts';
import type {
  GaugeLatest,
  GaugeSource,
  HistogramPercentiles,
  PercentileQuery,
  SumTotal,
  TenantTotal,
  TimeSeriesLine,
  TimeSeriesPoint,
  TopEntry,
  UsageTotal,
} from './query-types.ts';
import { decodeFloat } from './row-decoding.ts';

export interface TotalRow {
  readonly Total: number | string;
  readonly RowCount: string;
}
export interface SumTotalRow extends TotalRow {
  readonly MetricName: string;
  readonly MetricUnit: string;
}
export interface TenantTotalRow extends SumTotalRow {
  readonly TenantId: string;
}
export interface TopRow extends TotalRow {
  readonly Label: string;
}
/** The columns that name a gauge's source series (besides the metric). */
export interface GaugeSourceColumns {
  readonly MetricUnit: string;
  readonly Attributes: Record<string, string>;
  readonly ResourceAttributes: Record<string, string>;
  readonly ScopeName: string;
  readonly ScopeVersion: string;
}
export interface GaugeLatestRow extends GaugeSourceColumns {
  readonly MetricName: string;
  readonly Latest: number | string;
  readonly LatestTime: string;
}
export interface HistogramRow {
  readonly ExplicitBounds: (number | string)[];
  readonly Buckets: string[];
  readonly Count: string;
  readonly Sum: number | string;
}
export interface LineCountRow {
  readonly Lines: string;
}
export interface SumSeriesRow {
  readonly GroupValue?: string;
  readonly Indexes: number[];
  readonly Totals: (number | string)[];
}
export interface GaugeSeriesRow extends GaugeSourceColumns {
  readonly Indexes: number[];
  readonly LastValues: (number | string)[];
}

/** Loops over points look at the clock once per this many + 1 (a power of two, less one). */
const SLICE_CHECK = 1_023;

export function usageTotal(row: TotalRow | undefined): UsageTotal {
  return { total: decodeFloat(row?.Total ?? 0), rows: Number(row?.RowCount ?? 0) };
}

export function sumTotal(row: SumTotalRow): SumTotal {
  return {
    metricName: row.MetricName,
    unit: row.MetricUnit,
    total: decodeFloat(row.Total),
    rows: Number(row.RowCount),
  };
}

export function tenantTotal(row: TenantTotalRow): TenantTotal {
  return { tenant: row.TenantId, ...sumTotal(row) };
}

export function topEntry(row: TopRow): TopEntry {
  return { value: row.Label, total: decodeFloat(row.Total), rows: Number(row.RowCount) };
}

function gaugeSource(row: GaugeSourceColumns): GaugeSource {
  return { resource: row.ResourceAttributes, scope: { name: row.ScopeName, version: row.ScopeVersion } };
}

export function gaugeLatest(row: GaugeLatestRow): GaugeLatest {
  return {
    metricName: row.MetricName,
    unit: row.MetricUnit,
    attributes: row.Attributes,
    source: gaugeSource(row),
    value: decodeFloat(row.Latest),
    timeUnixNano: BigInt(row.LatestTime),
  };
}

export function histogramPercentiles(
  row: HistogramRow,
  query: Pick<PercentileQuery, 'quantiles' | 'method'>,
): HistogramPercentiles {
  const bounds = row.ExplicitBounds.map(decodeFloat);
  const bucketCounts = row.Buckets.map(Number);
  return {
    bounds,
    bucketCounts,
    count: Number(row.Count),
    sum: decodeFloat(row.Sum),
    values: query.quantiles.map((quantile) =>
      histogramQuantile(quantile, bounds, bucketCounts, query.method),
    ),
  };
}

/** Sum lines, every bucket present (0 when empty), ordered by key; `groupKey` names the grouped attribute. */
export async function zeroFilledLines(
  rows: readonly SumSeriesRow[],
  starts: readonly bigint[],
  groupKey: string | undefined,
  slicer: Slicer,
): Promise<TimeSeriesLine[]> {
  const lines = new Map<string, number[]>();
  for (const row of rows) {
    const filled = new Array<number>(starts.length).fill(0);
    placeBuckets(row.Indexes, row.Totals, starts.length, (index, value) => {
      filled[index] = decodeFloat(value);
    });
    lines.set(row.GroupValue ?? '', filled);
    await slicer.tick();
  }
  const out: TimeSeriesLine[] = [];
  for (const key of [...lines.keys()].sort()) {
    const filled = lines.get(key) ?? [];
    const points = await linePoints(starts, (index) => filled[index] ?? 0, slicer);
    out.push({ key: groupKey === undefined ? {} : { [groupKey]: key }, points });
    await slicer.tick();
  }
  return out;
}

/** One gauge source series: its last value per bucket (where it has one) and the value carried in before the range. */
export interface GaugeLine {
  readonly key: Record<string, string>;
  readonly unit: string;
  readonly source: GaugeSource;
  readonly values: (number | undefined)[];
  carry?: number;
}

function sortedEntries(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A source series as a key that sorts by attributes first, then unit, resource attributes and scope — so the lines
 * of one (unit, attributes) are next to each other, and a single-source answer is ordered by attributes as before.
 */
function sourceSeriesId(
  unit: string,
  attributes: Readonly<Record<string, string>>,
  source: GaugeSource,
): string {
  return JSON.stringify([
    sortedEntries(attributes),
    unit,
    sortedEntries(source.resource),
    source.scope.name,
    source.scope.version,
  ]);
}

/** Gauge lines by source series, from the carry-in values and the bucket rows. */
export async function gaugeLines(
  rows: readonly GaugeSeriesRow[],
  carryIn: readonly GaugeLatest[],
  metric: string,
  buckets: number,
  slicer: Slicer,
): Promise<Map<string, GaugeLine>> {
  const lines = new Map<string, GaugeLine>();
  const lineOf = (unit: string, attributes: Record<string, string>, source: GaugeSource) => {
    const id = sourceSeriesId(unit, attributes, source);
    let line = lines.get(id);
    if (line === undefined) {
      line = { key: attributes, unit, source, values: new Array<number | undefined>(buckets) };
      lines.set(id, line);
    }
    return line;
  };
  for (const latest of carryIn) {
    if (latest.metricName === metric) {
      lineOf(latest.unit, { ...latest.attributes }, latest.source).carry = latest.value;
    }
  }
  for (const row of rows) {
    const line = lineOf(row.MetricUnit, row.Attributes, gaugeSource(row));
    placeBuckets(row.Indexes, row.LastValues, buckets, (index, last) => {
      line.values[index] = decodeFloat(last);
    });
    await slicer.tick();
  }
  return lines;
}

/** Gauge lines ordered by source series, each bucket holding the last value at or before its end. */
export async function carriedForwardLines(
  lines: ReadonlyMap<string, GaugeLine>,
  starts: readonly bigint[],
  slicer: Slicer,
): Promise<TimeSeriesLine[]> {
  const out: TimeSeriesLine[] = [];
  for (const [, line] of [...lines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let last = line.carry;
    const points = await linePoints(
      starts,
      (index) => {
        const value = line.values[index];
        if (value !== undefined) last = value;
        return last;
      },
      slicer,
    );
    out.push({ key: line.key, unit: line.unit, source: line.source, points });
    await slicer.tick();
  }
  return out;
}

/** The points of one line, bucket by bucket in order (`valueAt` is called once per bucket, in order). */
async function linePoints(
  starts: readonly bigint[],
  valueAt: (index: number) => number | undefined,
  slicer: Slicer,
): Promise<TimeSeriesPoint[]> {
  const points: TimeSeriesPoint[] = new Array(starts.length);
  for (let index = 0; index < starts.length; index++) {
    points[index] = { startUnixNano: starts[index] as bigint, value: valueAt(index) };
    if ((index & SLICE_CHECK) === SLICE_CHECK && slicer.due()) await slicer.pause();
  }
  return points;
}

/** Puts a line's non-empty buckets (index, value) in place; an index outside the answer's buckets is ignored. */
function placeBuckets<V>(
  indexes: readonly number[],
  values: readonly V[],
  buckets: number,
  set: (index: number, value: V) => void,
): void {
  for (let i = 0; i < indexes.length; i++) {
    const index = Number(indexes[i]);
    if (Number.isInteger(index) && index >= 0 && index < buckets) set(index, values[i] as V);
  }
}
