/**
 * Tenant-first usage queries: totals, time series, top-N, gauge latest values, histogram percentiles — plus the
 * stored points. Every read is built by a `TenantScopedQuery` (tenant validated before any SQL, the tenant
 * predicate on every table, values bound as parameters) and sent through `run`, which re-checks the SQL text.
 * Cross-tenant reads are the `admin*` methods only.
 *
 * Ranges are `(from, to]` on `TimeUnix` (sum rows are deltas over `(StartTimeUnix, TimeUnix]`). Long ranges read
 * whole hours/days from the rollups and the open edges from raw rows (see `range-plan.ts`), with the same result
 * as a raw scan.
 */
import type { PointKind, SeriesPoint } from '@tallyhouse/processor-tenant';
import type { StorageConnection } from '../connection.ts';
import { METRIC_COLUMNS, METRIC_TABLES } from '../tables.ts';
import { decodeFloat, decodeRow, type GaugeLatest, type SumTotal, type TimeRange } from '../tenant-reads.ts';
import { histogramQuantile, type PercentileMethod } from './percentiles.ts';
import { ceilTo, floorTo, planRange, type RangePart } from './range-plan.ts';
import {
  bucketExpression,
  NANOS_PER_SECOND,
  type RollupKind,
  STEP_SECONDS,
  type Step,
} from './rollup-schema.ts';
import { AdminQuery, assertTenantScoped, type QueryBuilder, TenantScopedQuery } from './tenant-scope.ts';

/** What a read selects, besides tenant and time. Attribute keys and values are bound values, never SQL. */
export interface UsageFilter {
  readonly metric?: string;
  readonly service?: string;
  /** Attribute key → the value, or any of the values. Non-string values as stored: canonical JSON (`42`). */
  readonly attributes?: Readonly<Record<string, string | readonly string[]>>;
  readonly range?: TimeRange;
}

export interface MetricQuery extends UsageFilter {
  readonly metric: string;
}

export interface UsageTotal {
  readonly total: number;
  /** Raw rows summed. */
  readonly rows: number;
}

export interface TopEntry {
  /** The attribute's value. */
  readonly value: string;
  readonly total: number;
  readonly rows: number;
}

export interface TopNQuery extends MetricQuery {
  /** Attribute key to rank by; rows without it are left out. */
  readonly by: string;
  readonly limit: number;
}

export interface TimeSeriesQuery extends MetricQuery {
  readonly kind: 'sum' | 'gauge';
  readonly step: Step;
  /** Both bounds required; widened outwards to whole steps. */
  readonly range: { readonly fromUnixNano: bigint; readonly toUnixNano: bigint };
  /** Sums only: one line per value of this attribute (rows without it under `''`). Default: one line. */
  readonly groupBy?: string;
}

export interface TimeSeriesPoint {
  /** Bucket start `b`: the bucket holds `b < TimeUnix <= b + step`. */
  readonly startUnixNano: bigint;
  /** Sums: the total (0 when empty). Gauges: the last value at or before the bucket's end; undefined before any. */
  readonly value: number | undefined;
}

export interface TimeSeriesLine {
  /** Sums: `{}` or `{ [groupBy]: value }`. Gauges: the series' attributes. */
  readonly key: Readonly<Record<string, string>>;
  readonly points: readonly TimeSeriesPoint[];
}

export interface TimeSeries {
  readonly step: Step;
  readonly fromUnixNano: bigint;
  readonly toUnixNano: bigint;
  readonly lines: readonly TimeSeriesLine[];
}

export interface PercentileQuery extends MetricQuery {
  /** Each in [0, 1]. */
  readonly quantiles: readonly number[];
  readonly method?: PercentileMethod;
}

export interface HistogramPercentiles {
  /** One entry per distinct bounds: histograms with different bounds are never merged. */
  readonly bounds: readonly number[];
  readonly bucketCounts: readonly number[];
  readonly count: number;
  readonly sum: number;
  /** Same order as the query's `quantiles`; undefined without observations or bounds. */
  readonly values: readonly (number | undefined)[];
}

export interface TenantTotal extends SumTotal {
  readonly tenant: string;
}

