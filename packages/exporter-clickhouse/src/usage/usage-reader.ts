/**
 * Tenant-first usage queries: totals, time series, top-N, gauge latest values, histogram percentiles — plus the
 * stored points. Every read is built by a `TenantScopedQuery` (tenant validated before any SQL, the tenant
 * predicate on every table, values bound as parameters) and sent through `run`, which re-checks the SQL text.
 * Cross-tenant reads are the `admin*` methods only.
 *
 * Ranges are `(from, to]` on `TimeUnix` (sum rows are deltas over `(StartTimeUnix, TimeUnix]`). Long ranges read
 * whole hours/days from the rollups and the open edges from raw rows (see `range-plan.ts`), with the same result
 * as a raw scan.
 *
 * Every tenant aggregate read is bounded (`read-limits.ts`): answer size checked before the big statement, engine
 * time, rows, bytes and memory per statement, and answers assembled in slices that hand the event loop back.
 * `points` (the stored rows, for export and tests) and the `admin*` reads are not bounded.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PointKind, SeriesPoint } from '@tallyhouse/model';
import type { StorageConnection } from '../connection.ts';
import { bucketExpression, NANOS_PER_SECOND, STEP_SECONDS, type Step } from '../schema/buckets.ts';
import type { RollupKind } from '../schema/rollups.ts';
import { METRIC_COLUMNS, METRIC_TABLES } from '../schema/tables.ts';
import { decodeFloat, decodeRow, type GaugeLatest, type SumTotal, type TimeRange } from '../tenant-reads.ts';
import { histogramQuantile, type PercentileMethod } from './percentiles.ts';
import { ceilTo, floorTo, planRange, type RangePart } from './range-plan.ts';
import {
  DEFAULT_READ_LIMITS,
  limitSettings,
  mapEngineLimit,
  ReadLimitError,
  type ReadLimits,
  resolveReadLimits,
  Slicer,
  showLimit,
  timeoutError,
} from './read-limits.ts';
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
  /** Bounds of every tenant aggregate read (default `DEFAULT_READ_LIMITS`); each call may pass its own. */
  readonly limits?: Partial<ReadLimits>;
}

/**
 * What the reader needs of a connection (tests wrap it to capture SQL). With the `client` (a `StorageConnection`
 * has it) a bounded read can withdraw a statement still waiting for the engine once the read's time is up.
 */
export type QueryConnection = Pick<StorageConnection, 'queryRows'> & {
  readonly client?: Pick<ClickHouseClient, 'query'>;
};

/** One bounded read: its limits, the moment its time is up (`performance.now()` ms), its slicer. */
interface ReadContext {
  readonly limits: ReadLimits;
  readonly deadline: number;
  readonly slicer: Slicer;
}

/** Loops over points look at the clock once per this many + 1 (a power of two, less one). */
const SLICE_CHECK = 1_023;

