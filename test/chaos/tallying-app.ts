/**
 * A real OTel SDK app for the chaos tests that counts exactly what the collector acknowledged:
 *
 *   node --conditions=@tallyhouse/source test/chaos/tallying-app.ts --url=... --tenant=acme \
 *     --service=acme-1 --temporality=delta|cumulative [--protocol=http|http-protobuf|grpc] [--interval-ms=40]
 *
 * It adds to a counter (two streams) every round and exports with a stock OTLP exporter, 4 s timeout: `http`
 * (default) the OTLP/HTTP JSON one (`--url=http://host:port/v1/metrics`, tenant in the `x-tenant-id` header; it
 * retries network errors and 429/502/503/504 within its timeout), `http-protobuf` the OTLP/HTTP protobuf one (the
 * same, in protobuf), `grpc` the OTLP/gRPC one over grpc-js
 * (`--url=http://host:grpcPort`, tenant in the `x-tenant-id` metadata; it retries nothing: a call that fails
 * fails the export). A wrapper sees every export's outcome: on SUCCESS a delta value is added to the tally; for
 * cumulative the last successfully exported value per stream is the truth. A delta export that FAILED is kept
 * aside as in doubt: the collector may have counted it (it logged and acknowledged the request, then was killed
 * before its answer went out, and — over HTTP — every retry then failed within the timeout) — whole or not at
 * all. One failure is certain, not in doubt: grpc-js answering UNAVAILABLE "No connection established" (the
 * channel had no connection, so the call never left the client); it is counted as `unsent`, and storage must not
 * hold it. On SIGTERM it stops recording, exports until one export succeeds (bounded), and prints the tally as
 * one JSON line.
 */
import { parseArgs } from 'node:util';
import { status as GrpcStatus, Metadata } from '@grpc/grpc-js';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter as OTLPGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter as OTLPHttpMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    tenant: { type: 'string' },
    service: { type: 'string' },
    temporality: { type: 'string', default: 'delta' },
    protocol: { type: 'string', default: 'http' },
    'interval-ms': { type: 'string', default: '40' },
  },
});
const url = values.url ?? '';
const tenant = values.tenant ?? '';
const service = values.service ?? tenant;
const cumulative = values.temporality === 'cumulative';
const protocol = values.protocol;
if (protocol !== 'http' && protocol !== 'http-protobuf' && protocol !== 'grpc')
  throw new Error(`--protocol=http|http-protobuf|grpc, not ${protocol}`);
const intervalMs = Number(values['interval-ms']);

/** `metric route` → value (delta: sum of acknowledged; cumulative: last acknowledged). */
const streams: Record<string, number> = {};
/** Failed delta exports, each as `metric route` → value. */
const inDoubt: Record<string, number>[] = [];
/** `unsent`: failed exports that never left the client (of `failed`; not in doubt). */
const stats = { exports: 0, succeeded: 0, failed: 0, unsent: 0 };
/** Failed exports by their error's message (its first line, numbers masked), for the report. */
const failures: Record<string, number> = {};

function exportedValues(metrics: ResourceMetrics): Record<string, number> {
  const values: Record<string, number> = {};
  for (const scope of metrics.scopeMetrics)
    for (const metric of scope.metrics) {
      if (metric.dataPointType !== DataPointType.SUM) continue;
      for (const point of metric.dataPoints) {
        const key = `${metric.descriptor.name} ${String(point.attributes.route)}`;
        values[key] = (values[key] ?? 0) + (point.value as number);
      }
    }
  return values;
}

/**
 * Whether a failed export certainly never reached the collector: grpc-js fails a call with UNAVAILABLE "No
 * connection established" when its channel's picker has no connection to hand it to (the stock gRPC exporter
 * does not retry, and grpc-js retries on its own only calls the server did not process, so this status is the
 * whole story). Over HTTP the exporter's last error says nothing about its earlier attempts: never.
 */