export interface UsageReaderOptions {
  /** Read closed hours/days from the rollups (default true). False: raw rows only. */
  readonly useRollups?: boolean;
  /** Most buckets a time series may have (default 100,000). */
  readonly maxBuckets?: number;
}

/** What the reader needs of a connection (tests wrap it to capture SQL). */
export type QueryConnection = Pick<StorageConnection, 'queryRows'>;

type Group = readonly [alias: string, expression: string];

/** Spans of the range read from one storage. */
interface SourceSpans {
  readonly kind: RangePart['kind'];
  readonly spans: RangePart[];
}

const MAX_TOP_N = 10_000;

export class UsageReader {
  private readonly connection: QueryConnection;
  private readonly database: string;
  private readonly useRollups: boolean;
  private readonly maxBuckets: number;

  constructor(connection: QueryConnection, database: string, options: UsageReaderOptions = {}) {
    this.connection = connection;
    this.database = database;
    this.useRollups = options.useRollups ?? true;
    this.maxBuckets = options.maxBuckets ?? 100_000;
  }

  /** The tenant's total of one sum metric over the range. */
  async total(tenant: string, query: MetricQuery): Promise<UsageTotal> {
    const q = this.scope(tenant);
    const sql = this.sumOver(q, query, []);
    if (sql === undefined) return { total: 0, rows: 0 };
    const [row] = await this.run<{ Total: number | string; RowCount: string }>(q, sql);
    return { total: decodeFloat(row?.Total ?? 0), rows: Number(row?.RowCount ?? 0) };
  }

  /** Per sum metric (and unit): the tenant's total over the range. */
  async sumTotals(tenant: string, range: TimeRange = {}, metricName?: string): Promise<SumTotal[]> {
    const q = this.scope(tenant);
    const filter: UsageFilter = metricName === undefined ? { range } : { range, metric: metricName };
    const sql = this.sumOver(q, filter, [
      ['MetricName', 'MetricName'],
      ['MetricUnit', 'MetricUnit'],
    ]);
    if (sql === undefined) return [];
    const rows = await this.run<{ MetricName: string; MetricUnit: string; Total: number; RowCount: string }>(
      q,
      `${sql} ORDER BY MetricName, MetricUnit`,
    );
    return rows.map((row) => ({
      metricName: row.MetricName,
      unit: row.MetricUnit,
      total: decodeFloat(row.Total),
      rows: Number(row.RowCount),
    }));
  }

