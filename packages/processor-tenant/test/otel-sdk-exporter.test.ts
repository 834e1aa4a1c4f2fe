import { context, propagation, ValueType } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantProcessor, tenantView, withTenant } from '../src/index.ts';
import { CollectingConsumer } from './collecting-consumer.ts';

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

function setup(
  options: { defaultTenant?: string; resourceTenant?: string; view?: Parameters<typeof tenantView>[0] } = {},
) {
  const consumer = new CollectingConsumer();
  const processor = new TenantProcessor({
    next: consumer,
    autoFlush: false,
    defaultTenant: options.defaultTenant,
  });
  const reader = new PeriodicExportingMetricReader({ exporter: processor, exportIntervalMillis: 3_600_000 });
  const resource = resourceFromAttributes({
    'service.name': 'billing-api',
    'host.name': 'pod-1',
    ...(options.resourceTenant ? { 'tenant.id': options.resourceTenant } : {}),
  });
  const provider = new MeterProvider({ resource, views: [tenantView(options.view)], readers: [reader] });
  const meter = provider.getMeter('test-meter', '1.0.0');
  const collect = async () => {
    await reader.forceFlush();
    await processor.flush();
  };
  return { consumer, processor, provider, meter, collect };
}

describe('TenantProcessor inside the OTel SDK', () => {
  it('stamps the tenant from withTenant on every synchronous measurement', async () => {
    const { consumer, meter, collect, provider } = setup();
    const requests = meter.createCounter('requests', { unit: '{request}' });
    withTenant('acme', () => requests.add(3, { route: '/a' }));
    withTenant('acme', () => requests.add(4, { route: '/a' }));
    withTenant('0', () => requests.add(5, { route: '/a' }));
    await collect();
    expect(consumer.sumsByTenant('requests')).toEqual({ acme: 7, '0': 5 });
    const point = consumer.points().find((p) => p.tenant === 'acme')!;
    expect(point.attributes).toEqual({ route: '/a' });
    expect(point.resource).toEqual({ 'service.name': 'billing-api' });
    expect(point.scope).toEqual({ name: 'test-meter', version: '1.0.0' });
    expect(point.metric).toMatchObject({ name: 'requests', unit: '{request}', kind: 'sum', monotonic: true });
    await provider.shutdown();
  });

  it('reads the tenant from a baggage entry', async () => {
    const { consumer, meter, collect, provider } = setup();
    const bytes = meter.createCounter('bytes');
    const baggage = propagation.createBaggage({ 'tenant.id': { value: 'globex' } });
    context.with(propagation.setBaggage(context.active(), baggage), () => bytes.add(1024));
    await collect();
    expect(consumer.sumsByTenant('bytes')).toEqual({ globex: 1024 });
    await provider.shutdown();
  });

  it('uses a static tenant or a function as the source when configured', async () => {
    const fromFunction = setup({
      view: {
        sources: [
          { kind: 'function', resolve: (_ctx, attributes) => String(attributes.customer ?? '') || undefined },
        ],
      },
    });
    fromFunction.meter.createCounter('calls').add(2, { customer: 'initech' });
    await fromFunction.collect();
    expect(fromFunction.consumer.sumsByTenant('calls')).toEqual({ initech: 2 });

    const fixed = setup({ view: { sources: [{ kind: 'static', tenant: 'solo' }] } });
    fixed.meter.createCounter('calls').add(9);
    await fixed.collect();
    expect(fixed.consumer.sumsByTenant('calls')).toEqual({ solo: 9 });
    await Promise.all([fromFunction.provider.shutdown(), fixed.provider.shutdown()]);
  });

  it('routes asynchronous instruments to the resource tenant attribute', async () => {
    const { consumer, meter, collect, provider } = setup({ resourceTenant: 'from-resource' });
    meter.createObservableGauge('queue.depth').addCallback((result) => result.observe(17, { queue: 'q1' }));
    await collect();
    const gauge = consumer.points().find((p) => p.metric.name === 'queue.depth')!;
    expect(gauge.tenant).toBe('from-resource');
    expect(gauge.value).toEqual({ value: 17 });
    await provider.shutdown();
  });

  it('rejects and counts measurements without any tenant, and never writes them under ""', async () => {
    const { consumer, meter, collect, processor, provider } = setup();
    const counter = meter.createCounter('orphans');
    counter.add(1);
    withTenant('acme', () => counter.add(2));
    meter.createObservableCounter('observed').addCallback((result) => result.observe(5));
    await collect();
    expect(consumer.sumsByTenant()).toEqual({ acme: 2 });
    expect(processor.stats().rejectedPoints.missing_tenant).toBe(2);
    await provider.shutdown();
  });

  it('falls back to the configured default tenant', async () => {
    const { consumer, meter, collect, provider } = setup({ defaultTenant: 'house' });
    meter.createCounter('jobs').add(6);
    await collect();
    expect(consumer.sumsByTenant('jobs')).toEqual({ house: 6 });
    await provider.shutdown();
  });

  it('rejects an invalid tenant at export instead of misattributing it', async () => {
    const { consumer, meter, collect, processor, provider } = setup({ defaultTenant: 'house' });
    const counter = meter.createCounter('jobs');
    context.with(
      propagation.setBaggage(
        context.active(),
        propagation.createBaggage({ 'tenant.id': { value: 'x'.repeat(200) } }),
      ),
      () => counter.add(1),
    );
    await collect();
    expect(consumer.points()).toEqual([]);
    expect(processor.stats().rejectedPoints.invalid_tenant).toBe(1);
    await provider.shutdown();
  });

  it('asks the SDK for delta temporality and merges histograms and up-down counters per tenant', async () => {
    const { consumer, meter, collect, processor, provider } = setup();
    expect(processor.selectAggregationTemporality()).toBe(AggregationTemporality.DELTA);
    const latency = meter.createHistogram('latency', {
      unit: 'ms',
      advice: { explicitBucketBoundaries: [10, 100] },
    });
    const inFlight = meter.createUpDownCounter('in_flight', { valueType: ValueType.INT });
    withTenant('acme', () => {
      latency.record(5);
      latency.record(50);
      inFlight.add(3);
    });
    await collect();
    withTenant('acme', () => {
      latency.record(500);
      inFlight.add(-2);
    });
    await collect();
    const histograms = consumer.points().filter((p) => p.metric.kind === 'histogram');
    const totalCounts = histograms.reduce((acc, p) => acc + (p.value as { count: number }).count, 0);
    expect(totalCounts).toBe(3);
    expect(consumer.sumsByTenant('in_flight')).toEqual({ acme: 1 });
    await provider.shutdown();
  });

  it('carries the resource and scope schema URLs the SDK reports', async () => {
    const consumer = new CollectingConsumer();
    const processor = new TenantProcessor({ next: consumer, autoFlush: false });
    const reader = new PeriodicExportingMetricReader({
      exporter: processor,
      exportIntervalMillis: 3_600_000,
    });
    const resource = resourceFromAttributes(
      { 'service.name': 'billing-api' },
      { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' },
    );
    const provider = new MeterProvider({ resource, views: [tenantView()], readers: [reader] });
    const meter = provider.getMeter('lib', '2.0.0', { schemaUrl: 'https://example.com/lib-schema' });
    withTenant('acme', () => meter.createCounter('hits').add(1));
    await reader.forceFlush();
    await processor.flush();
    const [point] = consumer.points();
    expect(point?.resourceSchemaUrl).toBe('https://opentelemetry.io/schemas/1.26.0');
    expect(point?.scope).toEqual({
      name: 'lib',
      version: '2.0.0',
      schemaUrl: 'https://example.com/lib-schema',
    });
    await provider.shutdown();
  });

  it('forwards to a plain SDK exporter with the tenant restored as an attribute', async () => {
    const memory = new InMemoryMetricExporter(AggregationTemporality.DELTA);
    const processor = new TenantProcessor({ next: memory, autoFlush: false });
    const reader = new PeriodicExportingMetricReader({
      exporter: processor,
      exportIntervalMillis: 3_600_000,
    });
    const provider = new MeterProvider({ views: [tenantView()], readers: [reader] });
    const counter = provider.getMeter('m').createCounter('hits');
    withTenant('acme', () => counter.add(2, { page: 'home' }));
    withTenant('acme', () => counter.add(3, { page: 'home' }));
    await reader.forceFlush();
    await processor.forceFlush();
    const exported = memory.getMetrics();
    const metric = exported[0]!.scopeMetrics[0]!.metrics[0]!;
    expect(metric.dataPointType).toBe(DataPointType.SUM);
    expect(metric.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(metric.dataPoints).toHaveLength(1);
    expect(metric.dataPoints[0]!.attributes).toEqual({ page: 'home', 'tenant.id': 'acme' });
    expect(metric.dataPoints[0]!.value).toBe(5);
    expect(processor.selectAggregationTemporality(InstrumentType.COUNTER)).toBe(AggregationTemporality.DELTA);
    await provider.shutdown();
  });

  it('keeps summary points a plain SDK exporter cannot take, and says why, while the rest is exported', async () => {
    const memory = new InMemoryMetricExporter(AggregationTemporality.DELTA);
    const processor = new TenantProcessor({ next: memory, autoFlush: false });
    const scope = { name: 'otlp-input', version: '' };
    const metric = <K extends 'sum' | 'summary'>(kind: K, name: string) =>
      ({ name, description: '', unit: '', kind, monotonic: kind === 'sum' }) as const;
    processor.consume({
      resourceMetrics: [
        {
          resource: { 'service.name': 'api' },
          scopeMetrics: [
            {
              scope,
              metrics: [
                {
                  metric: metric('sum', 'hits'),
                  temporality: 'delta',
                  points: [
                    {
                      attributes: { 'tenant.id': 'acme' },
                      startTimeUnixNano: 1n,
                      timeUnixNano: 2n,
                      value: { value: 4 },
                    },
                  ],
                },
                {
                  metric: metric('summary', 'rpc.duration'),
                  temporality: 'cumulative',
                  points: [
                    {
                      attributes: { 'tenant.id': 'acme' },
                      startTimeUnixNano: 1n,
                      timeUnixNano: 2n,
                      value: { count: 2, sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }] },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const report = await processor.flush();
    expect(
      memory
        .getMetrics()
        .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name))),
    ).toEqual(['hits']);
    expect(report.retained).toBe(1);
    expect(report.errors.map(String).join()).toMatch(
      /summary point\(s\) of metric\(s\) "rpc.duration" cannot be handed to an SDK exporter/,
    );
    expect(processor.count()).toBe(1);
  });
});
