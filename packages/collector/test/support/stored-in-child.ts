/**
 * What a collector stored, read from its data directory in a separate process (`read-storage.ts`): chDB binds
 * one data directory per process, and the test process may hold another. The collector must have exited. With
 * `server`, the rows are read from that ClickHouse server instead (any time).
 */
import { fileURLToPath } from 'node:url';
import { lastJsonLine, startNodeProcess } from './node-process.ts';
import type {
  Reports,
  StoredBucketTotals,
  StoredDump,
  StoredPointCount,
  StoredStreamTotal,
  StoredTotal,
} from './read-storage.ts';

export type { StoredBucketTotals, StoredDump, StoredPointCount, StoredStreamTotal, StoredTotal };

const READ_STORAGE = fileURLToPath(new URL('./read-storage.ts', import.meta.url));

type ReportResult<K extends keyof Reports> = Awaited<ReturnType<Reports[K]>>;

/** A ClickHouse server the collector wrote to instead of its embedded engine. */
export interface StorageServer {
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

async function readInChild<K extends keyof Reports>(
  report: K,
  dataDir: string,
  server?: StorageServer,
): Promise<ReportResult<K>> {
  const env =
    server === undefined
      ? undefined
      : {
          READ_STORAGE_URL: server.url,
          READ_STORAGE_USER: server.username,
          READ_STORAGE_PASSWORD: server.password,
        };
  const reader = startNodeProcess(READ_STORAGE, {
    args: [report, dataDir],
    ...(env === undefined ? {} : { env }),
  });
  return lastJsonLine<ReportResult<K>>(reader, await reader.waitForExit(120_000), `read-storage ${report}`);
}

/** Sum totals per tenant and metric. */
export const readStoredTotals = (dataDir: string, server?: StorageServer) =>
  readInChild('totals', dataDir, server);

/** Sum totals per tenant, source service, metric and `route` attribute. */
export const readStoredStreamTotals = (dataDir: string, server?: StorageServer) =>
  readInChild('streamTotals', dataDir, server);

/** Sum totals per quarter hour, hour and day from the raw rows, and per hour and day from the rollups. */
export const readStoredBucketTotals = (dataDir: string, server?: StorageServer) =>
  readInChild('bucketTotals', dataDir, server);

/** Per tenant: rows, finite rows and points counted, of the exponential-histogram and the sum table. */
export const readStoredPointCounts = (dataDir: string, server?: StorageServer) =>
  readInChild('pointCounts', dataDir, server);

/** Every stored row (exact value bits), dead letters and quarantined requests. */
export const readStoredDump = (dataDir: string, server?: StorageServer) =>
  readInChild('dump', dataDir, server);

/** `tenant/metric` → total. */
export function totalsByKey(rows: readonly StoredTotal[]): Record<string, number> {
  return Object.fromEntries(rows.map((row) => [`${row.tenant}/${row.metric}`, row.total]));
}