  /** The `limit` values of attribute `by` with the largest totals (ties by value, ascending). */
  async topN(tenant: string, query: TopNQuery): Promise<TopEntry[]> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MAX_TOP_N) {
      throw new RangeError(`limit must be an integer in [1, ${MAX_TOP_N}], got ${query.limit}`);
    }
    const q = this.scope(tenant);
    const key = q.bind('String', query.by);
    const sql = this.sumOver(
      q,
      query,
      [['Label', `Attributes[${key}]`]],
      [`mapContains(Attributes, ${key})`],
    );
    if (sql === undefined) return [];
    const rows = await this.run<{ Label: string; Total: number; RowCount: string }>(
      q,
      `${sql} ORDER BY Total DESC, Label ASC LIMIT ${q.bind('Int64', String(query.limit))}`,
    );
    return rows.map((row) => ({
      value: row.Label,
      total: decodeFloat(row.Total),
      rows: Number(row.RowCount),
    }));
  }

  /** Per gauge series (metric, unit, attributes): the value with the newest `TimeUnix` in the range. */
  async gaugeLatest(tenant: string, filter: UsageFilter = {}): Promise<GaugeLatest[]> {
    const q = this.scope(tenant);
    const sql = this.gaugeOver(q, filter);
    if (sql === undefined) return [];
    const rows = await this.run<{
      MetricName: string;
      MetricUnit: string;
      Attributes: Record<string, string>;
      Latest: number | string;
      LatestTime: string;
    }>(q, sql);
    return rows.map((row) => ({
      metricName: row.MetricName,
      unit: row.MetricUnit,
      attributes: row.Attributes,
      value: decodeFloat(row.Latest),
      timeUnixNano: BigInt(row.LatestTime),
    }));
  }

  /**
   * Buckets of `step` over the range (widened to whole steps). Sums: totals, zero-filled. Gauges: per series,
   * the last value in each bucket, carried forward through empty buckets (starting from the last value before
   * the range).
   */
  async timeSeries(tenant: string, query: TimeSeriesQuery): Promise<TimeSeries> {
    const q = this.scope(tenant);
    const stepNs = STEP_SECONDS[query.step] * NANOS_PER_SECOND;
    if (stepNs === undefined) throw new RangeError(`unknown step ${JSON.stringify(query.step)}`);
    const from = floorTo(query.range.fromUnixNano, stepNs);
    const to = ceilTo(query.range.toUnixNano, stepNs);
    const buckets = to > from ? Number((to - from) / stepNs) : 0;
    if (buckets > this.maxBuckets) {
      throw new RangeError(`${buckets} buckets of ${query.step} exceed the maximum of ${this.maxBuckets}`);
    }
    const starts: bigint[] = [];
    for (let index = 0; index < buckets; index++) starts.push(from + BigInt(index) * stepNs);
    const range = { fromUnixNano: from, toUnixNano: to };
    if (query.kind === 'sum') return this.sumSeries(q, query, range, starts);
    return this.gaugeSeries(q, query, range, starts);
  }

  /** Per distinct bounds: merged buckets over the range and the requested quantiles (see `percentiles.ts`). */
  async percentiles(tenant: string, query: PercentileQuery): Promise<HistogramPercentiles[]> {
    for (const quantile of query.quantiles) histogramQuantile(quantile, [], []); // validates the range
    const q = this.scope(tenant);
    const sql = this.histogramOver(q, query);
    if (sql === undefined) return [];
    const rows = await this.run<{
      ExplicitBounds: (number | string)[];
      Buckets: string[];
      Count: string;
      Sum: number | string;
    }>(q, `${sql} ORDER BY toString(ExplicitBounds)`);
    return rows.map((row) => {
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
    });
  }

  /**
   * The stored rows of one point kind as series points (attributes as stored: strings, non-string values as
   * their canonical JSON; Min/Max stored as NaN come back `undefined`). Ordered by time, then metric.
   */
  async points(
    tenant: string,
    kind: PointKind,
    range: TimeRange = {},
    metricName?: string,
  ): Promise<SeriesPoint[]> {
    const q = this.scope(tenant);
    const filter: UsageFilter = metricName === undefined ? {} : { metric: metricName };
    const conditions = [
      ...filterConditions(q, filter),
      ...rawTimeConditions(q, range.fromUnixNano, range.toUnixNano),
    ];
    const columns = METRIC_COLUMNS[METRIC_TABLES[kind]].map((column) =>
      column.type === 'DateTime64(9)'
        ? `toString(toUnixTimestamp64Nano(${column.name})) AS ${column.name}Nano`
        : column.name,
    );
    const rows = await this.run<Record<string, unknown>>(
      q,
      `SELECT ${columns.join(', ')} ${q.from({ raw: kind }, conditions)}
       ORDER BY TimeUnix, MetricName, StartTimeUnix, toString(Attributes)`,
    );
    return rows.map((row) => decodeRow(kind, row));
  }

  /** ADMIN — every tenant: per tenant, sum metric and unit, the total over the range. */
  async adminTotalsByTenant(filter: UsageFilter = {}): Promise<TenantTotal[]> {
    const q = new AdminQuery(this.database);
    const sql = this.sumOver(q, filter, [
      ['TenantId', 'TenantId'],
      ['MetricName', 'MetricName'],
      ['MetricUnit', 'MetricUnit'],
    ]);
    if (sql === undefined) return [];
    const rows = await this.connection.queryRows<{
      TenantId: string;
      MetricName: string;
      MetricUnit: string;
      Total: number;
      RowCount: string;
    }>(`${sql} ORDER BY TenantId, MetricName, MetricUnit`, q.params);
    return rows.map((row) => ({
      tenant: row.TenantId,
      metricName: row.MetricName,
      unit: row.MetricUnit,
      total: decodeFloat(row.Total),
      rows: Number(row.RowCount),
    }));
  }

  /** The only constructor of tenant reads: refuses an empty or invalid tenant before any SQL. */
  private scope(tenant: string): TenantScopedQuery {
    return new TenantScopedQuery(this.database, tenant);
  }

  /** The only way a tenant read reaches storage. */
  private run<T>(q: TenantScopedQuery, sql: string): Promise<T[]> {
    assertTenantScoped(sql);
    return this.connection.queryRows<T>(sql, q.params);
  }

  /**
   * The range's parts, one per storage (raw, hourly, daily): spans of the same storage are read by one sub-read
   * with OR-ed time conditions, so a range with two raw edges and two hourly spans costs three sub-reads, not five.
   */
  private parts(range: TimeRange | undefined): SourceSpans[] {
    const bySource = new Map<string, SourceSpans>();
    for (const part of planRange(range?.fromUnixNano, range?.toUnixNano, this.useRollups)) {
      const id = part.kind === 'raw' ? 'raw' : part.grain;
      const entry = bySource.get(id);
      if (entry === undefined) bySource.set(id, { kind: part.kind, spans: [part] });
      else entry.spans.push(part);
    }
    return [...bySource.values()];
  }

  /** Outer `SELECT <groups>, Total, RowCount` over the union of the range's parts; undefined for an empty range. */
  private sumOver(
    q: QueryBuilder,
    filter: UsageFilter,
    groups: readonly Group[],
    extra: readonly string[] = [],
  ): string | undefined {
    const parts = this.parts(filter.range);
    if (parts.length === 0) return undefined;
    const common = [...filterConditions(q, filter), ...extra];
    const selects = parts.map((part) => {
      const value =
        part.kind === 'raw'
          ? 'sum(Value) AS Total, count() AS RowCount'
          : 'sum(Value) AS Total, sum(Rows) AS RowCount';
      return `SELECT ${projection(groups, value)} ${this.partFrom(q, 'sum', part, common)}${groupBy(groups)}`;
    });
    const aliases = groups.map(([alias]) => alias);
    return `SELECT ${[...aliases, 'sum(Total) AS Total', 'sum(RowCount) AS RowCount'].join(', ')} FROM (${selects.join(' UNION ALL ')})${groupBy(groups.map(([alias]) => [alias, alias]))}`;
  }

  private gaugeOver(q: QueryBuilder, filter: UsageFilter): string | undefined {
    const parts = this.parts(filter.range);
    if (parts.length === 0) return undefined;
    const groups: Group[] = [
      ['MetricName', 'MetricName'],
      ['MetricUnit', 'MetricUnit'],
      ['Attributes', 'Attributes'],
    ];
    const common = filterConditions(q, filter);
    const selects = parts.map((part) => {
      const value =
        part.kind === 'raw'
          ? 'argMax(Value, TimeUnix) AS V, max(TimeUnix) AS T'
          : 'argMaxMerge(Latest) AS V, max(LatestTime) AS T';
      return `SELECT ${projection(groups, value)} ${this.partFrom(q, 'gauge', part, common)}${groupBy(groups)}`;
    });
    return `SELECT MetricName, MetricUnit, Attributes, argMax(V, T) AS Latest, toString(toUnixTimestamp64Nano(max(T))) AS LatestTime FROM (${selects.join(' UNION ALL ')}) GROUP BY MetricName, MetricUnit, Attributes ORDER BY MetricName, MetricUnit, toString(Attributes)`;
  }

  private histogramOver(q: QueryBuilder, filter: UsageFilter): string | undefined {
    const parts = this.parts(filter.range);
    if (parts.length === 0) return undefined;
    const groups: Group[] = [['ExplicitBounds', 'ExplicitBounds']];
    const common = filterConditions(q, filter);
    const selects = parts.map((part) => {
      const value =
        part.kind === 'raw'
          ? 'sum(Count) AS C, sum(Sum) AS S, sumForEach(BucketCounts) AS B'
          : 'sum(Count) AS C, sum(Sum) AS S, sumForEachMerge(BucketCounts) AS B';
      return `SELECT ${projection(groups, value)} ${this.partFrom(q, 'histogram', part, common)}${groupBy(groups)}`;
    });
    return `SELECT ExplicitBounds, sumForEach(B) AS Buckets, sum(C) AS Count, sum(S) AS Sum FROM (${selects.join(' UNION ALL ')}) GROUP BY ExplicitBounds`;
  }

  private partFrom(q: QueryBuilder, kind: RollupKind, part: SourceSpans, common: readonly string[]): string {
    const spans = part.spans.map((span) => {
      const conditions =
        span.kind === 'raw'
          ? rawTimeConditions(q, span.fromUnixNano, span.toUnixNano)
          : bucketConditions(q, span.fromUnixNano, span.toUnixNano);
      return conditions.length === 0 ? '1' : conditions.join(' AND ');
    });
    const time = spans.length === 1 ? spans : [spans.map((span) => `(${span})`).join(' OR ')];
    const [first] = part.spans;
    if (first === undefined || first.kind === 'raw') return q.from({ raw: kind }, [...common, ...time]);
    return q.from({ rollup: kind, grain: first.grain }, [...common, ...time]);
  }

  private async sumSeries(
    q: TenantScopedQuery,
    query: TimeSeriesQuery,
    range: { fromUnixNano: bigint; toUnixNano: bigint },
    starts: readonly bigint[],
  ): Promise<TimeSeries> {
    const groups: Group[] =
      query.groupBy === undefined ? [] : [['GroupValue', `Attributes[${q.bind('String', query.groupBy)}]`]];
    const values = `${this.bucketColumn(query.step)} AS Bucket, toString(toUnixTimestamp(Bucket)) AS BucketSeconds, sum(Value) AS Total`;
    const keys = [...groups.map(([alias]) => alias), 'Bucket'].join(', ');
    const rows = await this.run<{ GroupValue?: string; BucketSeconds: string; Total: number }>(
      q,
      `SELECT ${projection(groups, values)} ${this.seriesFrom(q, 'sum', query, range)} GROUP BY ${keys}`,
    );
    const lines = new Map<string, Map<bigint, number>>();
    for (const row of rows) {
      const key = row.GroupValue ?? '';
      let line = lines.get(key);
      if (line === undefined) {
        line = new Map();
        lines.set(key, line);
      }
      line.set(BigInt(row.BucketSeconds) * NANOS_PER_SECOND, decodeFloat(row.Total));
    }
    if (query.groupBy === undefined && lines.size === 0) lines.set('', new Map());
    const groupKey = query.groupBy;
    return {
      step: query.step,
      ...range,
      lines: [...lines.keys()].sort().map((key) => ({
        key: groupKey === undefined ? {} : { [groupKey]: key },
        points: starts.map((start) => ({ startUnixNano: start, value: lines.get(key)?.get(start) ?? 0 })),
      })),
    };
  }

  private async gaugeSeries(
    q: TenantScopedQuery,
    query: TimeSeriesQuery,
    range: { fromUnixNano: bigint; toUnixNano: bigint },
    starts: readonly bigint[],
  ): Promise<TimeSeries> {
    const value = this.usesRollup(query.step)
      ? 'argMaxMerge(Latest) AS LastValue'
      : 'argMax(Value, TimeUnix) AS LastValue';
    const sql = `SELECT Attributes, ${this.bucketColumn(query.step)} AS Bucket, toString(toUnixTimestamp(Bucket)) AS BucketSeconds, ${value} ${this.seriesFrom(q, 'gauge', query, range)} GROUP BY Attributes, Bucket`;
    const rows = await this.run<{
      Attributes: Record<string, string>;
      BucketSeconds: string;
      LastValue: number | string;
    }>(q, sql);
    // Carry-in: each series' last value at or before the range start (a separate, equally scoped read).
    const before = await this.gaugeLatest(q.tenant, {
      ...query,
      range: { toUnixNano: range.fromUnixNano },
    });
    const lines = new Map<
      string,
      { key: Record<string, string>; values: Map<bigint, number>; carry?: number }
    >();
    const lineOf = (attributes: Record<string, string>) => {
      const id = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      let line = lines.get(id);
      if (line === undefined) {
        line = { key: attributes, values: new Map() };
        lines.set(id, line);
      }
      return line;
    };
    for (const latest of before) {
      if (latest.metricName === query.metric) lineOf({ ...latest.attributes }).carry = latest.value;
    }
    for (const row of rows) {
      lineOf(row.Attributes).values.set(
        BigInt(row.BucketSeconds) * NANOS_PER_SECOND,
        decodeFloat(row.LastValue),
      );
    }
    return {
      step: query.step,
      ...range,
      lines: [...lines.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, line]) => {
          let last = line.carry;
          return {
            key: line.key,
            points: starts.map((start) => {
              const value = line.values.get(start);
              if (value !== undefined) last = value;
              return { startUnixNano: start, value: last };
            }),
          };
        }),
    };
  }

  private usesRollup(step: Step): step is '1h' | '1d' {
    return this.useRollups && step !== '1m';
  }

  private bucketColumn(step: Step): string {
    return this.usesRollup(step) ? 'BucketStart' : bucketExpression(step);
  }

  /** A time series reads one storage: the rollup of its step (whole buckets), or raw rows at `1m`. */
  private seriesFrom(
    q: TenantScopedQuery,
    kind: 'sum' | 'gauge',
    query: TimeSeriesQuery,
    range: { fromUnixNano: bigint; toUnixNano: bigint },
  ): string {
    const common = filterConditions(q, query);
    if (this.usesRollup(query.step)) {
      return q.from({ rollup: kind, grain: query.step }, [
        ...common,
        ...bucketConditions(q, range.fromUnixNano, range.toUnixNano),
      ]);
    }
    return q.from({ raw: kind }, [...common, ...rawTimeConditions(q, range.fromUnixNano, range.toUnixNano)]);
  }
}