/** The statement's JS-side abort comes this long after its engine time limit, which should fire first. */
const ABORT_GRACE_MS = 1_000;

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
  private readonly limits: ReadLimits;

  constructor(connection: QueryConnection, database: string, options: UsageReaderOptions = {}) {
    this.connection = connection;
    this.database = database;
    this.useRollups = options.useRollups ?? true;
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.limits = resolveReadLimits(DEFAULT_READ_LIMITS, options.limits);
  }

  /** The tenant's total of one sum metric over the range. */
  async total(tenant: string, query: MetricQuery, limits?: Partial<ReadLimits>): Promise<UsageTotal> {
    const q = this.scope(tenant);
    const read = this.begin(limits);
    const sql = this.sumOver(q, query, []);
    if (sql === undefined) return { total: 0, rows: 0 };
    const [row] = await this.run<{ Total: number | string; RowCount: string }>(q, sql, read);
    return { total: decodeFloat(row?.Total ?? 0), rows: Number(row?.RowCount ?? 0) };
  }

  /** Per sum metric (and unit): the tenant's total over the range. */
  async sumTotals(
    tenant: string,
    range: TimeRange = {},
    metricName?: string,
    limits?: Partial<ReadLimits>,
  ): Promise<SumTotal[]> {
    const q = this.scope(tenant);
    const read = this.begin(limits);
    const filter: UsageFilter = metricName === undefined ? { range } : { range, metric: metricName };
    const sql = this.sumOver(q, filter, [
      ['MetricName', 'MetricName'],
      ['MetricUnit', 'MetricUnit'],
    ]);
    if (sql === undefined) return [];
    const rows = await this.run<{ MetricName: string; MetricUnit: string; Total: number; RowCount: string }>(
      q,
      `${sql} ORDER BY MetricName, MetricUnit`,
      read,
    );
    return rows.map((row) => ({
      metricName: row.MetricName,
      unit: row.MetricUnit,
      total: decodeFloat(row.Total),
      rows: Number(row.RowCount),
    }));
  }

  /** The `limit` values of attribute `by` with the largest totals (ties by value, ascending). */
  async topN(tenant: string, query: TopNQuery, limits?: Partial<ReadLimits>): Promise<TopEntry[]> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MAX_TOP_N) {
      throw new RangeError(`limit must be an integer in [1, ${MAX_TOP_N}], got ${query.limit}`);
    }
    const q = this.scope(tenant);
    const read = this.begin(limits);
    if (query.limit > read.limits.maxRows) {
      throw new ReadLimitError(
        'maxRows',
        read.limits.maxRows,
        `a top-${query.limit} answer would hold more than ${showLimit(read.limits, 'maxRows')} rows; ask for fewer`,
      );
    }
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
      read,
    );
    return rows.map((row) => ({
      value: row.Label,
      total: decodeFloat(row.Total),
      rows: Number(row.RowCount),
    }));
  }

  /** Per gauge series (metric, unit, attributes): the value with the newest `TimeUnix` in the range. */
  async gaugeLatest(
    tenant: string,
    filter: UsageFilter = {},
    limits?: Partial<ReadLimits>,
  ): Promise<GaugeLatest[]> {
    const q = this.scope(tenant);
    return this.latestGauges(q, filter, this.begin(limits));
  }

  /**
   * Buckets of `step` over the range (widened to whole steps). Sums: totals, zero-filled. Gauges: per series,
   * the last value in each bucket, carried forward through empty buckets (starting from the last value before
   * the range).
   *
   * Bounded: lines × buckets of the answer (zero-filled) at most `maxPoints`, lines at most `maxRows`. The buckets
   * are known from range and step; the lines are counted by a `SELECT DISTINCT … LIMIT` that stops one past the
   * most that fit, before the statement that computes the buckets runs — so a query over too many values is
   * refused in the time of that count, holding at most that many values. The engine answers one row per line
   * (its non-empty buckets as two arrays); zero-filling happens here, line by line, in slices.
   */
  async timeSeries(
    tenant: string,
    query: TimeSeriesQuery,
    limits?: Partial<ReadLimits>,
  ): Promise<TimeSeries> {
    const q = this.scope(tenant);
    const read = this.begin(limits);
    const stepNs = STEP_SECONDS[query.step] * NANOS_PER_SECOND;
    if (stepNs === undefined) throw new RangeError(`unknown step ${JSON.stringify(query.step)}`);
    const from = floorTo(query.range.fromUnixNano, stepNs);
    const to = ceilTo(query.range.toUnixNano, stepNs);
    const buckets = to > from ? Number((to - from) / stepNs) : 0;
    if (buckets > this.maxBuckets) {
      throw new RangeError(`${buckets} buckets of ${query.step} exceed the maximum of ${this.maxBuckets}`);
    }
    const shape: SeriesShape = {
      step: query.step,
      buckets,
      rangeNs: to - from,
      maxLines: Math.min(read.limits.maxRows, Math.floor(read.limits.maxPoints / Math.max(1, buckets))),
      what: query.kind === 'gauge' ? 'series' : `values of ${JSON.stringify(query.groupBy)}`,
    };
    if (shape.maxLines < 1) {
      throw new ReadLimitError(
        'maxPoints',
        read.limits.maxPoints,
        `${buckets} buckets of ${query.step} are more than ${showLimit(read.limits, 'maxPoints')} points; ` +
          `use a larger step${largerSteps(shape)} or a shorter range`,
      );
    }
    const starts: bigint[] = [];
    for (let index = 0; index < buckets; index++) starts.push(from + BigInt(index) * stepNs);
    const range = { fromUnixNano: from, toUnixNano: to };
    if (query.kind === 'sum') return this.sumSeries(q, query, range, starts, shape, read);
    return this.gaugeSeries(q, query, range, starts, shape, read);
  }

  /** Per distinct bounds: merged buckets over the range and the requested quantiles (see `percentiles.ts`). */
  async percentiles(
    tenant: string,
    query: PercentileQuery,
    limits?: Partial<ReadLimits>,
  ): Promise<HistogramPercentiles[]> {
    for (const quantile of query.quantiles) histogramQuantile(quantile, [], []); // validates the range
    const q = this.scope(tenant);
    const read = this.begin(limits);
    const sql = this.histogramOver(q, query);
    if (sql === undefined) return [];
    const rows = await this.run<{
      ExplicitBounds: (number | string)[];
      Buckets: string[];
      Count: string;
      Sum: number | string;
    }>(q, `${sql} ORDER BY toString(ExplicitBounds)`, read);
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
   * their canonical JSON; Min/Max stored as NaN come back `undefined`). Ordered by time, then metric. Not bounded:
   * for export and tests, never behind a request.
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

  /** A bounded read starts now: its limits (the reader's, overridden by the call's) and its deadline. */
  private begin(limits: Partial<ReadLimits> | undefined): ReadContext {
    const resolved = resolveReadLimits(this.limits, limits);
    return { limits: resolved, deadline: performance.now() + resolved.timeoutMs, slicer: new Slicer() };
  }

  /**
   * The only way a tenant read reaches storage. A bounded read (`read` given) carries its limits as the
   * statement's own SETTINGS, with what is left of the read's time as `max_execution_time`; with the client at
   * hand the statement is also withdrawn once that time (plus a grace) is up — chDB runs parameterized statements
   * one at a time, and one still queued then never starts. Engine refusals become `ReadLimitError` /
   * `ReadTimeoutError`.
   */
  private async run<T>(q: TenantScopedQuery, sql: string, read?: ReadContext): Promise<T[]> {
    assertTenantScoped(sql);
    if (read === undefined) return this.connection.queryRows<T>(sql, q.params);
    const remaining = read.deadline - performance.now();
    if (remaining <= 0) throw timeoutError(read.limits);
    const bounded = `${sql} SETTINGS ${limitSettings(read.limits, remaining)}`;
    assertTenantScoped(bounded);
    const client = this.connection.client;
    const signal =
      client === undefined ? undefined : AbortSignal.timeout(Math.ceil(remaining) + ABORT_GRACE_MS);
    try {
      if (client === undefined || signal === undefined) {
        return await this.connection.queryRows<T>(bounded, q.params);
      }
      const result = await client.query({
        query: bounded,
        format: 'JSONEachRow',
        query_params: q.params,
        // The same output settings as `queryRows` (chDB applies them session-wide; every read states them).
        clickhouse_settings: {
          output_format_json_quote_64bit_integers: 1,
          output_format_json_quote_denormals: 1,
        },
        abort_signal: signal,
      });
      // Row by row, handing the event loop back between slices (a bounded answer is still up to maxBytes).
      const rows: T[] = [];
      for await (const batch of result.stream()) {
        for (const row of batch) {
          rows.push(row.json<T>());
          await read.slicer.tick();
        }
      }
      return rows;
    } catch (error) {
      if (signal?.aborted === true) throw timeoutError(read.limits, error);
      throw mapEngineLimit(error, read.limits) ?? error;
    }
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

  private async latestGauges(
    q: TenantScopedQuery,
    filter: UsageFilter,
    read: ReadContext,
  ): Promise<GaugeLatest[]> {
    const sql = this.gaugeOver(q, filter);
    if (sql === undefined) return [];
    const rows = await this.run<{
      MetricName: string;
      MetricUnit: string;
      Attributes: Record<string, string>;
      Latest: number | string;
      LatestTime: string;
    }>(q, sql, read);
    return rows.map((row) => ({
      metricName: row.MetricName,
      unit: row.MetricUnit,
      attributes: row.Attributes,
      value: decodeFloat(row.Latest),
      timeUnixNano: BigInt(row.LatestTime),
    }));
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
    shape: SeriesShape,
    read: ReadContext,
  ): Promise<TimeSeries> {
    const groupKey = query.groupBy;
    const groups: Group[] =
      groupKey === undefined ? [] : [['GroupValue', `Attributes[${q.bind('String', groupKey)}]`]];
    const tooMany = this.linesCap(q, shape);
    if (groupKey !== undefined) {
      // How many lines, counting no further than one too many — over the range's parts: whole hours and days from
      // the rollups (a row per hour and series, not per point), only the edges from raw rows. Same lines, as every
      // raw row is in exactly one part.
      const [expression] = groups.map(([, e]) => e);
      const common = filterConditions(q, query);
      const selects = this.parts(range).map(
        (part) => `SELECT ${expression} AS GroupValue ${this.partFrom(q, 'sum', part, common)}`,
      );
      if (selects.length > 0) {
        const [counted] = await this.run<{ Lines: string }>(
          q,
          `SELECT count() AS Lines FROM (SELECT DISTINCT GroupValue FROM (${selects.join(' UNION ALL ')}) LIMIT ${tooMany})`,
          read,
        );
        this.checkLines(Number(counted?.Lines ?? 0), shape, read);
      }
    }
    const values = `${this.bucketColumn(query.step)} AS Bucket, sum(Value) AS Total`;
    const keys = [...groups.map(([alias]) => alias), 'Bucket'].join(', ');
    const inner = `SELECT ${projection(groups, values)} ${this.seriesFrom(q, 'sum', query, range)} GROUP BY ${keys}`;
    // One row per line; without group_by an aggregate without GROUP BY: always one row (empty arrays for no data).
    const rows = await this.run<{ GroupValue?: string; Indexes: number[]; Totals: (number | string)[] }>(
      q,
      `SELECT ${groupKey === undefined ? '' : 'GroupValue, '}groupArray(${this.bucketIndex(q, query.step, range)}) AS Indexes, groupArray(Total) AS Totals FROM (${inner})${groupKey === undefined ? '' : ' GROUP BY GroupValue'} LIMIT ${tooMany}`,
      read,
    );
    // The lines were counted before; rows written since may add some — still bounded by the LIMIT.
    this.checkLines(rows.length, shape, read);
    const lines = new Map<string, number[]>();
    for (const row of rows) {
      const filled = new Array<number>(starts.length).fill(0);
      placeBuckets(row.Indexes, row.Totals, starts.length, (index, value) => {
        filled[index] = decodeFloat(value);
      });
      lines.set(row.GroupValue ?? '', filled);
      await read.slicer.tick();
    }
    const out: TimeSeriesLine[] = [];
    for (const key of [...lines.keys()].sort()) {
      const filled = lines.get(key) ?? [];
      const points: TimeSeriesPoint[] = new Array(starts.length);
      for (let index = 0; index < starts.length; index++) {
        points[index] = { startUnixNano: starts[index] as bigint, value: filled[index] ?? 0 };
        if ((index & SLICE_CHECK) === SLICE_CHECK && read.slicer.due()) await read.slicer.pause();
      }
      out.push({ key: groupKey === undefined ? {} : { [groupKey]: key }, points });
      await read.slicer.tick();
    }
    return { step: query.step, ...range, lines: out };
  }

  private async gaugeSeries(
    q: TenantScopedQuery,
    query: TimeSeriesQuery,
    range: { fromUnixNano: bigint; toUnixNano: bigint },
    starts: readonly bigint[],
    shape: SeriesShape,
    read: ReadContext,
  ): Promise<TimeSeries> {
    const tooMany = this.linesCap(q, shape);
    // A line per series with a value at or before the range's end (carried in, or in the range): counted over
    // (−∞, to] no further than one too many, before the bucket read.
    const history = this.parts({ toUnixNano: range.toUnixNano });
    if (history.length > 0) {
      const common = filterConditions(q, query);
      const selects = history.map((part) => `SELECT Attributes ${this.partFrom(q, 'gauge', part, common)}`);
      const [counted] = await this.run<{ Lines: string }>(
        q,
        `SELECT count() AS Lines FROM (SELECT DISTINCT Attributes FROM (${selects.join(' UNION ALL ')}) LIMIT ${tooMany})`,
        read,
      );
      this.checkLines(Number(counted?.Lines ?? 0), shape, read);
    }
    const value = this.usesRollup(query.step)
      ? 'argMaxMerge(Latest) AS LastValue'
      : 'argMax(Value, TimeUnix) AS LastValue';
    const inner = `SELECT Attributes, ${this.bucketColumn(query.step)} AS Bucket, ${value} ${this.seriesFrom(q, 'gauge', query, range)} GROUP BY Attributes, Bucket`;
    const rows = await this.run<{
      Attributes: Record<string, string>;
      Indexes: number[];
      LastValues: (number | string)[];
    }>(
      q,
      `SELECT Attributes, groupArray(${this.bucketIndex(q, query.step, range)}) AS Indexes, groupArray(LastValue) AS LastValues FROM (${inner}) GROUP BY Attributes LIMIT ${tooMany}`,
      read,
    );
    // Carry-in: each series' last value at or before the range start (a separate, equally scoped read).
    const before = await this.latestGauges(q, { ...query, range: { toUnixNano: range.fromUnixNano } }, read);
    const lines = new Map<
      string,
      { key: Record<string, string>; values: (number | undefined)[]; carry?: number }
    >();
    const lineOf = (attributes: Record<string, string>) => {
      const id = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      let line = lines.get(id);
      if (line === undefined) {
        line = { key: attributes, values: new Array<number | undefined>(starts.length) };
        lines.set(id, line);
      }
      return line;
    };
    for (const latest of before) {
      if (latest.metricName === query.metric) lineOf({ ...latest.attributes }).carry = latest.value;
    }
    for (const row of rows) {
      const line = lineOf(row.Attributes);
      placeBuckets(row.Indexes, row.LastValues, starts.length, (index, last) => {
        line.values[index] = decodeFloat(last);
      });
      await read.slicer.tick();
    }
    // Series written since the count may add lines; the answer stays within the limit or is refused.
    this.checkLines(lines.size, shape, read);
    const out: TimeSeriesLine[] = [];
    for (const [, line] of [...lines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      let last = line.carry;
      const points: TimeSeriesPoint[] = new Array(starts.length);
      for (let index = 0; index < starts.length; index++) {
        const value = line.values[index];
        if (value !== undefined) last = value;
        points[index] = { startUnixNano: starts[index] as bigint, value: last };
        if ((index & SLICE_CHECK) === SLICE_CHECK && read.slicer.due()) await read.slicer.pause();
      }
      out.push({ key: line.key, points });
      await read.slicer.tick();
    }
    return { step: query.step, ...range, lines: out };
  }

  /**
   * A row's bucket as its index among the answer's buckets (a UInt32, which JSON writes unquoted): the engine's
   * answer is a few digits per point rather than a timestamp.
   */
  private bucketIndex(
    q: TenantScopedQuery,
    step: Step,
    range: { fromUnixNano: bigint; toUnixNano: bigint },
  ): string {
    const from = q.bind('Int64', (range.fromUnixNano / NANOS_PER_SECOND).toString());
    const seconds = q.bind('Int64', STEP_SECONDS[step].toString());
    return `toUInt32(intDiv(toInt64(toUnixTimestamp(Bucket)) - ${from}, ${seconds}))`;
  }

  /** The bound placeholder of "one line too many": the LIMIT of the line count and of the bucket read. */
  private linesCap(q: TenantScopedQuery, shape: SeriesShape): string {
    return q.bind('Int64', String(shape.maxLines + 1));
  }

  /** Refuses `lines` lines of `shape` when they do not fit, naming the limit that binds and how to narrow. */
  private checkLines(lines: number, shape: SeriesShape, read: ReadContext): void {
    if (lines <= shape.maxLines) return;
    const { limits } = read;
    const byPoints = Math.floor(limits.maxPoints / Math.max(1, shape.buckets)) <= limits.maxRows;
    const counted = lines > shape.maxLines + 1 ? String(lines) : `more than ${shape.maxLines}`;
    const narrow =
      shape.what === 'series'
        ? 'filter on attributes or service to fewer series'
        : 'filter on attributes or service, or group by an attribute with fewer values';
    if (byPoints) {
      throw new ReadLimitError(
        'maxPoints',
        limits.maxPoints,
        `${counted} lines (${shape.what}) × ${shape.buckets} buckets of ${shape.step} are more than ` +
          `${showLimit(limits, 'maxPoints')} points (at ${shape.buckets} buckets at most ${shape.maxLines} lines fit); ` +
          `narrow the query: a larger step${largerSteps(shape)}, a shorter range, or ${narrow}`,
      );
    }
    throw new ReadLimitError(
      'maxRows',
      limits.maxRows,
      `${counted} lines (${shape.what}) are more than ${showLimit(limits, 'maxRows')} rows; narrow the query: ${narrow}`,
    );
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

/** What a time series answer will look like, for its limits and messages. */
interface SeriesShape {
  readonly step: Step;
  readonly buckets: number;
  readonly rangeNs: bigint;
  /** The most lines that fit both `maxPoints` (at these buckets) and `maxRows`. */
  readonly maxLines: number;
  /** What a line is: `series`, or `values of "route"`. */
  readonly what: string;
}

/** ` (1h: 168 buckets, 1d: 7 buckets)` — the larger steps and what they would give, for a refusal's hint. */
function largerSteps(shape: SeriesShape): string {
  const steps = (Object.keys(STEP_SECONDS) as Step[]).filter(
    (step) => STEP_SECONDS[step] > STEP_SECONDS[shape.step],
  );
  if (steps.length === 0) return '';
  const counts = steps.map((step) => {
    const stepNs = STEP_SECONDS[step] * NANOS_PER_SECOND;
    // The range widened to whole steps can add one bucket at each end.
    return `${step}: about ${(shape.rangeNs + stepNs - 1n) / stepNs} buckets`;
  });
  return ` (${counts.join(', ')})`;
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
