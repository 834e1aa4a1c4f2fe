/**
 * The fuzzer's own model of an OTLP `ExportMetricsServiceRequest` — closer to the wire than the collector's
 * `InputBatch` (raw enum values, absent vs. present fields, flags, summaries, int64 attribute values) — and
 * the documented acceptance rules applied to it, written independently of the collector's decoders:
 * which points a correct collector accepts, rejects or skips, and what an accepted point becomes.
 */
import type { AttributeValue, PointKind, PointValue } from '@tallyhouse/model';

export type AnyValue =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'double'; readonly value: number }
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  | { readonly kind: 'array'; readonly values: readonly AnyValue[] }
  | { readonly kind: 'kvlist'; readonly values: readonly KeyValue[] }
  /** An `AnyValue` message with no field set. */
  | { readonly kind: 'empty' };

/** `value` undefined: the KeyValue carries no `value` message at all. */
export interface KeyValue {
  readonly key: string;
  readonly value: AnyValue | undefined;
}

export interface PointCommon {
  readonly attributes: readonly KeyValue[];
  /** undefined: field absent (0). */
  readonly start: bigint | undefined;
  readonly time: bigint | undefined;
  readonly flags: number;
}

export type NumberValue = { readonly asDouble: number } | { readonly asInt: bigint } | undefined;

export interface NumberPoint extends PointCommon {
  readonly value: NumberValue;
}

export interface HistogramPoint extends PointCommon {
  readonly count: bigint;
  readonly sum: number | undefined;
  readonly bucketCounts: readonly bigint[];
  readonly bounds: readonly number[];
  readonly min: number | undefined;
  readonly max: number | undefined;
}

export interface Buckets {
  readonly offset: number;
  readonly counts: readonly bigint[];
}

export interface ExponentialPoint extends PointCommon {
  readonly count: bigint;
  readonly sum: number | undefined;
  readonly scale: number;
  readonly zeroCount: bigint;
  readonly positive: Buckets | undefined;
  readonly negative: Buckets | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly zeroThreshold: number | undefined;
}

export interface SummaryPoint extends PointCommon {
  readonly count: bigint;
  readonly sum: number;
  readonly quantiles: readonly { readonly quantile: number; readonly value: number }[];
}

export type MetricData =
  | { readonly kind: 'gauge'; readonly points: readonly NumberPoint[] }
  | {
      readonly kind: 'sum';
      readonly temporality: number;
      readonly monotonic: boolean;
      readonly points: readonly NumberPoint[];
    }
  | { readonly kind: 'histogram'; readonly temporality: number; readonly points: readonly HistogramPoint[] }
  | {
      readonly kind: 'exponentialHistogram';
      readonly temporality: number;
      readonly points: readonly ExponentialPoint[];
    }
  | { readonly kind: 'summary'; readonly points: readonly SummaryPoint[] }
  /** A Metric message without any data field. */
  | { readonly kind: 'none' };

export interface Metric {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly data: MetricData;
  /** `Metric.metadata` (repeated KeyValue, field 12): skipped by the collector. */
  readonly metadata: readonly KeyValue[];
}

export interface Scope {
  readonly name: string;
  readonly version: string;
  readonly attributes: readonly KeyValue[];
  readonly metrics: readonly Metric[];
  readonly schemaUrl: string;
}

export interface Resource {
  readonly attributes: readonly KeyValue[];
  readonly scopes: readonly Scope[];
  readonly schemaUrl: string;
}

export interface Request {
  readonly resources: readonly Resource[];
}

export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;
/**
 * The last time a point may carry (start or observation): 2106-02-07T06:28:15.999999999Z, where ClickHouse's
 * `DateTime` ends (the rollups bucket by it). Later times are rejected point by point (point-acceptance.ts).
 */
export const MAX_TIME_NS = 4_294_967_295_999_999_999n;
const FLAG_NO_RECORDED_VALUE = 1;

export type Table = 'sum' | 'gauge' | 'histogram' | 'exponential_histogram' | 'summary';

