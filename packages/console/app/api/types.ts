/**
 * The answers of the collector's HTTP API that the console reads (see the collector README, "Usage API").
 * Values may be the strings "NaN", "Infinity" or "-Infinity" (non-finite gauges, as proto3 JSON spells them).
 */

export type Value = number | string | null;
export type Step = '1m' | '1h' | '1d';
export type MetricKind = 'sum' | 'gauge' | 'histogram';

export interface MetricInfo {
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit: string;
}

export interface MetricsAnswer {
  readonly metrics: readonly MetricInfo[];
}

/** An attribute key of a metric's series, and how many distinct values it has. */
export interface AttributeKeyInfo {
  readonly key: string;
  readonly values: number;
}

export interface AttributesAnswer {
  readonly tenant: string;
  readonly metric: string;
  readonly keys: readonly AttributeKeyInfo[];
}

export interface SeriesSource {
  readonly resource: Readonly<Record<string, string>>;
  readonly scope: { readonly name: string; readonly version: string };
}

export interface SeriesLine {
  readonly key: Readonly<Record<string, string>>;
  readonly unit?: string;
  readonly source?: SeriesSource;
  readonly sources?: number;
  readonly points: readonly { readonly start: string; readonly value: Value }[];
}

export interface TimeSeriesAnswer {
  readonly tenant?: string;
  readonly metric: string;
  readonly kind: 'sum' | 'gauge';
  readonly step: Step;
  readonly groupBy?: string;
  readonly bucketsFrom: string;
  readonly bucketsTo: string;
  readonly lines: readonly SeriesLine[];
}

export interface TotalAnswer {
  readonly metric: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly total: Value;
  readonly rows: number;
}

export interface TopAnswer {
  readonly by: string;
  readonly limit: number;
  readonly entries: readonly { readonly value: string; readonly total: Value; readonly rows: number }[];
}

export interface LatestEntry {
  readonly unit: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly source?: SeriesSource;
  readonly sources?: number;
  readonly value: Value;
  readonly time: string;
}

export interface LatestAnswer {
  readonly metric: string;
  readonly latest: readonly LatestEntry[];
}

export interface QuotaStatus {
  readonly period: 'hour' | 'day' | 'month';
  readonly limit: number;
  readonly used: number;
  readonly remaining: number;
  readonly periodStart: string;
  readonly resetsAt: string;
  readonly timeZone: string;
}

export interface LimitsAnswer {
  readonly tenant: string;
  readonly quotas: readonly QuotaStatus[];
  /** `available`: points the tenant could send at once right now (the burst refills at the rate). */
  readonly rate: {
    readonly pointsPerSecond: number;
    readonly burst: number;
    readonly available: number;
  } | null;
}

export interface TopTenantsAnswer {
  readonly metric: string;
  readonly limit: number;
  readonly entries: readonly { readonly tenant: string; readonly total: Value; readonly rows: number }[];
}
