import { type HrTime, type Attributes as OtelAttributes, ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type {
  Attributes,
  ExponentialHistogramValue,
  HistogramValue,
  InputBatch,
  InputMetric,
  InputPoint,
  MetricInfo,
  PointKind,
  SeriesBatch,
  SeriesPoint,
} from '@tallyhouse/model';
import { encodeAttributes } from '@tallyhouse/model';

// The SDK edge: SDK `ResourceMetrics` in, the internal representation out, and back for SDK exporters.

const NANOS_PER_SECOND = 1_000_000_000n;

export function hrTimeToNanos(time: HrTime): bigint {
  return BigInt(time[0]) * NANOS_PER_SECOND + BigInt(time[1]);
}

export function nanosToHrTime(nanos: bigint): HrTime {
  return [Number(nanos / NANOS_PER_SECOND), Number(nanos % NANOS_PER_SECOND)];
}

/** `{ [key]: text }` when `text` is set and not empty, else nothing: the model leaves empty optional texts out. */
function optionalText<K extends string>(key: K, text: string | undefined): { [P in K]?: string } {
  return text === undefined || text === '' ? {} : ({ [key]: text } as { [P in K]?: string });
}

/** The kinds the SDK's `MetricData` can hold: it has no summaries (those come only from OTLP input). */
type SdkPointKind = Exclude<PointKind, 'summary'>;

const KIND_OF: Record<DataPointType, SdkPointKind> = {
  [DataPointType.SUM]: 'sum',
  [DataPointType.GAUGE]: 'gauge',
  [DataPointType.HISTOGRAM]: 'histogram',
  [DataPointType.EXPONENTIAL_HISTOGRAM]: 'exponentialHistogram',
};

/** Converts one SDK collection into the internal input form. Attribute objects are shared, not copied. */
export function fromResourceMetrics(resourceMetrics: ResourceMetrics): InputBatch {
  return {
    resourceMetrics: [
      {
        resource: resourceMetrics.resource.attributes as Attributes,
        ...optionalText('schemaUrl', resourceMetrics.resource.schemaUrl),
        scopeMetrics: resourceMetrics.scopeMetrics.map((scopeMetrics) => ({
          scope: {
            name: scopeMetrics.scope.name,
            version: scopeMetrics.scope.version ?? '',
            ...optionalText('schemaUrl', scopeMetrics.scope.schemaUrl),
          },
          metrics: scopeMetrics.metrics.map(fromMetricData),
        })),
      },
    ],
  };
}

function fromMetricData(data: MetricData): InputMetric {
  const kind = KIND_OF[data.dataPointType];
  const metric: MetricInfo = {
    name: data.descriptor.name,
    description: data.descriptor.description,
    unit: data.descriptor.unit,
    kind,
    monotonic: data.dataPointType === DataPointType.SUM ? data.isMonotonic : false,
  };
  const temporality =
    data.aggregationTemporality === AggregationTemporality.CUMULATIVE ? 'cumulative' : 'delta';
  const points: InputPoint[] = [];
  for (const point of data.dataPoints as DataPoint<unknown>[]) {
    points.push({
      attributes: point.attributes as Attributes,
      startTimeUnixNano: hrTimeToNanos(point.startTime),
      timeUnixNano: hrTimeToNanos(point.endTime),
      value: pointValue(kind, point.value),
    });
  }
  return { metric, temporality, points };
}

function pointValue(kind: SdkPointKind, value: unknown): InputPoint['value'] {
  switch (kind) {
    case 'sum':
    case 'gauge':
      return { value: value as number };
    case 'histogram': {
      const histogram = value as Histogram;
      return {
        count: histogram.count,
        sum: histogram.sum ?? 0,
        bounds: histogram.buckets.boundaries,
        bucketCounts: histogram.buckets.counts,
        min: histogram.min,
        max: histogram.max,
      } satisfies HistogramValue;
    }
    case 'exponentialHistogram': {
      const histogram = value as ExponentialHistogram;
      return {
        count: histogram.count,
        sum: histogram.sum ?? 0,
        scale: histogram.scale,
        zeroCount: histogram.zeroCount,
        positive: histogram.positive,
        negative: histogram.negative,
        min: histogram.min,
        max: histogram.max,
      } satisfies ExponentialHistogramValue;
    }
  }
}

export interface ResourceMetricsPart {
  readonly resourceMetrics: ResourceMetrics;
  /** The batch points this part carries, so a failed export call fails exactly these. */
  readonly points: readonly SeriesPoint[];
}

/**
 * Converts a batch back to SDK `ResourceMetrics` for a plain `PushMetricExporter`: one per kept resource,
 * the tenant restored as the `tenantAttribute` point attribute, sums as deltas.
 */
export function toResourceMetrics(
  batch: SeriesBatch,
  tenantAttribute: string,
): { readonly parts: ResourceMetricsPart[]; readonly summaries: readonly SeriesPoint[] } {
  const summaries: SeriesPoint[] = [];
  const byResource = new Map<
    string,
    { resource: Attributes; points: SeriesPoint[]; scopes: Map<string, Map<string, MetricData>> }
  >();
  for (const point of batch.points) {
    if (point.metric.kind === 'summary') {
      summaries.push(point);
      continue;
    }
    const sdkPoint = point as SeriesPoint<SdkPointKind>;
    const resourceKey = encodeAttributes(point.resource);
    let resource = byResource.get(resourceKey);
    if (resource === undefined) {
      resource = { resource: point.resource, points: [], scopes: new Map() };
      byResource.set(resourceKey, resource);
    }
    const scopeKey = JSON.stringify([point.scope.name, point.scope.version]);
    let metrics = resource.scopes.get(scopeKey);
    if (metrics === undefined) {
      metrics = new Map();
      resource.scopes.set(scopeKey, metrics);
    }
    const metricKey = JSON.stringify([
      point.metric.name,
      point.metric.unit,
      point.metric.kind,
      point.metric.monotonic,
    ]);
    let data = metrics.get(metricKey);
    if (data === undefined) {
      data = emptyMetricData(sdkPoint);
      metrics.set(metricKey, data);
    }
    (data.dataPoints as DataPoint<unknown>[]).push(toDataPoint(sdkPoint, tenantAttribute));
    resource.points.push(point);
  }
  const parts = [...byResource.values()].map(({ resource, points, scopes }) => ({
    points,
    resourceMetrics: {
      resource: resourceFromAttributes(resource as OtelAttributes),
      scopeMetrics: [...scopes].map(([scopeKey, metrics]): ScopeMetrics => {
        const [name, version] = JSON.parse(scopeKey) as [string, string];
        return { scope: version === '' ? { name } : { name, version }, metrics: [...metrics.values()] };
      }),
    },
  }));
  return { parts, summaries };
}

function emptyMetricData(point: SeriesPoint<SdkPointKind>): MetricData {
  const descriptor = {
    name: point.metric.name,
    description: point.metric.description,
    unit: point.metric.unit,
    valueType: ValueType.DOUBLE,
  };
  const aggregationTemporality = AggregationTemporality.DELTA;
  switch (point.metric.kind) {
    case 'sum':
      return {
        descriptor,
        aggregationTemporality,
        dataPointType: DataPointType.SUM,
        isMonotonic: point.metric.monotonic,
        dataPoints: [],
      };
    case 'gauge':
      return { descriptor, aggregationTemporality, dataPointType: DataPointType.GAUGE, dataPoints: [] };
    case 'histogram':
      return { descriptor, aggregationTemporality, dataPointType: DataPointType.HISTOGRAM, dataPoints: [] };
    case 'exponentialHistogram':
      return {
        descriptor,
        aggregationTemporality,
        dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
        dataPoints: [],
      };
  }
}

function toDataPoint(point: SeriesPoint<SdkPointKind>, tenantAttribute: string): DataPoint<unknown> {
  return {
    startTime: nanosToHrTime(point.startTimeUnixNano),
    endTime: nanosToHrTime(point.timeUnixNano),
    attributes: { ...(point.attributes as OtelAttributes), [tenantAttribute]: point.tenant },
    value: toSdkValue(point),
  };
}

function toSdkValue(point: SeriesPoint<SdkPointKind>): unknown {
  switch (point.metric.kind) {
    case 'sum':
    case 'gauge':
      return (point.value as { value: number }).value;
    case 'histogram': {
      const value = point.value as HistogramValue;
      return {
        buckets: { boundaries: [...value.bounds], counts: [...value.bucketCounts] },
        count: value.count,
        sum: value.sum,
        min: value.min,
        max: value.max,
      } satisfies Histogram;
    }
    case 'exponentialHistogram': {
      const value = point.value as ExponentialHistogramValue;
      return {
        count: value.count,
        sum: value.sum,
        scale: value.scale,
        zeroCount: value.zeroCount,
        positive: { offset: value.positive.offset, bucketCounts: [...value.positive.bucketCounts] },
        negative: { offset: value.negative.offset, bucketCounts: [...value.negative.bucketCounts] },
        min: value.min,
        max: value.max,
      } satisfies ExponentialHistogram;
    }
  }
}
