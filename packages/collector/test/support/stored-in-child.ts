/**
 * What a collector stored, read from its data directory in a separate process (`read-storage.ts`): chDB binds
 * one data directory per process, and the test process may hold another. The collector must have exited.
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

async function readInChild<K extends keyof Reports>(report: K, dataDir: string): Promise<ReportResult<K>> {
  const reader = startNodeProcess(READ_STORAGE, { args: [report, dataDir] });
  return lastJsonLine<ReportResult<K>>(reader, await reader.waitForExit(120_000), `read-storage ${report}`);
}

/** Sum totals per tenant and metric. */
export const readStoredTotals = (dataDir: string) => readInChild('totals', dataDir);

/** Sum totals per tenant, source service, metric and `route` attribute. */
export const readStoredStreamTotals = (dataDir: string) => readInChild('streamTotals', dataDir);

/** Sum totals per quarter hour, hour and day from the raw rows, and per hour and day from the rollups. */
export const readStoredBucketTotals = (dataDir: string) => readInChild('bucketTotals', dataDir);

/** Per tenant: rows, finite rows and points counted, of the exponential-histogram and the sum table. */
export const readStoredPointCounts = (dataDir: string) => readInChild('pointCounts', dataDir);

/** Every stored row (exact value bits), dead letters and quarantined requests. */
export const readStoredDump = (dataDir: string) => readInChild('dump', dataDir);

/** `tenant/metric` → total. */
export function totalsByKey(rows: readonly StoredTotal[]): Record<string, number> {
  return Object.fromEntries(rows.map((row) => [`${row.tenant}/${row.metric}`, row.total]));
}