export const TABLE_OF_KIND: Record<PointKind, Table> = {
  sum: 'sum',
  gauge: 'gauge',
  histogram: 'histogram',
  exponentialHistogram: 'exponential_histogram',
  summary: 'summary',
};

// ---- attribute mapping (README-otlp "Mapping decisions") ----

/** What the decoders make of an `AnyValue`. */
export function attributeValueOf(value: AnyValue | undefined): AttributeValue {
  if (value === undefined) return null;
  switch (value.kind) {
    case 'string':
    case 'bool':
    case 'double':
      return value.value;
    case 'int': {
      const n = Number(value.value);
      return Number.isSafeInteger(n) ? n : value.value.toString();
    }
    case 'bytes':
      return Buffer.from(value.value).toString('base64');
    case 'array':
      return value.values.map(attributeValueOf);
    case 'kvlist':
      return attributesOf(value.values);
    case 'empty':
      return null;
  }
}

/** Attributes as the decoders build them (last duplicate wins); key order is irrelevant after `canon`. */
export function attributesOf(list: readonly KeyValue[]): { [key: string]: AttributeValue } {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list) {
    Object.defineProperty(out, kv.key, {
      value: attributeValueOf(kv.value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Canonical text of a decoded value: object keys sorted, `-0` as `0`, NaN and infinities tagged, so equal
 * identities (as the processor defines them) give equal text.
 */
export function canon(value: unknown): string {
  if (value === null || value === undefined) return value === null ? 'null' : 'undefined';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '"#NaN"';
    if (!Number.isFinite(value)) return value > 0 ? '"#Inf"' : '"#-Inf"';
    return Object.is(value, -0) ? '0' : String(value);
  }
  if (typeof value === 'bigint') return `"#${value}n"`;
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canon).join(',')}]`;
  const object = value as Record<string, unknown>;
  // An absent optional (min/max) and a missing key mean the same.
  const keys = Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canon(object[key])}`).join(',')}}`;
}

// ---- acceptance rules ----

export type Fate = 'accept' | 'reject' | 'skip';

/** A point the documented rules accept, in the collector's internal form, plus what the fuzzer knows of it. */
export interface AcceptedPoint {
  readonly kind: PointKind;
  readonly table: Table;
  readonly metricName: string;
  readonly unit: string;
  readonly description: string;
  readonly monotonic: boolean;
  readonly temporality: 'delta' | 'cumulative';
  readonly resource: { [key: string]: AttributeValue };
  readonly scope: { readonly name: string; readonly version: string };
  readonly attributes: { [key: string]: AttributeValue };
  readonly start: bigint;
  readonly time: bigint;
  readonly value: PointValue;
  /**
   * Valid OTLP whose fate the project has not settled (bucket indices past int32, non-finite min/max): a
   * collector may store it or reject it in `partial_success`, never acknowledge and lose it.
   */
  readonly uncertain: string | undefined;
}

/** Everything the documented rules say about one request. */
export interface Assessment {
  /** Points the decoder keeps, in request order (processor rejections included). */
  readonly decoded: readonly AcceptedPoint[];
  readonly decoderRejected: number;
  readonly skipped: number;
  /** Total data points in the request (all kinds, all fates). */
  readonly total: number;
}

const TEMPORALITY = { 1: 'delta', 2: 'cumulative' } as const;

function metricProblem(metric: Metric): boolean {
  const data = metric.data;
  if (data.kind === 'none') return false;
  if (metric.name === '') return true;
  // Gauges and summaries are readings: no temporality to check.
  if (data.kind === 'gauge' || data.kind === 'summary') return false;
  return data.temporality !== 1 && data.temporality !== 2;
}

function commonFate(point: PointCommon): Fate | undefined {
  if ((point.flags & FLAG_NO_RECORDED_VALUE) !== 0) return 'skip';
  if ((point.time ?? 0n) === 0n) return 'reject';
  if ((point.time ?? 0n) > MAX_TIME_NS || (point.start ?? 0n) > MAX_TIME_NS) return 'reject';
  return undefined;
}

function finite(value: number | undefined): boolean {
  return value === undefined || Number.isFinite(value);
}

/** The shared finite-value rule: a sum's NaN or ±Inf is refused; a gauge is a reading and kept as sent. */
function numberFate(kind: 'sum' | 'gauge', point: NumberPoint): Fate {
  const common = commonFate(point);
  if (common !== undefined) return common;
  if (point.value === undefined) return 'reject';
  if (kind === 'sum' && 'asDouble' in point.value && !Number.isFinite(point.value.asDouble)) return 'reject';
  return 'accept';
}

function histogramFate(point: HistogramPoint): Fate {
  const common = commonFate(point);
  if (common !== undefined) return common;
  if (point.count > MAX_SAFE) return 'reject';
  if (!finite(point.sum)) return 'reject';
  for (let i = 0; i < point.bounds.length; i++) {
    if (!Number.isFinite(point.bounds[i]!)) return 'reject';
    if (i > 0 && !(point.bounds[i]! > point.bounds[i - 1]!)) return 'reject';
  }
  const bare = point.bounds.length === 0 && point.bucketCounts.length === 0;
  if (!bare && point.bucketCounts.length !== point.bounds.length + 1) return 'reject';
  if (point.bucketCounts.some((c) => c > MAX_SAFE)) return 'reject';
  return 'accept';
}

function exponentialFate(point: ExponentialPoint): Fate {
  const common = commonFate(point);
  if (common !== undefined) return common;
  if (point.count > MAX_SAFE || point.zeroCount > MAX_SAFE) return 'reject';
  if (!finite(point.sum)) return 'reject';
  if (point.scale < -10 || point.scale > 20) return 'reject';
  for (const side of [point.positive, point.negative]) {
    if (side?.counts.some((c) => c > MAX_SAFE)) return 'reject';
  }
  return 'accept';
}

/** A summary is kept as sent (NaN sums included); its count must be exact and each quantile in [0, 1]. */
function summaryFate(point: SummaryPoint): Fate {
  const common = commonFate(point);
  if (common !== undefined) return common;
  if (point.count > MAX_SAFE) return 'reject';
  if (point.quantiles.some((q) => !(q.quantile >= 0 && q.quantile <= 1))) return 'reject';
  return 'accept';
}

function pointFate(data: MetricData, point: PointCommon): Fate {
  switch (data.kind) {
    case 'gauge':
    case 'sum':
      return numberFate(data.kind, point as NumberPoint);
    case 'histogram':
      return histogramFate(point as HistogramPoint);
    case 'exponentialHistogram':
      return exponentialFate(point as ExponentialPoint);
    case 'summary':
      return summaryFate(point as SummaryPoint);
    default:
      return 'reject';
  }
}

function pointValue(data: MetricData, point: PointCommon): PointValue {
  switch (data.kind) {
    case 'gauge':
    case 'sum': {
      const v = (point as NumberPoint).value!;
      return { value: 'asDouble' in v ? v.asDouble : Number(v.asInt) };
    }
    case 'histogram': {
      const h = point as HistogramPoint;
      const bare = h.bounds.length === 0 && h.bucketCounts.length === 0;
      return {
        count: Number(h.count),
        sum: h.sum ?? 0,
        bounds: [...h.bounds],
        bucketCounts: bare ? [Number(h.count)] : h.bucketCounts.map(Number),
        min: h.min,
        max: h.max,
      };
    }
    case 'exponentialHistogram': {
      const e = point as ExponentialPoint;
      const side = (b: Buckets | undefined) =>
        b === undefined
          ? { offset: 0, bucketCounts: [] }
          : { offset: b.offset, bucketCounts: b.counts.map(Number) };
      return {
        count: Number(e.count),
        sum: e.sum ?? 0,
        scale: e.scale,
        zeroCount: Number(e.zeroCount),
        positive: side(e.positive),
        negative: side(e.negative),
        min: e.min,
        max: e.max,
      };
    }
    case 'summary': {
      const s = point as SummaryPoint;
      return {
        count: Number(s.count),
        sum: s.sum,
        quantileValues: s.quantiles.map((q) => ({ quantile: q.quantile, value: q.value })),
      };
    }
    default:
      throw new Error(`no value for ${data.kind}`);
  }
}

function uncertainty(data: MetricData, point: PointCommon): string | undefined {
  if (data.kind === 'histogram' || data.kind === 'exponentialHistogram') {
    const h = point as HistogramPoint | ExponentialPoint;
    if (!finite(h.min) || !finite(h.max)) return 'non-finite min/max';
  }
  if (data.kind === 'exponentialHistogram') {
    const e = point as ExponentialPoint;
    for (const side of [e.positive, e.negative]) {
      if (side !== undefined && side.offset + side.counts.length - 1 > INT32_MAX) {
        return 'bucket index past int32';
      }
    }
  }
  return undefined;
}

/** Applies the documented decoder rules (README-otlp) to a request. */
export function assess(request: Request): Assessment {
  const decoded: AcceptedPoint[] = [];
  let decoderRejected = 0;
  let skipped = 0;
  let total = 0;
  for (const resource of request.resources) {
    const resourceAttributes = attributesOf(resource.attributes);
    for (const scope of resource.scopes) {
      for (const metric of scope.metrics) {
        const data = metric.data;
        if (data.kind === 'none') continue;
        total += data.points.length;
        const fates = data.points.map((point) => pointFate(data, point));
        if (metricProblem(metric)) {
          decoderRejected += fates.filter((f) => f !== 'skip').length;
          skipped += fates.filter((f) => f === 'skip').length;
          continue;
        }
        const kind = data.kind;
        data.points.forEach((point, i) => {
          const fate = fates[i]!;
          if (fate === 'skip') skipped++;
          else if (fate === 'reject') decoderRejected++;
          else {
            decoded.push({
              kind,
              table: TABLE_OF_KIND[kind],
              metricName: metric.name,
              unit: metric.unit,
              description: metric.description,
              monotonic: kind === 'sum' && data.monotonic,
              temporality:
                kind === 'gauge' || kind === 'summary'
                  ? 'cumulative'
                  : TEMPORALITY[(data as { temporality: 1 | 2 }).temporality],
              resource: resourceAttributes,
              scope: { name: scope.name, version: scope.version },
              attributes: attributesOf(point.attributes),
              start: point.start ?? 0n,
              time: point.time!,
              value: pointValue(data, point),
              uncertain: uncertainty(data, point),
            });
          }
        });
      }
    }
  }
  return { decoded, decoderRejected, skipped, total };
}

/**
 * Whether the processor refuses a decoded value (processor-tenant `valueProblem`: what storage would refuse).
 * The decoder already guarantees finite sums and safe counts; what is left are bucket totals past 2^53 - 1.
 */
export function processorRejects(kind: PointKind, value: PointValue): boolean {
  if (kind === 'histogram') {
    const h = value as { count: number; bucketCounts: readonly number[] };
    if (!Number.isSafeInteger(h.count) || h.count < 0) return true;
    return h.bucketCounts.reduce((a, b) => a + b, 0) > Number.MAX_SAFE_INTEGER;
  }
  if (kind === 'exponentialHistogram') {
    const e = value as {
      count: number;
      zeroCount: number;
      positive: { bucketCounts: readonly number[] };
      negative: { bucketCounts: readonly number[] };
    };
    if (!Number.isSafeInteger(e.count) || !Number.isSafeInteger(e.zeroCount)) return true;
    let total = e.zeroCount;
    for (const c of e.positive.bucketCounts) total += c;
    for (const c of e.negative.bucketCounts) total += c;
    return total > Number.MAX_SAFE_INTEGER;
  }
  if (kind === 'sum') return !Number.isFinite((value as { value: number }).value);
  return false;
}

/** One text per accepted point: what must come out of a decoder for it (for the differential check). */
export function pointText(point: Omit<AcceptedPoint, 'uncertain' | 'table'>): string {
  return canon({
    resource: point.resource,
    scope: [point.scope.name, point.scope.version],
    metric: [point.metricName, point.description, point.unit, point.kind, point.monotonic, point.temporality],
    attributes: point.attributes,
    start: point.start,
    time: point.time,
    value: point.value,
  });
}
