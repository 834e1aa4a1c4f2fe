/**
 * SQL assembly of the usage reads. Every statement is built on a `QueryBuilder` (`tenant-scope.ts`): a table is
 * named only by its `from`, which puts the tenant predicate right after it, and every value — metric, attribute
 * keys and values, times, limits — is bound as a `{pN:Type}` parameter; nothing here splices a value into the text.
 *
 * A range reads whole days from the daily rollup, whole hours from the hourly rollup and the open edges from raw
 * rows (`range-plan.ts`), one sub-read per storage, all joined by `UNION ALL`; a time series reads the rollup of
 * its step, or raw rows at `1m`.
 */
import type { PointKind } from '@tallyhouse/model';
import { bucketExpression, NANOS_PER_SECOND, STEP_SECONDS, type Step } from '../schema/buckets.ts';
import type { RollupKind } from '../schema/rollups.ts';
import { METRIC_COLUMNS, METRIC_TABLES } from '../schema/tables.ts';
import { bucketConditions, filterConditions, rawTimeConditions } from './conditions.ts';
import type { MetricQuery, TimeRange, TimeSeriesQuery, TopNQuery, UsageFilter } from './query-types.ts';
import { planRange, type RangePart } from './range-plan.ts';
import { storedColumnReads } from './row-decoding.ts';
import type { SeriesBuckets, SeriesRange } from './series-plan.ts';
import type { QueryBuilder, TenantScopedQuery } from './tenant-scope.ts';

type Group = readonly [alias: string, expression: string];

/** How one series read buckets its rows: the storage it reads, a row's bucket, a bucket's index in the answer. */
interface Bucketing {
  /** `raw`, or the rollup of that grain. */
  readonly source: 'raw' | '1h' | '1d';
  /** A row's bucket (`Bucket`). */
  readonly bucket: string;
  /** `Bucket`'s index among the answer's buckets. */
  readonly index: string;
}

/** The statements of one time series: the count of its lines (when it has one) runs before the bucket read. */
export interface SeriesStatements {
  /** `Lines`: the distinct lines, counted no further than one past the most that fit. */
  readonly lineCount: string | undefined;
  /** One row per line: `Indexes` of its non-empty buckets and their values; at most one line too many. */
  readonly lines: string;
}

/** Spans of the range read from one storage. */
interface SourceSpans {
  readonly kind: RangePart['kind'];
  readonly spans: RangePart[];
}

/** The value columns of a sub-read: raw rows aggregate values, rollups merge what they hold. */
type PartValues = Readonly<Record<RangePart['kind'], string>>;

const SUM_VALUES: PartValues = {
  raw: 'sum(Value) AS Total, count() AS RowCount',
  rollup: 'sum(Value) AS Total, sum(Rows) AS RowCount',
};
const GAUGE_VALUES: PartValues = {
  raw: 'argMax(Value, TimeUnix) AS V, max(TimeUnix) AS T',
  rollup: 'argMaxMerge(Latest) AS V, max(LatestTime) AS T',
};
/** What names a gauge source series besides its metric: unit, attributes, resource attributes and scope. */
const GAUGE_SOURCE: readonly Group[] = [
  ['MetricUnit', 'MetricUnit'],
  ['Attributes', 'Attributes'],
  ['ResourceAttributes', 'ResourceAttributes'],
  ['ScopeName', 'ScopeName'],
  ['ScopeVersion', 'ScopeVersion'],
];
const GAUGE_ORDER =
  'MetricName, MetricUnit, toString(Attributes), toString(ResourceAttributes), ScopeName, ScopeVersion';

const HISTOGRAM_VALUES: PartValues = {
  raw: 'sum(Count) AS C, sum(Sum) AS S, sumForEach(BucketCounts) AS B',
  rollup: 'sum(Count) AS C, sum(Sum) AS S, sumForEachMerge(BucketCounts) AS B',
};

export class UsageStatements {
  private readonly useRollups: boolean;

  constructor(useRollups: boolean) {
    this.useRollups = useRollups;
  }

  /** `Total`, `RowCount` of one sum metric; undefined for an empty range (as for every builder below). */
  total(q: QueryBuilder, query: UsageFilter): string | undefined {
    return this.sumOver(q, query, []);
  }

  /** Per sum metric and unit: `MetricName`, `MetricUnit`, `Total`, `RowCount`. */
  sumTotals(q: QueryBuilder, filter: UsageFilter): string | undefined {
    const sql = this.sumOver(q, filter, [
      ['MetricName', 'MetricName'],
      ['MetricUnit', 'MetricUnit'],
    ]);
    return sql === undefined ? undefined : `${sql} ORDER BY MetricName, MetricUnit`;
  }

