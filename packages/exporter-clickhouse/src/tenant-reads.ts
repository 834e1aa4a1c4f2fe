/**
 * Tenant-scoped reads. Every query binds the tenant as a parameter in its WHERE clause; there is no way to
 * read without one, and an invalid tenant (empty, too long, control characters) is refused before any SQL runs.
 */
import { type PointKind, type SeriesPoint, validateTenant } from '@tallyhouse/processor-tenant';
import type { StorageConnection } from './connection.ts';
import { qualified } from './schema.ts';
import { METRIC_COLUMNS, METRIC_TABLES } from './tables.ts';

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

export interface GaugeLatest {
  readonly metricName: string;
  readonly unit: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timeUnixNano: bigint;
}

export class TenantUsageReader {
  private readonly connection: StorageConnection;
  private readonly database: string;

  constructor(connection: StorageConnection, database: string) {
    this.connection = connection;
    this.database = database;
  }

  /** Per metric: the tenant's total over the range. */
  async sumTotals(tenant: string, range: TimeRange = {}, metricName?: string): Promise<SumTotal[]> {
    const { where, params } = this.scope(tenant, range, metricName);
    const rows = await this.connection.queryRows<{
      MetricName: string;
      MetricUnit: string;
      Total: string | number;
      Rows: string;
    }>(
      `SELECT MetricName, MetricUnit, sum(Value) AS Total, count() AS Rows
       FROM ${qualified({ database: this.database }, METRIC_TABLES.sum)}
       WHERE ${where}
       GROUP BY MetricName, MetricUnit
       ORDER BY MetricName, MetricUnit`,
      params,
    );
    return rows.map((row) => ({
      metricName: row.MetricName,
      unit: row.MetricUnit,
      total: Number(row.Total),
      rows: Number(row.Rows),
    }));
  }

  /** Per gauge series (metric + attributes): the value with the newest `TimeUnix`. */
  async gaugeLatest(tenant: string, range: TimeRange = {}, metricName?: string): Promise<GaugeLatest[]> {
    const { where, params } = this.scope(tenant, range, metricName);
    const rows = await this.connection.queryRows<{
      MetricName: string;
      MetricUnit: string;
      Attributes: Record<string, string>;
      Latest: number | string;
      LatestTime: string;
    }>(
      `SELECT MetricName, MetricUnit, Attributes, argMax(Value, TimeUnix) AS Latest,
              toString(toUnixTimestamp64Nano(max(TimeUnix))) AS LatestTime
       FROM ${qualified({ database: this.database }, METRIC_TABLES.gauge)}
       WHERE ${where}
       GROUP BY MetricName, MetricUnit, Attributes
       ORDER BY MetricName, MetricUnit, toString(Attributes)`,
      params,
    );
    return rows.map((row) => ({
      metricName: row.MetricName,
      unit: row.MetricUnit,
      attributes: row.Attributes,
      value: Number(row.Latest),
      timeUnixNano: BigInt(row.LatestTime),
    }));
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
    const { where, params } = this.scope(tenant, range, metricName);
    const table = METRIC_TABLES[kind];
    const columns = METRIC_COLUMNS[table].map((column) =>
      column.type === 'DateTime64(9)'
        ? `toString(toUnixTimestamp64Nano(${column.name})) AS ${column.name}Nano`
        : column.name,
    );
    const rows = await this.connection.queryRows<Record<string, unknown>>(
      `SELECT ${columns.join(', ')} FROM ${qualified({ database: this.database }, table)}
       WHERE ${where} ORDER BY TimeUnix, MetricName, StartTimeUnix, toString(Attributes)`,
      params,
    );
    return rows.map((row) => decodeRow(kind, row));
  }

  private scope(
    tenant: string,
    range: TimeRange,
    metricName: string | undefined,
  ): { where: string; params: Record<string, unknown> } {
    const conditions = ['TenantId = {tenant:String}'];
    const params: Record<string, unknown> = { tenant: validateTenant(tenant) };
    if (range.fromUnixNano !== undefined) {
      conditions.push('TimeUnix > fromUnixTimestamp64Nano({from:Int64})');
      params.from = range.fromUnixNano.toString();
    }
    if (range.toUnixNano !== undefined) {
      conditions.push('TimeUnix <= fromUnixTimestamp64Nano({to:Int64})');
      params.to = range.toUnixNano.toString();
    }
    if (metricName !== undefined) {
      conditions.push('MetricName = {metric:String}');
      params.metric = metricName;
    }
    return { where: conditions.join(' AND '), params };
  }
}

function decodeFloat(value: unknown): number {
  if (typeof value === 'number') return value;
  switch (value) {
    case 'nan':
    case '-nan':
      return Number.NaN;
    case 'inf':
    case '+inf':
      return Number.POSITIVE_INFINITY;
    case '-inf':
      return Number.NEGATIVE_INFINITY;
    default:
      return Number(value);
  }
}

function decodeOptional(value: unknown): number | undefined {
  const number = decodeFloat(value);
  return Number.isNaN(number) ? undefined : number;
}

function decodeInts(value: unknown): number[] {
  return (value as unknown[]).map((item) => Number(item));
}

/** One stored row back to a series point (see `points`); times are read as `<column>Nano` decimal strings. */
export function decodeRow(kind: PointKind, row: Record<string, unknown>): SeriesPoint {
  const common = {
    tenant: row.TenantId as string,
    resource: row.ResourceAttributes as Record<string, string>,
    scope: { name: row.ScopeName as string, version: row.ScopeVersion as string },
    attributes: row.Attributes as Record<string, string>,
    startTimeUnixNano: BigInt(row.StartTimeUnixNano as string),
    timeUnixNano: BigInt(row.TimeUnixNano as string),
  };
  const info = {
    name: row.MetricName as string,
    description: row.MetricDescription as string,
    unit: row.MetricUnit as string,
  };
  switch (kind) {
    case 'sum':
      return {
        ...common,
        metric: { ...info, kind, monotonic: row.IsMonotonic === true || row.IsMonotonic === 'true' },
        value: { value: decodeFloat(row.Value) },
      };
    case 'gauge':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: { value: decodeFloat(row.Value) },
      };
    case 'histogram':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: {
          count: Number(row.Count),
          sum: decodeFloat(row.Sum),
          bounds: (row.ExplicitBounds as unknown[]).map(decodeFloat),
          bucketCounts: decodeInts(row.BucketCounts),
          min: decodeOptional(row.Min),
          max: decodeOptional(row.Max),
        },
      };
    case 'exponentialHistogram':
      return {
        ...common,
        metric: { ...info, kind, monotonic: false },
        value: {
          count: Number(row.Count),
          sum: decodeFloat(row.Sum),
          scale: Number(row.Scale),
          zeroCount: Number(row.ZeroCount),
          positive: {
            offset: Number(row.PositiveOffset),
            bucketCounts: decodeInts(row.PositiveBucketCounts),
          },
          negative: {
            offset: Number(row.NegativeOffset),
            bucketCounts: decodeInts(row.NegativeBucketCounts),
          },
          min: decodeOptional(row.Min),
          max: decodeOptional(row.Max),
        },
      };
  }
}
