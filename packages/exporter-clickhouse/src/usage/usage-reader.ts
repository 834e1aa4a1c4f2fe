/**
 * Tenant-first usage queries: totals, time series, top-N, gauge latest values, histogram percentiles — plus the
 * stored points. Every read is built by a `TenantScopedQuery` (tenant validated before any SQL, the tenant
 * predicate on every table, values bound as parameters; statements from `statements.ts`) and sent through
 * `runScoped`, which re-checks the SQL text; `result-shaping.ts` turns the rows into answers. Cross-tenant
 * reads are the `admin*` methods only.
 *
 * Ranges are `(from, to]` on `TimeUnix` (sum rows are deltas over `(StartTimeUnix, TimeUnix]`). Long ranges read
 * whole hours/days from the rollups and the open edges from raw rows (see `range-plan.ts`), with the same result
 * as a raw scan.
 *
 * Summaries are stored as sent and never aggregated: only `points` returns them. The aggregate reads name the sum,
 * gauge and histogram tables only, so one naming a summary metric finds no rows, as for an unknown metric.
 *
 * Every tenant aggregate read is bounded (`read-limits.ts`): answer size checked before the big statement, engine
 * time, rows, bytes and memory per statement, and answers assembled in slices that hand the event loop back.
 * `points` (the stored rows, for export and tests) and the `admin*` reads are not bounded.
 */
import type { PointKind, SeriesPoint } from '@tallyhouse/model';
import {
  beginRead,
  type QueryConnection,
  type ReadContext,
  runBounded,
  runScoped,
  streamBounded,
} from './bounded-read.ts';
import { checkCombine, combineLatest, combineLines } from './gauge-combine.ts';
import { histogramQuantile } from './percentiles.ts';
import type {
  AttributeKey,
  CombinedGaugeLatest,
  GaugeCombine,
  GaugeLatest,
  GaugeLatestQuery,
  HistogramPercentiles,
  MetricQuery,
  PercentileQuery,
  PeriodTotal,
  PeriodTotalsQuery,
  StoredMetric,
  SumTotal,
  TenantEntry,
  TenantTotal,
  TimeRange,
  TimeSeries,
  TimeSeriesQuery,
  TopEntry,
  TopNQuery,
  TopTenantsQuery,
  UsageFilter,
  UsageTotal,
} from './query-types.ts';
import {
  DEFAULT_READ_LIMITS,
  ReadLimitError,
  type ReadLimits,
  resolveReadLimits,
  showLimit,
} from './read-limits.ts';
import {
  carriedForwardLines,
  type GaugeLatestRow,
  type GaugeSeriesRow,
  gaugeLatest,
  gaugeLines,
  type HistogramRow,
  histogramPercentiles,
  type LineCountRow,
  type SumSeriesRow,
  type SumTotalRow,
  sumTotal,
  type TenantTotalRow,
  type TopRow,
  type TotalRow,
  tenantTotal,
  topEntry,
  usageTotal,
  zeroFilledLines,
} from './result-shaping.ts';
import { decodeRow } from './row-decoding.ts';
import { checkLines, planSeries, type SeriesPlan } from './series-plan.ts';
import { type SeriesStatements, UsageStatements } from './statements.ts';
import { AdminQuery, type QueryBuilder, TenantScopedQuery } from './tenant-scope.ts';

/** Sends one statement of a read (tenant-scoped or admin) and collects its rows. */
type Run = <T>(sql: string) => Promise<T[]>;

interface MetricRow {
  readonly MetricName: string;
  readonly MetricUnit: string;
  readonly Kind: StoredMetric['kind'];
}

interface PeriodTotalRow extends TenantTotalRow {
  readonly [group: `G${number}`]: string;
}

export interface UsageReaderOptions {
  /** Read closed hours/days from the rollups (default true). False: raw rows only. */
  readonly useRollups?: boolean;
  /** Bounds of every tenant aggregate read (default `DEFAULT_READ_LIMITS`); each call may pass its own. */
  readonly limits?: Partial<ReadLimits>;
}

const MAX_TOP_N = 10_000;

export class UsageReader {
  private readonly connection: QueryConnection;
  private readonly database: string;
  private readonly statements: UsageStatements;
  private readonly limits: ReadLimits;

  constructor(connection: QueryConnection, database: string, options: UsageReaderOptions = {}) {
    this.connection = connection;
    this.database = database;
    this.statements = new UsageStatements(options.useRollups ?? true);
    this.limits = resolveReadLimits(DEFAULT_READ_LIMITS, options.limits);
  }