  /** Every tenant (an `AdminQuery`): `TenantId`, `MetricName`, `MetricUnit`, `Total`, `RowCount`. */
  totalsByTenant(q: QueryBuilder, filter: UsageFilter): string | undefined {
    const sql = this.sumOver(q, filter, [
      ['TenantId', 'TenantId'],
      ['MetricName', 'MetricName'],
      ['MetricUnit', 'MetricUnit'],
    ]);
    return sql === undefined ? undefined : `${sql} ORDER BY TenantId, MetricName, MetricUnit`;
  }

  /** Every tenant (an `AdminQuery`): `TenantId`, `Total`, `RowCount`, the `limit` largest, ties by tenant. */
  topTenants(q: QueryBuilder, query: MetricQuery, limit: number): string | undefined {
    const sql = this.sumOver(q, query, [['TenantId', 'TenantId']]);
    if (sql === undefined) return undefined;
    return `${sql} ORDER BY Total DESC, TenantId ASC LIMIT ${q.bind('Int64', String(limit))}`;
  }

  /**
   * Every tenant (an `AdminQuery`), for a billing period: per tenant, metric, unit and the values of the
   * `groupBy` attributes (`G0`, `G1`, … — '' for rows without one), `Total` and `RowCount`. Ordered, so the
   * answer can be streamed as it comes.
   */
  periodTotals(
    q: QueryBuilder,
    metrics: readonly string[],
    range: TimeRange,
    groupBy: readonly string[],
  ): string | undefined {
    const groups: Group[] = [
      ['TenantId', 'TenantId'],
      ['MetricName', 'MetricName'],
      ['MetricUnit', 'MetricUnit'],
      ...groupBy.map((key, i): Group => [`G${i}`, `Attributes[${q.bind('String', key)}]`]),
    ];
    const sql = this.sumOver(q, { range }, groups, [
      `MetricName IN ${q.bind('Array(String)', [...metrics])}`,
    ]);
    if (sql === undefined) return undefined;
    return `${sql} ORDER BY ${aliases(groups)}`;
  }

  /**
   * The metrics stored (`MetricName`, `MetricUnit`, `Kind`): read from the daily rollups, which every written
   * point reaches (summaries, never aggregated, are not listed).
   */
  metrics(q: QueryBuilder): string {
    const kinds: RollupKind[] = ['sum', 'gauge', 'histogram'];
    const union = kinds
      .map(
        (kind) =>
          `SELECT DISTINCT MetricName, MetricUnit, '${kind}' AS Kind ${q.from({ rollup: kind, grain: '1d' }, [])}`,
      )
      .join(' UNION ALL ');
    return `SELECT MetricName, MetricUnit, Kind FROM (${union}) ORDER BY MetricName, Kind, MetricUnit`;
  }

  /**
   * The attribute keys of one metric's series (`Key`, `ValueCount`: how many distinct values), from the daily
   * rollups of sums and gauges, by key; at most `limit`.
   */
  attributeKeys(q: QueryBuilder, metric: string, limit: number): string {
    const name = q.bind('String', metric);
    const kinds: RollupKind[] = ['sum', 'gauge'];
    const union = kinds
      .map(
        (kind) =>
          `SELECT arrayJoin(mapKeys(Attributes)) AS Key, Attributes[Key] AS Value ${q.from({ rollup: kind, grain: '1d' }, [`MetricName = ${name}`])}`,
      )
      .join(' UNION ALL ');
    return `SELECT Key, uniqExact(Value) AS ValueCount FROM (${union}) GROUP BY Key ORDER BY Key LIMIT ${q.bind('Int64', String(limit))}`;
  }

  /** `Label` (the value of attribute `by`), `Total`, `RowCount`: the `limit` largest, ties by label. */
  topN(q: QueryBuilder, query: TopNQuery): string | undefined {
    const key = q.bind('String', query.by);
    const sql = this.sumOver(
      q,
      query,
      [['Label', `Attributes[${key}]`]],
      [`mapContains(Attributes, ${key})`],
    );
    if (sql === undefined) return undefined;
    return `${sql} ORDER BY Total DESC, Label ASC LIMIT ${q.bind('Int64', String(query.limit))}`;
  }

  /**
   * Per gauge source series: `MetricName`, the source columns (`GAUGE_SOURCE`), `Latest`, `LatestTime` (ns as
   * text). Each source's latest value stands on its own: another host's newer value never hides it.
   */
  gaugeLatest(q: QueryBuilder, filter: UsageFilter): string | undefined {
    const groups: Group[] = [['MetricName', 'MetricName'], ...GAUGE_SOURCE];
    const union = this.union(q, 'gauge', filter.range, filterConditions(q, filter), groups, GAUGE_VALUES);
    if (union === undefined) return undefined;
    const keys = aliases(groups);
    return `SELECT ${keys}, argMax(V, T) AS Latest, toString(toUnixTimestamp64Nano(max(T))) AS LatestTime FROM (${union}) GROUP BY ${keys} ORDER BY ${GAUGE_ORDER}`;
  }

