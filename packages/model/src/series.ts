/**
 * The one internal representation that flows between Tallyhouse stages.
 * SDK `ResourceMetrics`, OTLP payloads and ClickHouse rows convert to and from it at the edges, once.
 *
 * Times are exact Unix nanoseconds as `bigint` (a float would round them).
 */

/** An attribute value after canonicalisation: objects have sorted keys, arrays keep their order. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | readonly AttributeValue[]
  | { readonly [key: string]: AttributeValue };

export type Attributes = { readonly [key: string]: AttributeValue };

export type PointKind = 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram' | 'summary';

/**
 * Kinds whose points are readings of one source, kept as sent: never added to another point, the latest per
 * source series wins. Their series identity is the full source (resource attributes and scope), so two sources
 * never overwrite each other.
 */
export type LatestValueKind = 'gauge' | 'summary';

export function isLatestValueKind(kind: PointKind): kind is LatestValueKind {
  return kind === 'gauge' || kind === 'summary';
}
export type Temporality = 'delta' | 'cumulative';

export interface InstrumentationScopeInfo {
  readonly name: string;
  readonly version: string;
  /** The scope's own attributes (OTLP `InstrumentationScope.attributes`); absent when it has none. */
  readonly attributes?: Attributes;
  readonly droppedAttributesCount?: number;
  /** `ScopeMetrics.schema_url`; absent when empty. */
  readonly schemaUrl?: string;
}

/** What a metric is, independent of tenant and attributes. */
export interface MetricInfo {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly kind: PointKind;
  /** Only meaningful for sums. */
  readonly monotonic: boolean;
}

export interface SumValue {
  readonly value: number;
}

export interface GaugeValue {
  readonly value: number;
}

export interface HistogramValue {
  readonly count: number;
  readonly sum: number;
  /** Upper bounds of the buckets; `bucketCounts.length === bounds.length + 1`. */
  readonly bounds: readonly number[];
  readonly bucketCounts: readonly number[];
  /** `undefined` when the source did not record min/max. */
  readonly min: number | undefined;
  readonly max: number | undefined;
}

export interface ExponentialBuckets {
  readonly offset: number;
  readonly bucketCounts: readonly number[];
}

/** The scales OTLP defines. Below -10 every finite double falls into buckets -2..0 already. */
export const MIN_EXPONENTIAL_SCALE = -10;
export const MAX_EXPONENTIAL_SCALE = 20;

export interface ExponentialHistogramValue {
  readonly count: number;
  readonly sum: number;
  readonly scale: number;
  readonly zeroCount: number;
  readonly positive: ExponentialBuckets;
  readonly negative: ExponentialBuckets;
  readonly min: number | undefined;
  readonly max: number | undefined;
}

/** One `ValueAtQuantile` of a summary: `quantile` in [0, 1] (0 is the minimum, 1 the maximum). */
export interface QuantileValue {
  readonly quantile: number;
  readonly value: number;
}

/**
 * An OTLP summary point, stored as sent: quantiles of different points cannot be combined, so a summary is never
 * merged or converted (its count and sum are whatever the source reports, usually cumulative).
 */
export interface SummaryValue {
  readonly count: number;
  readonly sum: number;
  /** In the order the source sent them. */
  readonly quantileValues: readonly QuantileValue[];
}

export interface PointValueByKind {
  sum: SumValue;
  gauge: GaugeValue;
  histogram: HistogramValue;
  exponentialHistogram: ExponentialHistogramValue;
  summary: SummaryValue;
}

export type PointValue = PointValueByKind[PointKind];

/**
 * A sample measurement with its trace context, carried next to a point (OTLP exemplars). Ids are lowercase hex,
 * as OTLP/JSON spells them and the upstream ClickHouse exporter stores them; `''` when absent.
 */
export interface Exemplar {
  /** The measurement's attributes that the point's attribute set filtered out. */
  readonly filteredAttributes: Attributes;
  readonly timeUnixNano: bigint;
  readonly value: number;
  /** 16 hex digits, or `''`. */
  readonly spanId: string;
  /** 32 hex digits, or `''`. */
  readonly traceId: string;
}

/**
 * Exemplars kept per point: the most recent by time. Decoders keep this many of each incoming point, and a merged
 * point keeps this many of everything merged into it during one flush, so exemplars never grow with traffic.
 */
export const MAX_EXEMPLARS_PER_POINT = 10;

/** A data point in a batch handed to the next stage. Sums are always deltas covering (start, time]. */
export interface SeriesPoint<K extends PointKind = PointKind> {
  readonly tenant: string;
  /** Kept resource attributes only (default: `service.name`). */
  readonly resource: Attributes;
  readonly scope: InstrumentationScopeInfo;
  /** `ResourceMetrics.schema_url` of the (last) source; absent when empty. */
  readonly resourceSchemaUrl?: string;
  readonly metric: MetricInfo & { readonly kind: K };
  /** Point attributes without the tenant attribute. */
  readonly attributes: Attributes;
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: PointValueByKind[K];
  /** At most `MAX_EXEMPLARS_PER_POINT`, oldest first; absent or empty when there are none. */
  readonly exemplars?: readonly Exemplar[];
}

/** A unit of hand-off between stages. `id` is unique per batch, stable across re-sends of the same batch. */
export interface SeriesBatch {
  readonly id: string;
  readonly points: readonly SeriesPoint[];
}

/** The outcome of handing a batch to a stage. A failure names exactly the points it did not take. */
export type ConsumeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: Error; readonly failed: readonly SeriesPoint[] };

/** A stage that takes batches in the internal representation (the ClickHouse exporter is one). */
export interface SeriesBatchConsumer {
  consumeBatch(batch: SeriesBatch): Promise<ConsumeResult>;
  forceFlush?(): Promise<void>;
  shutdown?(): Promise<void>;
}

// ---- Input side: what the SDK adapter and the OTLP decoder produce ----

export interface InputPoint<K extends PointKind = PointKind> {
  /** Raw point attributes, possibly carrying the tenant attribute. */
  readonly attributes: Attributes;
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: PointValueByKind[K];
  /** At most `MAX_EXEMPLARS_PER_POINT`, oldest first (the decoders keep a point's most recent). */
  readonly exemplars?: readonly Exemplar[];
}

export interface InputMetric<K extends PointKind = PointKind> {
  readonly metric: MetricInfo & { readonly kind: K };
  /** Sums and histograms; gauges and summaries ignore it. */
  readonly temporality: Temporality;
  readonly points: readonly InputPoint<K>[];
}

export interface InputScopeMetrics {
  readonly scope: InstrumentationScopeInfo;
  readonly metrics: readonly InputMetric[];
}

export interface InputResourceMetrics {
  /** All resource attributes of the source; identity keeps only the configured ones. */
  readonly resource: Attributes;
  /** `ResourceMetrics.schema_url`; absent when empty. */
  readonly schemaUrl?: string;
  readonly scopeMetrics: readonly InputScopeMetrics[];
}

/** One request's worth of input (one SDK export, one OTLP request). */
export interface InputBatch {
  readonly resourceMetrics: readonly InputResourceMetrics[];
}

export function isSeriesBatchConsumer(value: unknown): value is SeriesBatchConsumer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<SeriesBatchConsumer>).consumeBatch === 'function'
  );
}