function neverSent(error: Error | undefined): boolean {
  if (protocol !== 'grpc' || error === undefined) return false;
  const { code, details } = error as Error & { code?: unknown; details?: unknown };
  return (
    code === GrpcStatus.UNAVAILABLE &&
    typeof details === 'string' &&
    details.startsWith('No connection established')
  );
}

class TallyingExporter implements PushMetricExporter {
  private readonly inner: PushMetricExporter;

  constructor(inner: PushMetricExporter) {
    this.inner = inner;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    stats.exports++;
    this.inner.export(metrics, (result) => {
      const values = exportedValues(metrics);
      if (result.code === ExportResultCode.SUCCESS) {
        stats.succeeded++;
        for (const [key, value] of Object.entries(values))
          streams[key] = cumulative ? value : (streams[key] ?? 0) + value;
      } else {
        stats.failed++;
        const reason = (result.error?.message ?? 'no error')
          .split('\n')[0]!
          .replace(/\d+/g, 'N')
          .slice(0, 100);
        failures[reason] = (failures[reason] ?? 0) + 1;
        if (neverSent(result.error)) stats.unsent++;
        else if (!cumulative && Object.values(values).some((value) => value !== 0)) inDoubt.push(values);
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality?.(instrumentType) ?? AggregationTemporality.CUMULATIVE;
  }
}

const temporalityPreference = cumulative
  ? AggregationTemporalityPreference.CUMULATIVE
  : AggregationTemporalityPreference.DELTA;
const timeoutMillis = 4_000;
function grpcExporter(): PushMetricExporter {
  const metadata = new Metadata();
  metadata.set('x-tenant-id', tenant);
  return new OTLPGrpcMetricExporter({ url, metadata, temporalityPreference, timeoutMillis });
}
const exporter = new TallyingExporter(
  protocol === 'grpc'
    ? grpcExporter()
    : new (protocol === 'http-protobuf' ? OTLPProtobufMetricExporter : OTLPHttpMetricExporter)({
        url,
        headers: { 'x-tenant-id': tenant },
        temporalityPreference,
        timeoutMillis,
      }),
);
const provider = new MeterProvider({
  resource: resourceFromAttributes({ 'service.name': service }),
  readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
});
const requests = provider.getMeter('chaos').createCounter('chaos.requests', { unit: '{request}' });

let stopping = false;
process.once('SIGTERM', () => {
  stopping = true;
});

const seed = [...service].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) % 1009, 7);
for (let round = 0; !stopping && round < 1_000_000; round++) {
  requests.add(1 + ((round + seed) % 7), { route: '/a' });
  requests.add(1 + ((round * 3 + seed) % 5), { route: '/b' });
  await provider.forceFlush();
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
// Final exports: until one succeeds, so a cumulative stream's last value reaches storage (bounded). A gRPC
// channel reconnects only when its backoff ends (grpc-js: 1 s, ×1.6 per failed attempt, reset by a connection);
// after a run of kills that can be tens of seconds, while its calls fail at once.
const before = stats.succeeded;
const finalStarted = performance.now();
while (stats.succeeded === before && performance.now() - finalStarted < 60_000) {
  requests.add(0, { route: '/a' }); // keeps a delta export from being empty
  await provider.forceFlush();
  if (stats.succeeded === before) await new Promise((resolve) => setTimeout(resolve, 250));
}
const finalMs = Math.round(performance.now() - finalStarted);
const totals: Record<string, number> = {};
for (const [key, value] of Object.entries(streams)) {
  const metric = key.slice(0, key.indexOf(' '));
  totals[metric] = (totals[metric] ?? 0) + value;
}
const temporality = cumulative ? 'cumulative' : 'delta';
console.log(
  JSON.stringify({
    tenant,
    service,
    temporality,
    protocol,
    totals,
    streams,
    inDoubt,
    stats,
    failures,
    finalMs,
  }),
);
process.exit(0);