  /** Per distinct `ExplicitBounds`: merged `Buckets`, `Count`, `Sum`. */
  histograms(q: QueryBuilder, filter: UsageFilter): string | undefined {
    const groups: Group[] = [['ExplicitBounds', 'ExplicitBounds']];
    const union = this.union(
      q,
      'histogram',
      filter.range,
      filterConditions(q, filter),
      groups,
      HISTOGRAM_VALUES,
    );
    if (union === undefined) return undefined;
    return `SELECT ExplicitBounds, sumForEach(B) AS Buckets, sum(C) AS Count, sum(S) AS Sum FROM (${union}) GROUP BY ExplicitBounds ORDER BY toString(ExplicitBounds)`;
  }

  /** The stored rows of one kind, every column (times as `<column>Nano` decimal strings). */
  points(q: TenantScopedQuery, kind: PointKind, range: TimeRange, metricName: string | undefined): string {
    const filter: UsageFilter = metricName === undefined ? {} : { metric: metricName };
    const conditions = [
      ...filterConditions(q, filter),
      ...rawTimeConditions(q, range.fromUnixNano, range.toUnixNano),
    ];
    const columns = storedColumnReads(METRIC_COLUMNS[METRIC_TABLES[kind]]);
    return `SELECT ${columns.join(', ')} ${q.from({ raw: kind }, conditions)}
       ORDER BY TimeUnix, MetricName, StartTimeUnix, toString(Attributes)`;
  }

  /**
   * Sum buckets (`Indexes`, `Totals`): one line, or one per value of `groupBy` (`GroupValue`). Without
   * `groupBy` the aggregate has no GROUP BY: always one row (empty arrays for no data), and no line count.
   */
  sumSeries(
    q: QueryBuilder,
    query: TimeSeriesQuery,
    buckets: SeriesBuckets,
    maxLines: number,
  ): SeriesStatements {
    const { range } = buckets;
    const bucketing = this.bucketing(q, query.step, buckets);
    const groupKey = query.groupBy;
    const groups: Group[] =
      groupKey === undefined ? [] : [['GroupValue', `Attributes[${q.bind('String', groupKey)}]`]];
    const tooMany = q.bind('Int64', String(maxLines + 1));
    const [group] = groups;
    // Over the range's parts: whole hours and days from the rollups (a row per hour and series, not per
    // point), only the edges from raw rows. Same lines, as every raw row is in exactly one part.
    const lineCount =
      group === undefined ? undefined : this.lineCount(q, 'sum', range, query, [group], tooMany);
    const values = `${bucketing.bucket} AS Bucket, sum(Value) AS Total`;
    const keys = [...groups.map(([alias]) => alias), 'Bucket'].join(', ');
    const inner = `SELECT ${projection(groups, values)} ${this.seriesFrom(q, 'sum', query, range, bucketing)} GROUP BY ${keys}`;
    const lines = `SELECT ${group === undefined ? '' : 'GroupValue, '}groupArray(${bucketing.index}) AS Indexes, groupArray(Total) AS Totals FROM (${inner})${group === undefined ? '' : ' GROUP BY GroupValue'} LIMIT ${tooMany}`;
    return { lineCount, lines };
  }

  /**
   * Gauge buckets per source series (the source columns, `Indexes`, `LastValues`). Lines are the source series
   * with a value at or before the range's end (carried in, or in the range), so they are counted over (−∞, to].
   */
  gaugeSeries(
    q: TenantScopedQuery,
    query: TimeSeriesQuery,
    buckets: SeriesBuckets,
    maxLines: number,
  ): SeriesStatements {
    const { range } = buckets;
    const bucketing = this.bucketing(q, query.step, buckets);
    const tooMany = q.bind('Int64', String(maxLines + 1));
    const lineCount = this.lineCount(
      q,
      'gauge',
      { toUnixNano: range.toUnixNano },
      query,
      GAUGE_SOURCE,
      tooMany,
    );
    const value =
      bucketing.source === 'raw'
        ? 'argMax(Value, TimeUnix) AS LastValue'
        : 'argMaxMerge(Latest) AS LastValue';
    const keys = aliases(GAUGE_SOURCE);
    const inner = `SELECT ${keys}, ${bucketing.bucket} AS Bucket, ${value} ${this.seriesFrom(q, 'gauge', query, range, bucketing)} GROUP BY ${keys}, Bucket`;
    const lines = `SELECT ${keys}, groupArray(${bucketing.index}) AS Indexes, groupArray(LastValue) AS LastValues FROM (${inner}) GROUP BY ${keys} LIMIT ${tooMany}`;
    return { lineCount, lines };
  }

