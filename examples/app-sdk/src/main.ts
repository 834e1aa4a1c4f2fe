/**
 * Meters usage for several tenants inside one app and reads the totals back from ClickHouse.
 *
 *   OTel SDK (MeterProvider + tenantView) → PeriodicExportingMetricReader
 *     → TenantProcessor (per-tenant series, merge, batches) → ClickHouseMetricExporter → embedded chDB
 *
 * Run: npm start -w examples/app-sdk   (data in ./.tallyhouse unless TALLYHOUSE_DATA_DIR is set)
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ClickHouseMetricExporter } from '@tallyhouse/exporter-clickhouse';
import { TenantProcessor, tenantView, withTenant } from '@tallyhouse/processor-tenant';

// `withTenant` carries the tenant in the active context; the tenant view stamps it on every measurement.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const exporter = new ClickHouseMetricExporter(); // no options: CLICKHOUSE_URL unset → embedded chDB
const processor = new TenantProcessor({ next: exporter, flushIntervalMs: 1_000 });
const provider = new MeterProvider({
  resource: resourceFromAttributes({ 'service.name': 'example-app' }),
  views: [tenantView()],
  readers: [new PeriodicExportingMetricReader({ exporter: processor, exportIntervalMillis: 1_000 })],
});

const meter = provider.getMeter('example-app', '1.0.0');
const requests = meter.createCounter('api.requests', {
  unit: '{request}',
  description: 'API requests served',
});
const latency = meter.createHistogram('api.latency', { unit: 'ms', description: 'API latency' });
const storage = meter.createGauge('storage.used', { unit: 'By', description: 'Bytes stored' });

const runStartNs = BigInt(Date.now()) * 1_000_000n;
const tenants = ['acme', 'globex', 'initech', '0'];
const expected = new Map<string, { requests: number; storage: number }>();

// A small deterministic workload: each tenant makes a different number of calls on a few routes.
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
for (let round = 0; round < 3; round++) {
  for (const [index, tenant] of tenants.entries()) {
    withTenant(tenant, () => {
      const calls = 5 * (index + 1) + round;
      for (let call = 0; call < calls; call++) {
        const route = ['/search', '/checkout', '/profile'][call % 3] ?? '/';
        requests.add(1, { route });
        latency.record(Math.round(5 + random() * 200), { route });
      }
      const bytes = 1_000_000 * (index + 1) + round * 1_000;
      storage.record(bytes);
      const totals = expected.get(tenant) ?? { requests: 0, storage: 0 };
      expected.set(tenant, { requests: totals.requests + calls, storage: bytes });
    });
  }
  // Several collections, so the stored usage is the sum of several delta rows.
  await provider.forceFlush();
}

// Read back what ClickHouse holds for this run, one tenant at a time (every read is tenant-scoped).
const reader = await exporter.reader();
const table: Record<string, string | number>[] = [];
let mismatches = 0;
for (const tenant of tenants) {
  const range = { fromUnixNano: runStartNs };
  const [stored] = await reader.sumTotals(tenant, range, 'api.requests');
  const [gauge] = await reader.gaugeLatest(tenant, { metric: 'storage.used', range });
  const latencies = await reader.points(tenant, 'histogram', range, 'api.latency');
  const want = expected.get(tenant);
  const ok = stored?.total === want?.requests && gauge?.value === want?.storage;
  if (!ok) mismatches += 1;
  table.push({
    tenant,
    'requests (recorded)': want?.requests ?? 0,
    'requests (ClickHouse)': stored?.total ?? 0,
    'storage.used latest (ClickHouse)': gauge?.value ?? 0,
    'latency observations': latencies.reduce(
      (sum, point) => sum + (point.value as { count: number }).count,
      0,
    ),
    check: ok ? 'ok' : 'MISMATCH',
  });
}
console.log(
  `\nPer-tenant usage read back from ClickHouse (database ${exporter.config.database}, data in ${exporter.config.dataDir}):`,
);
console.table(table);
console.log('exporter stats:', JSON.stringify(exporter.stats()));

await provider.shutdown(); // flushes the processor, which shuts the exporter down
process.exitCode = mismatches === 0 ? 0 : 1;
