/**
 * What a usage read asks and answers: the query and answer types of `UsageReader`'s methods. Ranges are
 * `(from, to]` on `TimeUnix`; sum rows are deltas over `(StartTimeUnix, TimeUnix]`.
 */
import type { Step } from '../schema/buckets.ts';
import type { PercentileMethod } from './percentiles.ts';

export interface TimeRange {
  /** Exclusive lower bound on `TimeUnix`, Unix ns. Default: the beginning. */
  readonly fromUnixNano?: bigint;
  /** Inclusive upper bound on `TimeUnix`, Unix ns. Default: no bound. */
  readonly toUnixNano?: bigint;
}

export interface SumTotal {
  readonly metricName: string;
  readonly unit: string;
  /** `sum(Value)` over the range: the usage in (from, to], since sum rows are deltas. */
  readonly total: number;
  readonly rows: number;
}

/**
 * Where a gauge series comes from: the reporting instance's resource attributes and instrumentation scope. Two
 * hosts (or two scopes) reporting one gauge with equal attributes are two source series.
 */
export interface GaugeSource {
  readonly resource: Readonly<Record<string, string>>;
  readonly scope: { readonly name: string; readonly version: string };
}

/**
 * How the sources of one (metric, unit, attributes) are combined: each source's latest value (in a time series,
 * carried forward per source) summed, or the largest, smallest or mean of them. Sources without a value yet do not
 * count.
 */
export type GaugeCombine = 'sum' | 'max' | 'min' | 'avg';

/** The latest value of one source series: (metric, unit, source, attributes). */
export interface GaugeLatest {
  readonly metricName: string;
  readonly unit: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly source: GaugeSource;
  readonly value: number;
  readonly timeUnixNano: bigint;
}

/** The sources' latest values of one (metric, unit, attributes), combined. */
export interface CombinedGaugeLatest {
  readonly metricName: string;
  readonly unit: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly combine: GaugeCombine;
  readonly value: number;
  /** The newest of the combined values' times. */
  readonly timeUnixNano: bigint;
  /** How many sources were combined. */
  readonly sources: number;
}

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

export interface GaugeLatestQuery extends UsageFilter {
  /** Combine the sources of each (metric, unit, attributes); without it, one answer per source series. */
  readonly combine?: GaugeCombine;
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
  /** Gauges only: one line per (unit, attributes), the sources combined bucket by bucket. Default: a line per source series. */
  readonly combine?: GaugeCombine;
  /**
   * IANA time zone of `1d` buckets: each bucket is a local day (23 to 25 hours across DST changes), starting at
   * local midnight. Default UTC. `1m` and `1h` buckets are UTC minutes and hours whatever the zone.
   */
  readonly timeZone?: string;
}

export interface TimeSeriesPoint {
  /** Bucket start `b`: the bucket holds `b < TimeUnix <= b + step`. */
  readonly startUnixNano: bigint;
  /**
   * Sums: the total (0 when empty). Gauges: the last value at or before the bucket's end; undefined before any.
   * Combined gauges: the sources' such values combined; undefined before any source has one.
   */
  readonly value: number | undefined;
}

export interface TimeSeriesLine {
  /** Sums: `{}` or `{ [groupBy]: value }`. Gauges: the series' attributes. */
  readonly key: Readonly<Record<string, string>>;
  readonly points: readonly TimeSeriesPoint[];
  /** Gauges: the metric's unit. */
  readonly unit?: string;
  /** Gauges without `combine`: the source of this line's series. */
  readonly source?: GaugeSource;
  /** Gauges with `combine`: how many sources had a value in the answer (carried in or in the range). */
  readonly sources?: number;
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

/** A metric stored for a tenant (or for any tenant, in an admin read). */
export interface StoredMetric {
  readonly name: string;
  readonly unit: string;
  readonly kind: 'sum' | 'gauge' | 'histogram';
}

/** One tenant's total of a sum metric, in a cross-tenant ranking. */
export interface TenantEntry {
  readonly tenant: string;
  readonly total: number;
  readonly rows: number;
}

export interface TopTenantsQuery extends MetricQuery {
  readonly limit: number;
}

/** Every tenant's totals of some sum metrics over one period (a billing run). */
export interface PeriodTotalsQuery {
  /** Sum metrics, at least one. */
  readonly metrics: readonly string[];
  readonly range: TimeRange;
  /** Attribute keys: one total per tenant, metric, unit and combination of their values. */
  readonly groupBy?: readonly string[];
}

export interface PeriodTotal {
  readonly tenant: string;
  readonly metricName: string;
  readonly unit: string;
  /** The `groupBy` attributes' values ('' for rows without the attribute), in the query's order. */
  readonly groups: readonly string[];
  readonly total: number;
  readonly rows: number;
}

/** An attribute key of a metric's series, and how many distinct values it has. */
export interface AttributeKey {
  readonly key: string;
  readonly values: number;
}
