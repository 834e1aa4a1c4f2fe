/**
 * Real OpenTelemetry SDK output for round-trip tests, and the `InputBatch` it must decode to.
 * The expected batch is derived from the SDK's own `ResourceMetrics`, independently of the decoders.
 */
import { type Attributes as ApiAttributes, type HrTime, ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import type { Attributes, AttributeValue, InputBatch, InputMetric, InputPoint } from '@tallyhouse/model';

class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export type TemporalityName = 'delta' | 'cumulative';

/** Runs `record` against a real MeterProvider and collects `rounds` times; returns each collection. */
export async function collectFromSdk(
  temporality: TemporalityName,
  record: (provider: MeterProvider, round: number) => void,
  options: { rounds?: number; views?: ViewOptions[]; resource?: ApiAttributes } = {},
): Promise<ResourceMetrics[]> {
  const reader = new CollectingReader({
    aggregationTemporalitySelector: () =>
      temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes(options.resource ?? { 'service.name': 'checkout', 'host.cores': 8 }),
    readers: [reader],
    views: options.views ?? [],
  });
  const out: ResourceMetrics[] = [];
  for (let round = 0; round < (options.rounds ?? 1); round++) {
    record(provider, round);
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw new Error(`collection failed: ${String(errors[0])}`);
    out.push(resourceMetrics);
  }
  await provider.shutdown();
  return out;
}

/** A view that turns the named histogram into an exponential histogram. */
export function exponentialView(instrumentName: string, maxSize = 160): ViewOptions {
  return {
    instrumentName,
    aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize } },
  };
}

export function hrTimeToNanos(time: HrTime): bigint {
  return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
}

function expectedValue(value: unknown): AttributeValue {
  if (Array.isArray(value)) return value.map(expectedValue);
  if (value === undefined) return null;
  return value as AttributeValue;
}

function expectedAttributes(attributes: ApiAttributes): Attributes {
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) out[key] = expectedValue(value);
  return out;
}

/** What a decoder must produce for one SDK export. */
export function expectedBatch(resourceMetrics: ResourceMetrics): InputBatch {
  const scopeMetrics = resourceMetrics.scopeMetrics
    .map((sm) => ({
      scope: { name: sm.scope.name, version: sm.scope.version ?? '' },
      metrics: sm.metrics
        .filter((m) => m.dataPoints.length > 0)
        .map((m): InputMetric => {
          const kind =
            m.dataPointType === DataPointType.SUM
              ? 'sum'
              : m.dataPointType === DataPointType.GAUGE
                ? 'gauge'
                : m.dataPointType === DataPointType.HISTOGRAM
                  ? 'histogram'
                  : 'exponentialHistogram';
          const points = (
            m.dataPoints as {
              startTime: HrTime;
              endTime: HrTime;
              attributes: ApiAttributes;
              value: unknown;
            }[]
          ).map(
            (dp): InputPoint => ({
              attributes: expectedAttributes(dp.attributes),
              startTimeUnixNano: hrTimeToNanos(dp.startTime),
              timeUnixNano: hrTimeToNanos(dp.endTime),
              value: expectedPointValue(kind, dp.value),
            }),
          );
          return {
            metric: {
              name: m.descriptor.name,
              description: m.descriptor.description,
              unit: m.descriptor.unit,
              kind,
              monotonic: m.dataPointType === DataPointType.SUM && m.isMonotonic,
            },
            temporality:
              kind === 'gauge'
                ? 'cumulative'
                : m.aggregationTemporality === AggregationTemporality.DELTA
                  ? 'delta'
                  : 'cumulative',
            points,
          } as InputMetric;
        }),
    }))
    .filter((sm) => sm.metrics.length > 0);
  if (scopeMetrics.length === 0) return { resourceMetrics: [] };
  return {
    resourceMetrics: [{ resource: expectedAttributes(resourceMetrics.resource.attributes), scopeMetrics }],
  };
}

