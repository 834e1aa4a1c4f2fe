/**
 * One app instance: a plain OpenTelemetry SDK app that knows nothing about Tallyhouse. It exports with the
 * stock OTLP/HTTP exporter and names its tenant in the `x-tenant-id` request header; the collector does the rest.
 *
 * Configured by env (set by main.ts): APP_TENANT, APP_INSTANCE, APP_OTLP_URL, APP_ENCODING (json | protobuf),
 * APP_TEMPORALITY (cumulative | delta). Prints one JSON line: what it recorded (`RecordedUsage`).
 */
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
  type OTLPMetricExporterOptions,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPMetricProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

/** What one instance recorded; main.ts adds these up per tenant and compares with ClickHouse. */
export interface RecordedUsage {
  readonly tenant: string;
  readonly instance: string;
  readonly requests: number;
  readonly latencyObservations: number;
  /** The last value of this instance's `storage.used` gauge. */
  readonly storageUsed: number;
}

const tenant = process.env.APP_TENANT ?? 'acme';
const instance = process.env.APP_INSTANCE ?? '1';
const options: OTLPMetricExporterOptions & { url: string } = {
  url: process.env.APP_OTLP_URL ?? 'http://127.0.0.1:4318/v1/metrics',
  // The collector's tenant comes from this header (TALLYHOUSE_TENANT_HEADER), never from the payload.
  headers: { 'x-tenant-id': tenant },
  temporalityPreference:
    process.env.APP_TEMPORALITY === 'delta'
      ? AggregationTemporalityPreference.DELTA
      : AggregationTemporalityPreference.CUMULATIVE,
};
// Both stock exporters: exporter-metrics-otlp-http sends JSON, exporter-metrics-otlp-proto protobuf.
const exporter =
  process.env.APP_ENCODING === 'protobuf'
    ? new OTLPMetricProtobufExporter(options)
    : new OTLPMetricExporter(options);

const provider = new MeterProvider({
  resource: resourceFromAttributes({ 'service.name': 'docs-api', 'service.instance.id': instance }),
  readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 500 })],
});
const meter = provider.getMeter('docs-api', '1.0.0');
const requests = meter.createCounter('api.requests', {
  unit: '{request}',
  description: 'API requests served',
});
const latency = meter.createHistogram('api.latency', { unit: 'ms', description: 'API latency' });
const storage = meter.createGauge('storage.used', { unit: 'By', description: 'Bytes stored' });

// A small deterministic workload, spread over ~1.5 s so the periodic reader exports several times.
let seed = [...`${tenant}/${instance}`].reduce((hash, char) => Math.imul(hash, 31) + char.charCodeAt(0), 7);
const random = () => {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0; // 32-bit LCG: exact in integer arithmetic
  return seed / 2 ** 32;
};
let served = 0;
let observations = 0;
let storageUsed = 0;
for (let round = 0; round < 5; round++) {
  const calls = 10 + Math.floor(random() * 40);
  for (let call = 0; call < calls; call++) {
    const route = ['/documents', '/search', '/export'][call % 3] ?? '/';
    requests.add(1, { route, 'http.method': call % 4 === 0 ? 'POST' : 'GET' });
    latency.record(Math.round(5 + random() * 250), { route });
    served += 1;
    observations += 1;
  }
  storageUsed = 1_000_000 + Math.floor(random() * 1_000) * 1_024;
  storage.record(storageUsed, { instance });
  await new Promise((resolve) => setTimeout(resolve, 300));
}
// Shutdown exports what is left; a failed export makes it reject, and this process exit non-zero.
await provider.shutdown();

const recorded: RecordedUsage = {
  tenant,
  instance,
  requests: served,
  latencyObservations: observations,
  storageUsed,
};
console.log(JSON.stringify(recorded));