  /** Outer `SELECT <groups>, Total, RowCount` over the union of the range's parts. */
  private sumOver(
    q: QueryBuilder,
    filter: UsageFilter,
    groups: readonly Group[],
    extra: readonly string[] = [],
  ): string | undefined {
    const common = [...filterConditions(q, filter), ...extra];
    const union = this.union(q, 'sum', filter.range, common, groups, SUM_VALUES);
    if (union === undefined) return undefined;
    const aliases = groups.map(([alias]) => alias);
    return `SELECT ${[...aliases, 'sum(Total) AS Total', 'sum(RowCount) AS RowCount'].join(', ')} FROM (${union})${groupBy(groups.map(([alias]) => [alias, alias]))}`;
  }

  /** The distinct `line` tuples over the range's parts, counted no further than `tooMany` (a placeholder). */
  private lineCount(
    q: QueryBuilder,
    kind: RollupKind,
    range: TimeRange,
    filter: UsageFilter,
    line: readonly Group[],
    tooMany: string,
  ): string | undefined {
    const value = line.map(selected).join(', ');
    const union = this.union(q, kind, range, filterConditions(q, filter), [], { raw: value, rollup: value });
    if (union === undefined) return undefined;
    return `SELECT count() AS Lines FROM (SELECT DISTINCT ${aliases(line)} FROM (${union}) LIMIT ${tooMany})`;
  }

  /** `SELECT <groups>, <values> FROM <part> … GROUP BY <groups>` per part of the range, joined by UNION ALL. */
  private union(
    q: QueryBuilder,
    kind: RollupKind,
    range: TimeRange | undefined,
    common: readonly string[],
    groups: readonly Group[],
    values: PartValues,
  ): string | undefined {
    const parts = this.parts(range);
    if (parts.length === 0) return undefined;
    return parts
      .map(
        (part) =>
          `SELECT ${projection(groups, values[part.kind])} ${this.partFrom(q, kind, part, common)}${groupBy(groups)}`,
      )
      .join(' UNION ALL ');
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

  /**
   * A series' buckets. UTC steps: the rollup of the step (raw rows at `1m`), a bucket's index its distance from
   * the range start in steps (a UInt32, which JSON writes unquoted: a few digits per point, not a timestamp).
   * Local days of a zone: the zone's local day number of each hourly bucket — whole local days are whole UTC
   * hours in zones with whole-hour offsets — or of each raw row (at `TimeUnix` − 1 ns: a row on midnight closes
   * the day before), the index its distance from the first day.
   */
  private bucketing(q: QueryBuilder, step: Step, buckets: SeriesBuckets): Bucketing {
    const { zoneDays, range } = buckets;
    if (zoneDays !== undefined) {
      const zone = q.bind('String', zoneDays.zone);
      const fromHours = this.useRollups && zoneDays.wholeHours;
      return {
        source: fromHours ? '1h' : 'raw',
        bucket: fromHours
          ? `toRelativeDayNum(BucketStart, ${zone})`
          : `toRelativeDayNum(toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, ${NANOS_PER_SECOND}), ${zone}))`,
        index: `toUInt32(Bucket - ${q.bind('Int64', String(zoneDays.firstDay))})`,
      };
    }
    const fromRollup = this.useRollups && step !== '1m';
    const from = q.bind('Int64', (range.fromUnixNano / NANOS_PER_SECOND).toString());
    const seconds = q.bind('Int64', STEP_SECONDS[step].toString());
    return {
      source: fromRollup ? step : 'raw',
      bucket: fromRollup ? 'BucketStart' : bucketExpression(step),
      index: `toUInt32(intDiv(toInt64(toUnixTimestamp(Bucket)) - ${from}, ${seconds}))`,
    };
  }

  /** A time series reads one storage: a rollup (whole buckets), or raw rows. */
  private seriesFrom(
    q: QueryBuilder,
    kind: 'sum' | 'gauge',
    query: TimeSeriesQuery,
    range: SeriesRange,
    bucketing: Bucketing,
  ): string {
    const common = filterConditions(q, query);
    if (bucketing.source !== 'raw') {
      return q.from({ rollup: kind, grain: bucketing.source }, [
        ...common,
        ...bucketConditions(q, range.fromUnixNano, range.toUnixNano),
      ]);
    }
    return q.from({ raw: kind }, [...common, ...rawTimeConditions(q, range.fromUnixNano, range.toUnixNano)]);
  }
}

function aliases(groups: readonly Group[]): string {
  return groups.map(([alias]) => alias).join(', ');
}

function selected([alias, expression]: Group): string {
  return alias === expression ? alias : `${expression} AS ${alias}`;
}

function projection(groups: readonly Group[], values: string): string {
  return [...groups.map(selected), values].join(', ');
}

function groupBy(groups: readonly Group[]): string {
  return groups.length === 0 ? '' : ` GROUP BY ${groups.map(([alias]) => alias).join(', ')}`;
}