/** Kept for existing callers: the reader `ClickHouseMetricExporter.reader()` returns. */
export const TenantUsageReader = UsageReader;
export type TenantUsageReader = UsageReader;

function projection(groups: readonly Group[], values: string): string {
  return [
    ...groups.map(([alias, expression]) => (alias === expression ? alias : `${expression} AS ${alias}`)),
    values,
  ].join(', ');
}

function groupBy(groups: readonly Group[]): string {
  return groups.length === 0 ? '' : ` GROUP BY ${groups.map(([alias]) => alias).join(', ')}`;
}

function filterConditions(q: QueryBuilder, filter: UsageFilter): string[] {
  const conditions: string[] = [];
  if (filter.metric !== undefined) conditions.push(`MetricName = ${q.bind('String', filter.metric)}`);
  if (filter.service !== undefined) conditions.push(`ServiceName = ${q.bind('String', filter.service)}`);
  for (const [key, value] of Object.entries(filter.attributes ?? {})) {
    const column = `Attributes[${q.bind('String', key)}]`;
    conditions.push(
      typeof value === 'string'
        ? `${column} = ${q.bind('String', value)}`
        : `${column} IN ${q.bind('Array(String)', [...value])}`,
    );
  }
  return conditions;
}

function rawTimeConditions(q: QueryBuilder, from: bigint | undefined, to: bigint | undefined): string[] {
  const conditions: string[] = [];
  if (from !== undefined)
    conditions.push(`TimeUnix > fromUnixTimestamp64Nano(${q.bind('Int64', from.toString())})`);
  if (to !== undefined)
    conditions.push(`TimeUnix <= fromUnixTimestamp64Nano(${q.bind('Int64', to.toString())})`);
  return conditions;
}

/** Rollup buckets with `from <= BucketStart < to` (bounds are whole seconds). */
function bucketConditions(q: QueryBuilder, from: bigint | undefined, to: bigint | undefined): string[] {
  const conditions: string[] = [];
  if (from !== undefined) {
    conditions.push(
      `BucketStart >= toDateTime(${q.bind('Int64', (from / NANOS_PER_SECOND).toString())}, 'UTC')`,
    );
  }
  if (to !== undefined) {
    conditions.push(
      `BucketStart < toDateTime(${q.bind('Int64', (to / NANOS_PER_SECOND).toString())}, 'UTC')`,
    );
  }
  return conditions;
}
