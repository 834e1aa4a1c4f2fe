/**
 * Micro-benchmark: OTLP/HTTP request decoding throughput in data points per second.
 * Payloads come from the real OpenTelemetry SDK and the real OTLP serializers (what stock exporters send):
 * 1000 points with 5 attributes each (tenant, route, method, status code, region).
 *
 * Run alone: `node --conditions=@tallyhouse/source bench/decode.ts` (from packages/collector).
 */
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestProtobuf,
} from '../src/otlp/index.ts';

export interface DecodeBenchRow {
  readonly name: string;
  readonly dataPoints: number;
  readonly payloadBytes: number;
  readonly pointsPerSecond: number;
  readonly megabytesPerSecond: number;
}

class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const POINTS = 1000;

async function realisticExport(kind: 'sum' | 'histogram'): Promise<ResourceMetrics> {
  const reader = new CollectingReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'api',
      'service.version': '1.4.2',
      'host.name': 'node-7',
    }),
    readers: [reader],
  });
  const meter = provider.getMeter('tallyhouse-bench', '1.0.0');
  const counter = meter.createCounter('http.server.requests', { unit: '{request}' });
  const histogram = meter.createHistogram('http.server.duration', { unit: 'ms' });
  for (let i = 0; i < POINTS; i++) {
    const attributes = {
      'tenant.id': `tenant-${i % 97}`,
      'http.route': `/api/v1/resource-${i % 13}/${i}`,
      'http.method': ['GET', 'POST', 'PUT', 'DELETE'][i % 4]!,
      'http.status_code': [200, 201, 404, 500][i % 4]!,
      'cloud.region': ['eu-west-1', 'us-east-1'][i % 2]!,
    };
    if (kind === 'sum') counter.add(1 + (i % 7), attributes);
    else histogram.record(i % 1000, attributes);
  }
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics;
}

function measure(name: string, payloadBytes: number, decodeOnce: () => number): DecodeBenchRow {
  // Warm up so the JIT has optimised the decoder before timing.
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) decodeOnce();
  let iterations = 0;
  let points = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < 1000) {
    points += decodeOnce();
    iterations++;
    elapsed = performance.now() - start;
  }
  const seconds = elapsed / 1000;
  return {
    name,
    dataPoints: points / iterations,
    payloadBytes,
    pointsPerSecond: points / seconds,
    megabytesPerSecond: (payloadBytes * iterations) / seconds / 1e6,
  };
}

function formatRow(row: DecodeBenchRow): string {
  const pps = Math.round(row.pointsPerSecond).toLocaleString('en-US');
  return `| ${row.name.padEnd(44)} | ${String(row.dataPoints).padStart(6)} pts | ${String(row.payloadBytes).padStart(7)} B | ${pps.padStart(11)} pts/s | ${row.megabytesPerSecond.toFixed(1).padStart(6)} MB/s |`;
}

/** Measures decode throughput and prints one table row per payload; returns the rows. */
export async function benchDecode(): Promise<DecodeBenchRow[]> {
  const rows: DecodeBenchRow[] = [];
  for (const kind of ['sum', 'histogram'] as const) {
    const rm = await realisticExport(kind);
    const protobufBytes = ProtobufMetricsSerializer.serializeRequest(rm)!;
    const jsonText = new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(rm)!);
    rows.push(
      measure(
        `otlp decode protobuf, ${kind}, 5 attributes`,
        protobufBytes.length,
        () => decodeExportMetricsServiceRequestProtobuf(protobufBytes).acceptedDataPoints,
      ),
      measure(
        `otlp decode json, ${kind}, 5 attributes`,
        Buffer.byteLength(jsonText),
        () => decodeExportMetricsServiceRequestJson(jsonText).acceptedDataPoints,
      ),
    );
  }
  for (const row of rows) console.log(formatRow(row));
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  await benchDecode();
}
