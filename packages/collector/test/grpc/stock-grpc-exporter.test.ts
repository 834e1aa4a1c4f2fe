/**
 * OTLP/gRPC with the stock `@opentelemetry/exporter-metrics-otlp-grpc` (grpc-js, as apps use it) against the real
 * collector and storage: delta and cumulative apps, several tenants — one with a non-ASCII name in the binary
 * `x-tenant-id-bin` metadata — land exactly: sum totals, histogram buckets, gauges.
 */
import { connect } from 'node:http2';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { HistogramValue, SeriesPoint } from '@tallyhouse/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/index.ts';
import { startCollector, storedPoints, tempDir } from '../support.ts';

const dir = tempDir('grpc-stock');
let collector: Collector;
let grpcPort: number;

beforeAll(async () => {
  ({ collector } = await startCollector(join(dir, 'data'), {
    collector: { grpcPort: 0 },
    env: { TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000' },
  }));
  grpcPort = collector.grpcPort!;
});

afterAll(async () => {
  await collector?.stop();
});

interface App {
  readonly provider: MeterProvider;
  readonly exporter: OTLPMetricExporter;
}

function app(
  service: string,
  tenant: { header?: string; binary?: string },
  temporality: 'delta' | 'cumulative',
): App {
  const metadata = new Metadata();
  if (tenant.header !== undefined) metadata.set('x-tenant-id', tenant.header);
  if (tenant.binary !== undefined) metadata.set('x-tenant-id-bin', Buffer.from(tenant.binary, 'utf8'));
  const exporter = new OTLPMetricExporter({
    url: `http://127.0.0.1:${grpcPort}`,
    metadata,
    temporalityPreference:
      temporality === 'delta'
        ? AggregationTemporalityPreference.DELTA
        : AggregationTemporalityPreference.CUMULATIVE,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
  });
  return { provider, exporter };
}

const sumOf = (points: SeriesPoint[], metric: string) =>
  points
    .filter((p) => p.metric.name === metric && p.metric.kind === 'sum')
    .reduce((total, p) => total + (p.value as { value: number }).value, 0);

describe('the stock OTLP/gRPC exporter', () => {
  it('delivers delta and cumulative sums, histograms and gauges of several tenants exactly', async () => {
    const apps = {
      acme: app('acme-delta', { header: 'acme' }, 'delta'),
      globex: app('globex-cumulative', { binary: 'globex-é' }, 'cumulative'),
      initech: app('initech-delta', { header: 'initech' }, 'delta'),
    };
    const expected: Record<string, number> = { acme: 0, 'globex-é': 0, initech: 0 };
    for (let round = 1; round <= 5; round++) {
      for (const [tenant, { provider }] of [
        ['acme', apps.acme],
        ['globex-é', apps.globex],
        ['initech', apps.initech],
      ] as const) {
        const meter = provider.getMeter('grpc-test');
        meter.createCounter('requests').add(round * 3, { route: '/a' });
        meter.createCounter('requests').add(round, { route: '/b' });
        meter
          .createHistogram('latency', { advice: { explicitBucketBoundaries: [10, 100] } })
          .record(round * 30);
        meter.createGauge('queue.depth').record(round * 2);
        expected[tenant]! += round * 4;
        await provider.forceFlush();
      }
    }
    const acme = await storedPoints(collector, 'acme');
    expect(sumOf(acme, 'requests')).toBe(expected.acme);
    expect(sumOf(await storedPoints(collector, 'initech'), 'requests')).toBe(expected.initech);
    const globex = await storedPoints(collector, 'globex-é');
    // Cumulative running totals became deltas: the stored total is the last running total, not their sum.
    expect(sumOf(globex, 'requests')).toBe(expected['globex-é']);
    for (const points of [acme, globex]) {
      const histograms = points.filter((p) => p.metric.kind === 'histogram');
      const counts = histograms.reduce(
        (acc, p) => {
          const value = p.value as HistogramValue;
          value.bucketCounts.forEach((c, i) => {
            acc.buckets[i] = (acc.buckets[i] ?? 0) + c;
          });
          acc.count += value.count;
          acc.sum += value.sum;
          return acc;
        },
        { buckets: [] as number[], count: 0, sum: 0 },
      );
      // 30, 60, 90 → (10, 100]; 120, 150 → (100, +Inf).
      expect(counts).toEqual({ buckets: [0, 3, 2], count: 5, sum: 450 });
      const gauges = points.filter((p) => p.metric.kind === 'gauge');
      const latest = gauges.reduce((a, b) => (b.timeUnixNano > a.timeUnixNano ? b : a));
      expect((latest.value as { value: number }).value).toBe(10);
    }
    expect(await storedPoints(collector, 'globex-Ã©')).toEqual([]);
    await Promise.all(Object.values(apps).map(({ provider }) => provider.shutdown()));
  });
});

describe('the OTLP/gRPC receiver', () => {
  it('advertises a 4 MiB HTTP/2 window on streams and on the connection (not the 64 KiB default)', async () => {
    const session = connect(`http://127.0.0.1:${grpcPort}`);
    const settings = await new Promise<{ initialWindowSize?: number }>((resolve) =>
      session.once('remoteSettings', resolve),
    );
    // The connection window arrives as a WINDOW_UPDATE right after the settings.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { remoteWindowSize } = session.state;
    session.close();
    expect(settings.initialWindowSize).toBe(4 * 1024 * 1024);
    expect(remoteWindowSize).toBeGreaterThanOrEqual(4 * 1024 * 1024);
  });
});