  /** The tenant's total of one sum metric over the range. */
  async total(tenant: string, query: MetricQuery, limits?: Partial<ReadLimits>): Promise<UsageTotal> {
    const q = this.scope(tenant);
    const read = beginRead(this.limits, limits);
    const sql = this.statements.total(q, query);
    if (sql === undefined) return { total: 0, rows: 0 };
    const [row] = await runScoped<TotalRow>(this.connection, q, sql, read);
    return usageTotal(row);
  }

  /** Per sum metric (and unit): the tenant's total over the range. */
  async sumTotals(
    tenant: string,
    range: TimeRange = {},
    metricName?: string,
    limits?: Partial<ReadLimits>,
  ): Promise<SumTotal[]> {
    const q = this.scope(tenant);
    const read = beginRead(this.limits, limits);
    const filter: UsageFilter = metricName === undefined ? { range } : { range, metric: metricName };
    const sql = this.statements.sumTotals(q, filter);
    if (sql === undefined) return [];
    return (await runScoped<SumTotalRow>(this.connection, q, sql, read)).map(sumTotal);
  }

  /** The `limit` values of attribute `by` with the largest totals (ties by value, ascending). */
  async topN(tenant: string, query: TopNQuery, limits?: Partial<ReadLimits>): Promise<TopEntry[]> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MAX_TOP_N) {
      throw new RangeError(`limit must be an integer in [1, ${MAX_TOP_N}], got ${query.limit}`);
    }
    const q = this.scope(tenant);
    const read = beginRead(this.limits, limits);
    if (query.limit > read.limits.maxRows) {
      throw new ReadLimitError(
        'maxRows',
        read.limits.maxRows,
        `a top-${query.limit} answer would hold more than ${showLimit(read.limits, 'maxRows')} rows; ask for fewer`,
      );
    }
    const sql = this.statements.topN(q, query);
    if (sql === undefined) return [];
    return (await runScoped<TopRow>(this.connection, q, sql, read)).map(topEntry);
  }

  /**
   * Per gauge source series (metric, unit, resource attributes, scope, attributes): the value with the newest
   * `TimeUnix` in the range, naming its source. With `combine`: per (metric, unit, attributes), the sources'
   * latest values combined (`gauge-combine.ts`). Bounded by `maxRows` source series either way.
   */
  gaugeLatest(
    tenant: string,
    query: GaugeLatestQuery & { readonly combine: GaugeCombine },
    limits?: Partial<ReadLimits>,
  ): Promise<CombinedGaugeLatest[]>;
  gaugeLatest(
    tenant: string,
    query?: UsageFilter & { readonly combine?: undefined },
    limits?: Partial<ReadLimits>,
  ): Promise<GaugeLatest[]>;
  gaugeLatest(
    tenant: string,
    query?: GaugeLatestQuery,
    limits?: Partial<ReadLimits>,
  ): Promise<GaugeLatest[] | CombinedGaugeLatest[]>;
  async gaugeLatest(
    tenant: string,
    query: GaugeLatestQuery = {},
    limits?: Partial<ReadLimits>,
  ): Promise<GaugeLatest[] | CombinedGaugeLatest[]> {
    const combine = checkCombine(query.combine);
    const q = this.scope(tenant);
    const latest = await this.latestGauges(q, query, beginRead(this.limits, limits));
    return combine === undefined ? latest : combineLatest(latest, combine);
  }

  /**
   * Buckets of `step` over the range (widened to whole steps). Sums: totals, zero-filled. Gauges: per source
   * series, the last value in each bucket, carried forward through empty buckets (starting from the last value
   * before the range); with `combine`, one line per (unit, attributes), the sources' carried values combined in
   * each bucket.
   *
   * Bounded: lines × buckets of the answer (zero-filled) at most `maxPoints`, lines at most `maxRows`. The buckets
   * are known from range and step; the lines are counted by a `SELECT DISTINCT … LIMIT` that stops one past the
   * most that fit, before the statement that computes the buckets runs — so a query over too many values is
   * refused in the time of that count, holding at most that many values. The engine answers one row per line
   * (its non-empty buckets as two arrays); zero-filling happens here, line by line, in slices. Gauge lines are
   * counted per source series, combined or not: the sources are what is read and carried forward.
   */
  async timeSeries(
    tenant: string,
    query: TimeSeriesQuery,
    limits?: Partial<ReadLimits>,
  ): Promise<TimeSeries> {
    if (query.kind !== 'sum' && query.kind !== 'gauge') {
      // A plain JavaScript caller may name any kind: none other has buckets to read (summaries: `points`).
      throw new RangeError(`kind must be 'sum' or 'gauge', got ${JSON.stringify(query.kind)}`);
    }
    if (checkCombine(query.combine) !== undefined && query.kind !== 'gauge') {
      throw new RangeError('combine is for gauge time series only (sums already add up across sources)');
    }
    const q = this.scope(tenant);
    const read = beginRead(this.limits, limits);
    const plan = planSeries(query, read.limits);
    const lines =
      query.kind === 'sum'
        ? await this.sumLines(q, (sql) => runScoped(this.connection, q, sql, read), query, plan, read)
        : await this.gaugeLines(q, query, plan, read);
    return { step: query.step, ...plan.range, lines };
  }

  /** Per distinct bounds: merged buckets over the range and the requested quantiles (see `percentiles.ts`). */
  async percentiles(
    tenant: string,
    query: PercentileQuery,
    limits?: Partial<ReadLimits>,
  ): Promise<HistogramPercentiles[]> {
    for (const quantile of query.quantiles) histogramQuantile(quantile, [], []); // validates the range
    const q = this.scope(tenant);
    const read = beginRead(this.limits, limits);
    const sql = this.statements.histograms(q, query);
    if (sql === undefined) return [];
    const rows = await runScoped<HistogramRow>(this.connection, q, sql, read);
    return rows.map((row) => histogramPercentiles(row, query));
  }

  /**
   * The stored rows of one point kind as series points (attributes as stored: strings, non-string values as
   * their canonical JSON; Min/Max stored as NaN come back `undefined`; summaries with their quantile values).
   * Ordered by time, then metric. Not bounded: for export and tests, never behind a request.
   */
  async points(
    tenant: string,
    kind: PointKind,
    range: TimeRange = {},
    metricName?: string,
  ): Promise<SeriesPoint[]> {
    const q = this.scope(tenant);
    const sql = this.statements.points(q, kind, range, metricName);
    const rows = await runScoped<Record<string, unknown>>(this.connection, q, sql);
    return rows.map((row) => decodeRow(kind, row));
  }

  /** ADMIN — every tenant: per tenant, sum metric and unit, the total over the range. */
  async adminTotalsByTenant(filter: UsageFilter = {}): Promise<TenantTotal[]> {
    const q = new AdminQuery(this.database);
    const sql = this.statements.totalsByTenant(q, filter);
    if (sql === undefined) return [];
    return (await this.connection.queryRows<TenantTotalRow>(sql, q.params)).map(tenantTotal);
  }

  /** The sum, gauge and histogram metrics stored for the tenant (name, unit, kind), by name. */
  async metrics(tenant: string, limits?: Partial<ReadLimits>): Promise<StoredMetric[]> {
    const q = this.scope(tenant);
    const rows = await runScoped<MetricRow>(
      this.connection,
      q,
      this.statements.metrics(q),
      beginRead(this.limits, limits),
    );
    return rows.map(storedMetric);
  }

  /**
   * The attribute keys of one sum or gauge metric's series for the tenant, with how many distinct values each has
   * (what an attribute picker offers), by key. More keys than `maxRows` → `ReadLimitError`.
   */
  async attributeKeys(tenant: string, metric: string, limits?: Partial<ReadLimits>): Promise<AttributeKey[]> {
    const q = this.scope(tenant);
    const read = beginRead(this.limits, limits);
    const rows = await runScoped<{ Key: string; ValueCount: string }>(
      this.connection,
      q,
      this.statements.attributeKeys(q, metric, read.limits.maxRows + 1),
      read,
    );
    if (rows.length > read.limits.maxRows) {
      throw new ReadLimitError(
        'maxRows',
        read.limits.maxRows,
        `metric ${JSON.stringify(metric)} has more than ${showLimit(read.limits, 'maxRows')} attribute keys`,
      );
    }
    return rows.map((row) => ({ key: row.Key, values: Number(row.ValueCount) }));
  }

  /** ADMIN — the metrics stored for any tenant. Bounded like a tenant read. */
  async adminMetrics(limits?: Partial<ReadLimits>): Promise<StoredMetric[]> {
    const q = new AdminQuery(this.database);
    const read = beginRead(this.limits, limits);
    return (await runBounded<MetricRow>(this.connection, q, this.statements.metrics(q), read)).map(
      storedMetric,
    );
  }

  /** ADMIN — the `limit` tenants with the largest totals of a sum metric (ties by tenant). Bounded. */
  async adminTopTenants(query: TopTenantsQuery, limits?: Partial<ReadLimits>): Promise<TenantEntry[]> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MAX_TOP_N) {
      throw new RangeError(`limit must be an integer in [1, ${MAX_TOP_N}], got ${query.limit}`);
    }
    const q = new AdminQuery(this.database);
    const read = beginRead(this.limits, limits);
    const sql = this.statements.topTenants(q, query, query.limit);
    if (sql === undefined) return [];
    return (await runBounded<TenantTotalRow>(this.connection, q, sql, read)).map((row) => ({
      tenant: row.TenantId,
      ...usageTotal(row),
    }));
  }

  /** ADMIN — a sum metric's time series over every tenant (one line, or one per `groupBy` value). Bounded. */
  async adminTimeSeries(query: TimeSeriesQuery, limits?: Partial<ReadLimits>): Promise<TimeSeries> {
    if (query.kind !== 'sum') {
      throw new RangeError(
        `an all-tenant time series is of sums only, got kind ${JSON.stringify(query.kind)}`,
      );
    }
    const q = new AdminQuery(this.database);
    const read = beginRead(this.limits, limits);
    const plan = planSeries(query, read.limits);
    const run: Run = (sql) => runBounded(this.connection, q, sql, read);
    const lines = await this.sumLines(q, run, query, plan, read);
    return { step: query.step, ...plan.range, lines };
  }

  /**
   * ADMIN — every tenant's totals of the metrics over the range (a billing run), as the engine streams them:
   * ordered by tenant, metric, unit and group values. One statement over the rollups: whole days and hours
   * from them, the open edges from raw rows, the same rows `total` reads per tenant. Time and memory are
   * bounded; the answer's length is not (it leaves as it comes).
   */
  async *adminPeriodTotals(
    query: PeriodTotalsQuery,
    limits?: Partial<ReadLimits>,
  ): AsyncGenerator<PeriodTotal> {
    if (query.metrics.length === 0) throw new RangeError('name at least one metric');
    const groupBy = query.groupBy ?? [];
    const q = new AdminQuery(this.database);
    const read = beginRead(this.limits, limits);
    const sql = this.statements.periodTotals(q, query.metrics, query.range, groupBy);
    if (sql === undefined) return;
    for await (const row of streamBounded<PeriodTotalRow>(this.connection, sql, q.params, read, 'stream')) {
      const total = tenantTotal(row);
      yield {
        tenant: total.tenant,
        metricName: total.metricName,
        unit: total.unit,
        groups: groupBy.map((_key, i) => row[`G${i}`] ?? ''),
        total: total.total,
        rows: total.rows,
      };
    }
  }

  /** The only constructor of tenant reads: refuses an empty or invalid tenant before any SQL. */
  private scope(tenant: string): TenantScopedQuery {
    return new TenantScopedQuery(this.database, tenant);
  }

  private async latestGauges(
    q: TenantScopedQuery,
    filter: UsageFilter,
    read: ReadContext,
  ): Promise<GaugeLatest[]> {
    const sql = this.statements.gaugeLatest(q, filter);
    if (sql === undefined) return [];
    return (await runScoped<GaugeLatestRow>(this.connection, q, sql, read)).map(gaugeLatest);
  }

  /** Counts the lines first (no further than one too many) and refuses the read before the bucket statement. */
  private async countLines(
    run: Run,
    statements: SeriesStatements,
    plan: SeriesPlan,
    read: ReadContext,
  ): Promise<void> {
    if (statements.lineCount === undefined) return;
    const [counted] = await run<LineCountRow>(statements.lineCount);
    checkLines(Number(counted?.Lines ?? 0), plan.shape, read.limits);
  }

  private async sumLines(
    q: QueryBuilder,
    run: Run,
    query: TimeSeriesQuery,
    plan: SeriesPlan,
    read: ReadContext,
  ) {
    const statements = this.statements.sumSeries(q, query, plan, plan.shape.maxLines);
    await this.countLines(run, statements, plan, read);
    const rows = await run<SumSeriesRow>(statements.lines);
    // The lines were counted before; rows written since may add some — still bounded by the LIMIT.
    checkLines(rows.length, plan.shape, read.limits);
    return zeroFilledLines(rows, plan.starts, query.groupBy, read.slicer);
  }

  private async gaugeLines(
    q: TenantScopedQuery,
    query: TimeSeriesQuery,
    plan: SeriesPlan,
    read: ReadContext,
  ) {
    const statements = this.statements.gaugeSeries(q, query, plan, plan.shape.maxLines);
    await this.countLines((sql) => runScoped(this.connection, q, sql, read), statements, plan, read);
    const rows = await runScoped<GaugeSeriesRow>(this.connection, q, statements.lines, read);
    // Carry-in: each source series' last value at or before the range start (a separate, equally scoped read).
    const before = await this.latestGauges(
      q,
      { ...query, range: { toUnixNano: plan.range.fromUnixNano } },
      read,
    );
    const lines = await gaugeLines(rows, before, query.metric, plan.starts.length, read.slicer);
    // Series written since the count may add lines; the answer stays within the limit or is refused.
    checkLines(lines.size, plan.shape, read.limits);
    const carried = await carriedForwardLines(lines, plan.starts, read.slicer);
    return query.combine === undefined ? carried : combineLines(carried, query.combine, read.slicer);
  }
}

function storedMetric(row: MetricRow): StoredMetric {
  return { name: row.MetricName, unit: row.MetricUnit, kind: row.Kind };
}