function expectedPointValue(kind: string, value: unknown): InputPoint['value'] {
  if (kind === 'sum' || kind === 'gauge') return { value: value as number };
  if (kind === 'histogram') {
    const h = value as {
      count: number;
      sum?: number;
      min?: number;
      max?: number;
      buckets: { boundaries: number[]; counts: number[] };
    };
    return {
      count: h.count,
      sum: h.sum as number,
      bounds: h.buckets.boundaries,
      bucketCounts: h.buckets.counts,
      min: h.min,
      max: h.max,
    };
  }
  const e = value as {
    count: number;
    sum?: number;
    scale: number;
    zeroCount: number;
    positive: { offset: number; bucketCounts: number[] };
    negative: { offset: number; bucketCounts: number[] };
    min?: number;
    max?: number;
  };
  return {
    count: e.count,
    sum: e.sum as number,
    scale: e.scale,
    zeroCount: e.zeroCount,
    positive: { offset: e.positive.offset, bucketCounts: e.positive.bucketCounts },
    negative: { offset: e.negative.offset, bucketCounts: e.negative.bucketCounts },
    min: e.min,
    max: e.max,
  };
}

/** Records one of everything: every instrument kind, int and double values, every attribute kind. */
export function recordEverything(provider: MeterProvider, round: number): void {
  const meter = provider.getMeter('billing', '1.2.3');
  const plain = provider.getMeter('no-version');
  const requests = meter.createCounter('http.requests', {
    description: 'Requests served',
    unit: '{request}',
    valueType: ValueType.INT,
  });
  requests.add(3 + round, { 'tenant.id': 'acme', route: '/a', ok: true, code: 200 });
  requests.add(1, { 'tenant.id': 'zeta', route: '/b', ok: false, code: -1, ratio: 0.25 });
  requests.add(2, { tags: ['x', 'y'], counts: [1, 2, 3], flags: [true, false], ratios: [0.5, 1.5] });
  requests.add(Number.MAX_SAFE_INTEGER - 10, { big: Number.MAX_SAFE_INTEGER, neg: -(2 ** 40), empty: '' });
  const bytes = meter.createCounter('egress.bytes', { unit: 'By' });
  bytes.add(1.5 + round, { 'tenant.id': 'acme', unicode: 'grüße 🚀' });
  const queue = meter.createUpDownCounter('queue.depth', { valueType: ValueType.INT });
  queue.add(5);
  queue.add(-7 - round, { shard: 2 });
  const temperature = meter.createGauge('room.temperature', { unit: 'Cel' });
  temperature.record(21.5 + round, { room: 'a' });
  temperature.record(-3, { room: 'b' });
  const latency = meter.createHistogram('http.latency', {
    unit: 'ms',
    advice: { explicitBucketBoundaries: [1, 10, 100] },
  });
  latency.record(0.5, { route: '/a' });
  latency.record(50 + round, { route: '/a' });
  latency.record(5000, { route: '/b' });
  const sizes = meter.createHistogram('payload.size', { unit: 'By' });
  for (const v of [0, 1, 2, 3, 100, 1e6, 0.001]) sizes.record(v * (round + 1), { kind: 'json' });
  const noBuckets = plain.createHistogram('plain.histogram', { advice: { explicitBucketBoundaries: [] } });
  noBuckets.record(4);
  noBuckets.record(6);
  const signed = meter.createUpDownCounter('balance');
  signed.add(-0.75, { account: 'a' });
  plain.createObservableGauge('cpu.usage').addCallback((result) => {
    result.observe(0.42 + round, { cpu: 0 });
    result.observe(0.58, { cpu: 1 });
  });
  plain.createObservableCounter('page.faults', { valueType: ValueType.INT }).addCallback((result) => {
    result.observe(1000 * (round + 1));
  });
}

export const EVERYTHING_VIEWS: ViewOptions[] = [exponentialView('payload.size')];
