/**
 * Pre-encoded OTLP/HTTP protobuf requests for the end-to-end benchmark, produced by the real SDK and the
 * stock serializer: per tenant, a few variants of one delta-sum export with `pointsPerRequest` points of
 * 5 attributes each. Every point's value is a small integer, so the sum of what was sent is exact.
 */
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

export interface Payload {
  readonly tenant: string;
  readonly body: Uint8Array;
  readonly points: number;
  /** Sum of every point's value in this request. */
  readonly valueSum: number;
}

class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export async function buildPayloads(options: {
  tenants: number;
  pointsPerRequest: number;
  variants: number;
}): Promise<Payload[]> {
  const payloads: Payload[] = [];
  for (let variant = 0; variant < options.variants; variant++) {
    for (let t = 0; t < options.tenants; t++) {
      const tenant = `tenant-${t}`;
      const reader = new CollectingReader({
        aggregationTemporalitySelector: () => AggregationTemporality.DELTA,
      });
      const provider = new MeterProvider({
        resource: resourceFromAttributes({
          'service.name': `api-${t % 3}`,
          'service.version': '1.4.2',
          'host.name': `node-${t}`,
        }),
        readers: [reader],
      });
      const counter = provider
        .getMeter('tallyhouse-bench', '1.0.0')
        .createCounter('http.server.requests', { unit: '{request}' });
      let valueSum = 0;
      for (let i = 0; i < options.pointsPerRequest; i++) {
        const value = 1 + ((i + variant) % 7);
        counter.add(value, {
          'http.route': `/api/v1/resource-${i % 13}/${i}`,
          'http.method': ['GET', 'POST', 'PUT', 'DELETE'][i % 4]!,
          'http.status_code': [200, 201, 404, 500][i % 4]!,
          'cloud.region': ['eu-west-1', 'us-east-1'][i % 2]!,
          customer: `customer-${i % 50}`,
        });
        valueSum += value;
      }
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new Error(`collect failed: ${String(errors[0])}`);
      await provider.shutdown();
      const body = ProtobufMetricsSerializer.serializeRequest(resourceMetrics);
      if (body === undefined) throw new Error('the protobuf serializer returned nothing');
      payloads.push({ tenant, body, points: options.pointsPerRequest, valueSum });
    }
  }
  return payloads;
}
