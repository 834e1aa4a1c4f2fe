/**
 * In process, on both stores: MeterProvider → TenantProcessor → ClickHouseMetricExporter, configured by the
 * environment alone — `TALLYHOUSE_DATA_DIR` (embedded chDB), or `CLICKHOUSE_URL` and credentials (a ClickHouse
 * server over HTTP: the real engine behind the test endpoint).
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ClickHouseMetricExporter } from '@tallyhouse/exporter-clickhouse';
import { silentLogger } from '@tallyhouse/model';
import { TenantProcessor } from '@tallyhouse/processor-tenant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDirsRemovedAfterAll } from '../../packages/collector/test/support/temp-dirs.ts';
import { STORE_KINDS, startStore, type TestStore } from '../support/stores.ts';

const tempDir = tempDirsRemovedAfterAll();

describe.each(STORE_KINDS)(
  'a plain SDK pipeline: MeterProvider → TenantProcessor → ClickHouseMetricExporter (%s store)',
  (kind) => {
    const dataDir = tempDir(`sdk-${kind}`);
    let store: TestStore;
    let exporter: ClickHouseMetricExporter;
    let processor: TenantProcessor;
    let provider: MeterProvider;
    const previous: Record<string, string | undefined> = {};

    beforeAll(async () => {
      store = await startStore(kind, tempDir(`sdk-store-${kind}`));
      const env = { TALLYHOUSE_DATA_DIR: dataDir, ...store.collectorEnv };
      for (const [name, value] of Object.entries(env)) {
        previous[name] = process.env[name];
        process.env[name] = value;
      }
      // No connection options at all: the defaults come from the environment.
      exporter = new ClickHouseMetricExporter({ logger: silentLogger });
      // The SDK's exporter is the tenant processor; the ClickHouse exporter is the stage behind it.
      processor = new TenantProcessor({ next: exporter, logger: silentLogger });
      provider = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': 'sdk-test' }),
        readers: [
          new PeriodicExportingMetricReader({ exporter: processor, exportIntervalMillis: 3_600_000 }),
        ],
      });
    });

    afterAll(async () => {
      await provider?.shutdown();
      for (const [name, value] of Object.entries(previous)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await store?.close();
    });

    it('reads its defaults from the environment', () => {
      expect(exporter.config.dataDir).toBe(dataDir);
      expect(exporter.config.url).toBe(store.endpoint?.url);
      expect(exporter.config.database).toBe('otel');
    });

    it('stores points whose tenant is the tenant.id attribute, as deltas across collections', async () => {
      const meter = provider.getMeter('sdk-test');
      const counter = meter.createCounter('jobs.run', { unit: '{job}' });
      const histogram = meter.createHistogram('job.duration', { unit: 's' });
      counter.add(3, { 'tenant.id': 'sdk-a', queue: 'default' });
      counter.add(4, { 'tenant.id': 'sdk-b', queue: 'default' });
      histogram.record(1.5, { 'tenant.id': 'sdk-a' });
      await provider.forceFlush();
      counter.add(5, { 'tenant.id': 'sdk-a', queue: 'default' });
      await provider.forceFlush();

      const reader = await exporter.reader();
      expect((await reader.sumTotals('sdk-a')).map((t) => [t.metricName, t.total])).toEqual([
        ['jobs.run', 8],
      ]);
      expect((await reader.sumTotals('sdk-b')).map((t) => [t.metricName, t.total])).toEqual([
        ['jobs.run', 4],
      ]);
      const [sum] = await reader.points('sdk-a', 'sum');
      expect(sum?.attributes).toEqual({ queue: 'default' });
      expect(sum?.resource).toEqual({ 'service.name': 'sdk-test' });
      expect((await reader.points('sdk-a', 'histogram'))[0]?.value).toMatchObject({ count: 1, sum: 1.5 });
    });

    it('rejects and counts points without a tenant instead of writing them under ""', async () => {
      const counter = provider.getMeter('sdk-test').createCounter('untenanted');
      counter.add(1, { queue: 'x' });
      await provider.forceFlush();
      expect(processor.stats().rejectedPoints.missing_tenant).toBeGreaterThanOrEqual(1);
      const reader = await exporter.reader();
      await expect(reader.sumTotals('')).rejects.toThrow();
    });
  },
);
