/**
 * A real OTel SDK app for the chaos tests that counts exactly what the collector acknowledged:
 *
 *   node --conditions=@tallyhouse/source test/chaos/tallying-app.ts --url=... --tenant=acme \
 *     --service=acme-1 --temporality=delta|cumulative [--interval-ms=40]
 *
 * It adds to a counter (two streams) every round and exports with the stock OTLP/HTTP JSON exporter (its own
 * retries and timeouts). A wrapper sees every export's outcome: on SUCCESS a delta value is added to the
 * tally; for cumulative the last successfully exported value per stream is the truth. A delta export that
 * FAILED is kept aside as in doubt: the collector may have counted it (it logged and acknowledged the request,
 * then was killed before its answer went out, and every retry of the client then failed within its timeout) —
 * whole or not at all. On SIGTERM it stops recording, exports until one export succeeds (bounded), and prints
 * the tally as one JSON line.
 */
import { parseArgs } from 'node:util';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
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
    'interval-ms': { type: 'string', default: '40' },
  },
});
const url = values.url ?? '';
const tenant = values.tenant ?? '';
const service = values.service ?? tenant;
const cumulative = values.temporality === 'cumulative';
const intervalMs = Number(values['interval-ms']);

/** `metric route` → value (delta: sum of acknowledged; cumulative: last acknowledged). */
const streams: Record<string, number> = {};
/** Failed delta exports, each as `metric route` → value. */
const inDoubt: Record<string, number>[] = [];
const stats = { exports: 0, succeeded: 0, failed: 0 };

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
        if (!cumulative && Object.values(values).some((value) => value !== 0)) inDoubt.push(values);
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

const exporter = new TallyingExporter(
  new OTLPMetricExporter({
    url,
    headers: { 'x-tenant-id': tenant },
    temporalityPreference: cumulative
      ? AggregationTemporalityPreference.CUMULATIVE
      : AggregationTemporalityPreference.DELTA,
    timeoutMillis: 4_000,
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
// Final exports: until one succeeds, so a cumulative stream's last value reaches storage (bounded).
const before = stats.succeeded;
for (let attempt = 0; attempt < 20 && stats.succeeded === before; attempt++) {
  requests.add(0, { route: '/a' }); // keeps a delta export from being empty
  await provider.forceFlush();
  if (stats.succeeded === before) await new Promise((resolve) => setTimeout(resolve, 250));
}
const totals: Record<string, number> = {};
for (const [key, value] of Object.entries(streams)) {
  const metric = key.slice(0, key.indexOf(' '));
  totals[metric] = (totals[metric] ?? 0) + value;
}
const temporality = cumulative ? 'cumulative' : 'delta';
console.log(JSON.stringify({ tenant, service, temporality, totals, streams, inDoubt, stats }));
process.exit(0);
