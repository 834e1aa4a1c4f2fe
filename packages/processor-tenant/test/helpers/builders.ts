import type {
  Attributes,
  ExponentialHistogramValue,
  HistogramValue,
  InputBatch,
  InputMetric,
  InputPoint,
  InstrumentationScopeInfo,
  MetricInfo,
  PointKind,
  PointValueByKind,
  SeriesPoint,
  Temporality,
} from '@tallyhouse/model';
import { fullSeriesKey } from '../../src/series-identity.ts';

/** Builders that keep golden scenarios and unit tests short enough to read as a spec. */

export const SCOPE: InstrumentationScopeInfo = { name: 'app', version: '1.0.0' };
export const CHECKOUT: Attributes = { 'service.name': 'checkout' };

export function metricInfo<K extends PointKind>(
  kind: K,
  name: string,
  options: { unit?: string; monotonic?: boolean; description?: string } = {},
): MetricInfo & { kind: K } {
  return {
    name,
    description: options.description ?? '',
    unit: options.unit ?? '',
    kind,
    monotonic: options.monotonic ?? kind === 'sum',
  };
}

export const REQUESTS = metricInfo('sum', 'http.requests', { unit: '{request}', monotonic: true });
export const QUEUE_DEPTH = metricInfo('sum', 'queue.depth', { unit: '{item}', monotonic: false });
export const TEMPERATURE = metricInfo('gauge', 'room.temperature', { unit: 'Cel', monotonic: false });
export const LATENCY = metricInfo('histogram', 'http.latency', { unit: 'ms', monotonic: false });
export const EXPO_LATENCY = metricInfo('exponentialHistogram', 'rpc.latency', {
  unit: 'ms',
  monotonic: false,
});

export function point<K extends PointKind>(
  attributes: Attributes,
  start: bigint,
  time: bigint,
  value: PointValueByKind[K],
): InputPoint<K> {
  return { attributes, startTimeUnixNano: start, timeUnixNano: time, value };
}

export function sumPoint(
  attributes: Attributes,
  start: bigint,
  time: bigint,
  value: number,
): InputPoint<'sum'> {
  return point<'sum'>(attributes, start, time, { value });
}

export function gaugePoint(attributes: Attributes, time: bigint, value: number): InputPoint<'gauge'> {
  return point<'gauge'>(attributes, 0n, time, { value });
}

export function histogram(
  bounds: readonly number[],
  bucketCounts: readonly number[],
  sum: number,
  min?: number,
  max?: number,
): HistogramValue {
  return {
    count: bucketCounts.reduce((a, b) => a + b, 0),
    sum,
    bounds,
    bucketCounts,
    min,
    max,
  };
}

export function expoHistogram(
  scale: number,
  positive: { offset: number; bucketCounts: readonly number[] },
  options: {
    negative?: { offset: number; bucketCounts: readonly number[] };
    zeroCount?: number;
    sum?: number;
    min?: number;
    max?: number;
  } = {},
): ExponentialHistogramValue {
  const negative = options.negative ?? { offset: 0, bucketCounts: [] };
  const zeroCount = options.zeroCount ?? 0;
  const total = (counts: readonly number[]) => counts.reduce((a, b) => a + b, 0);
  return {
    count: total(positive.bucketCounts) + total(negative.bucketCounts) + zeroCount,
    sum: options.sum ?? 0,
    scale,
    zeroCount,
    positive,
    negative,
    min: options.min,
    max: options.max,
  };
}

export function inputMetric<K extends PointKind>(
  metric: MetricInfo & { kind: K },
  temporality: Temporality,
  points: readonly InputPoint<K>[],
): InputMetric<K> {
  return { metric, temporality, points };
}

/** One input with one resource and one scope. */
export function batch(
  resource: Attributes,
  metrics: readonly InputMetric[],
  scope: InstrumentationScopeInfo = SCOPE,
): InputBatch {
  return { resourceMetrics: [{ resource, scopeMetrics: [{ scope, metrics }] }] };
}

/** The expected output point of a series, with every field spelled out. */
export function seriesPoint<K extends PointKind>(fields: {
  tenant: string;
  metric: MetricInfo & { kind: K };
  attributes?: Attributes;
  resource?: Attributes;
  scope?: InstrumentationScopeInfo;
  start: bigint;
  time: bigint;
  value: PointValueByKind[K];
}): SeriesPoint<K> {
  return {
    tenant: fields.tenant,
    resource: fields.resource ?? CHECKOUT,
    scope: fields.scope ?? SCOPE,
    metric: fields.metric,
    attributes: fields.attributes ?? {},
    startTimeUnixNano: fields.start,
    timeUnixNano: fields.time,
    value: fields.value,
  };
}

/** Points in a stable order (by full series identity), so golden comparisons do not depend on map order. */
export function sortedBySeries(points: readonly SeriesPoint[]): SeriesPoint[] {
  return [...points].sort((a, b) => {
    const ka = fullSeriesKey(a);
    const kb = fullSeriesKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
