/** The collector in the test process, on a free loopback port, and what it stored. */

import { testStoreEnv } from '@tallyhouse/clickhouse-http-endpoint';
import {
  ClickHouseMetricExporter,
  openEmbeddedConnection,
  openStorageConnection,
  resolveExporterConfig,
  type StorageConnection,
  UsageReader,
} from '@tallyhouse/exporter-clickhouse';
import { type PointKind, type SeriesPoint, silentLogger } from '@tallyhouse/model';
import { vi } from 'vitest';
import { Collector, type CollectorOptions } from '../../src/index.ts';

/**
 * A started collector on a free port of 127.0.0.1, logging nothing, writing to the test store (the embedded engine,
 * or in the `http-store` project a ClickHouse server over HTTP).
 */
export async function startCollector(
  dataDir: string,
  options: CollectorOptions = {},
): Promise<{ collector: Collector; port: number }> {
  const collector = new Collector({
    ...options,
    env: { TALLYHOUSE_DATA_DIR: dataDir, TALLYHOUSE_LOG_LEVEL: 'silent', ...testStoreEnv(), ...options.env },
    // gRPC only where a test asks for it (grpcPort: 0): a fixed 4317 would collide between parallel test files.
    collector: { port: 0, grpcPort: 'off', ...options.collector },
  });
  const address = await collector.start();
  return { collector, port: address.port };
}

const KINDS: readonly PointKind[] = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'];

/** Every stored row of `tenant`, all kinds, after flushing what the collector holds. */
export async function storedPoints(collector: Collector, tenant: string): Promise<SeriesPoint[]> {
  await collector.processor.forceFlush();
  const reader = await collector.exporter.reader();
  const out: SeriesPoint[] = [];
  for (const kind of KINDS) out.push(...(await reader.points(tenant, kind)));
  return out;
}

/** Rows written to all tables so far, after flushing what the collector holds. */
export async function totalRowsWritten(collector: Collector): Promise<number> {
  await collector.processor.forceFlush();
  return Object.values(collector.exporter.stats().rowsWritten).reduce((a, b) => a + b, 0);
}

/**
 * Reads a data directory that a collector child process wrote, in this process: the child must have exited (chDB
 * binds one data directory per process, and this process must hold no other).
 */
export async function readDataDir<T>(dataDir: string, read: (reader: UsageReader) => Promise<T>): Promise<T> {
  // An empty env: CLICKHOUSE_URL from the surroundings must not redirect the read to a server.
  const exporter = new ClickHouseMetricExporter({ dataDir, env: {}, logger: silentLogger });
  try {
    return await read(await exporter.reader());
  } finally {
    await exporter.shutdown();
  }
}

/**
 * Holds every `UsageReader.total` read (the real one runs after `release()`), so a test can have reads in flight
 * at once: single flight, the concurrency cap. `spy.mockRestore()` ends it.
 */
export function holdUsageTotals(): { spy: { mockRestore(): void }; release: () => void } {
  const original = UsageReader.prototype.total;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const spy = vi.spyOn(UsageReader.prototype, 'total').mockImplementation(async function (
    this: UsageReader,
    ...args: Parameters<UsageReader['total']>
  ) {
    await gate;
    return original.apply(this, args);
  });
  return { spy, release };
}

/** A connection of the test's own to the test store that collectors on `dataDir` write to. */
export function openTestStorage(dataDir: string): StorageConnection {
  const env = testStoreEnv();
  return openStorageConnection(
    resolveExporterConfig(
      env.CLICKHOUSE_URL === undefined
        ? { dataDir, env, connection: openEmbeddedConnection(dataDir) }
        : { dataDir, env },
    ),
  );
}
