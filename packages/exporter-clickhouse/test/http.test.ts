/**
 * The exporter's HTTP path against a ClickHouse server in its own process on 127.0.0.1: the real engine behind
 * the test endpoint, whose fault switch stalls, loses answers and answers 503; and a port nobody listens on.
 */
import { createServer } from 'node:net';
import { EndpointProcess } from '@tallyhouse/clickhouse-http-endpoint';
import { silentLogger } from '@tallyhouse/model';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseMetricExporter, type ClickHouseMetricExporterOptions } from '../src/index.ts';
import { mixedBatch, POINT_KINDS, tempDir } from './support.ts';

let server: EndpointProcess;
const open: ClickHouseMetricExporter[] = [];
let databases = 0;

beforeAll(async () => {
  server = await EndpointProcess.start({ dataDir: tempDir('http-engine') });
});
afterEach(async () => {
  await server.setFault(undefined);
  await Promise.all(open.splice(0).map((exporter) => exporter.shutdown()));
});
afterAll(async () => {
  // Killed, not stopped: the store is thrown away, and a graceful close may wait on the engine past the hook.
  await server.kill();
});

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function httpExporter(options: Partial<ClickHouseMetricExporterOptions> = {}) {
  const database = `http_${++databases}`;
  const exporter = new ClickHouseMetricExporter({
    url: server.url,
    database,
    dataDir: tempDir('http-exporter'),
    logger: silentLogger,
    env: {},
    requestTimeoutMs: 300,
    retryInitialDelayMs: 1,
    retryMaxDelayMs: 2,
    random: () => 0,
    shutdownTimeoutMs: 2_000,
    ...options,
  });
  open.push(exporter);
  return { exporter, database };
}

async function drain(exporter: ClickHouseMetricExporter): Promise<void> {
  for (let pass = 0; pass < 50 && exporter.stats().retainedParts > 0; pass++) await exporter.forceFlush();
  expect(exporter.stats().retainedParts).toBe(0);
}

async function counts(exporter: ClickHouseMetricExporter, tenant: string) {
  const reader = await exporter.reader();
  const result: Record<string, number> = {};
  for (const kind of POINT_KINDS) {
    result[kind] = (await reader.points(tenant, kind)).length;
  }
  return result;
}

const once = { sum: 1, gauge: 1, histogram: 1, exponentialHistogram: 1, summary: 1 };

describe('HTTP path against sockets on 127.0.0.1', () => {
  it('creates the schema, writes, and deduplicates a re-sent batch over HTTP', async () => {
    const { exporter } = httpExporter();
    const batch = mixedBatch('h-ok', 'acme');
    expect(await exporter.consumeBatch(batch)).toEqual({ ok: true });
    expect(await exporter.consumeBatch(batch)).toEqual({ ok: true });
    expect(await counts(exporter, 'acme')).toEqual(once);
    expect(await exporter.isReady()).toBe(true);
  });

  it('keeps and retries a batch while the connection is refused', async () => {
    const refusedPort = await closedPort();
    const { exporter: refused } = httpExporter({
      url: `http://127.0.0.1:${refusedPort}`,
      shutdownTimeoutMs: 50,
    });
    expect(await refused.consumeBatch(mixedBatch('h-refused', 'acme'))).toEqual({ ok: true });
    expect(refused.stats().retainedParts).toBe(5);
    await refused.forceFlush();
    await refused.forceFlush();
    const stats = refused.stats();
    expect(stats.retainedParts).toBe(5);
    expect(stats.retries).toBeGreaterThanOrEqual(2);
    expect(stats.insertFailures).toBeGreaterThanOrEqual(stats.insertAttempts);
    expect(await refused.isReady()).toBe(false);
  });

  it('keeps a batch while the server stalls, and writes it once when the server answers again', async () => {
    const { exporter } = httpExporter();
    await exporter.start();
    await server.setFault({ fault: { mode: 'stall' } });
    expect(await exporter.consumeBatch(mixedBatch('h-stall', 'acme'))).toEqual({ ok: true });
    expect(exporter.stats().retainedParts).toBe(5);
    await server.setFault(undefined);
    await drain(exporter);
    expect(await counts(exporter, 'acme')).toEqual(once);
  });

  it('does not double count when the server applied the insert and then stalled', async () => {
    const { exporter } = httpExporter();
    await exporter.start();
    await server.setFault({ fault: { mode: 'apply-then-stall' }, count: 5 });
    expect(await exporter.consumeBatch(mixedBatch('h-applied', 'acme'))).toEqual({ ok: true });
    expect(exporter.stats().retainedParts).toBe(5);
    await drain(exporter);
    expect(await counts(exporter, 'acme')).toEqual(once);
  });

  it('keeps and retries a batch while the server answers 503', async () => {
    const { exporter } = httpExporter();
    await exporter.start();
    await server.setFault({ fault: { mode: 'unavailable' }, count: 10 });
    expect(await exporter.consumeBatch(mixedBatch('h-503', 'acme'))).toEqual({ ok: true });
    expect(exporter.stats().retainedParts).toBe(5);
    await drain(exporter);
    expect(await counts(exporter, 'acme')).toEqual(once);
    expect((await server.stats()).faultsApplied.unavailable).toBe(10);
  });
});
