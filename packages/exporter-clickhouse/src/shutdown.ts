/**
 * Shutdown: stop taking data, keep retrying what is retained until `shutdownTimeoutMs`, then say what is still
 * unwritten and where it stays — the spool (replayed at next start), the caller's own log (`upstream`), or the
 * dead-letter file.
 */
import { settledWithin } from '@tallyhouse/model';
import type { ResolvedExporterConfig } from './config.ts';
import type { PartWriter } from './part-writer.ts';
import type { RetryQueue } from './retry-queue.ts';
import type { ExporterStats } from './stats.ts';
import type { StorageSession } from './storage-session.ts';

export interface UnwrittenPart {
  readonly batchId: string;
  readonly table: string;
  readonly rows: number;
  readonly lastError: string | undefined;
}

/** What `shutdown()` could not write, and where it went. */
export interface ShutdownReport {
  readonly unwrittenRows: number;
  readonly unwritten: readonly UnwrittenPart[];
  /**
   * `spool`: still on disk, replayed at next start. `dead-letter-file`: appended there. `upstream`: left to the
   * caller's own log (`upstreamDurable`), which re-sends them under the same batch ids.
   */
  readonly keptIn: 'none' | 'spool' | 'dead-letter-file' | 'upstream';
  readonly stats: ExporterStats;
}

export interface Draining {
  readonly config: ResolvedExporterConfig;
  /** Batches being consumed: waited for (until the deadline) before the last retries. */
  readonly inFlight: ReadonlySet<Promise<unknown>>;
  readonly queue: RetryQueue;
  readonly writer: PartWriter;
  readonly session: StorageSession;
  /** Where parts still unwritten at the deadline stay (the dead-letter file when neither). */
  readonly keep: { readonly spool: boolean; readonly upstream: boolean };
  readonly stats: () => ExporterStats;
}

/** Runs synchronously up to its first wait, so the queue stops scheduling before `shutdown()` returns. */
export async function drainAndClose(draining: Draining): Promise<ShutdownReport> {
  const { config, queue } = draining;
  const deadline = Date.now() + config.shutdownTimeoutMs;
  queue.stopScheduling();
  await settledWithinDeadline(Promise.allSettled([...draining.inFlight]), deadline);
  while (queue.size > 0 && Date.now() < deadline) {
    await settledWithinDeadline(queue.running ?? queue.retryDue(true), deadline);
    if (queue.size === 0 || Date.now() >= deadline) break;
    let attempts = 0;
    for (const part of queue.parts()) attempts = Math.max(attempts, part.attempts);
    await sleep(Math.min(Math.max(queue.backoff(attempts), 10), deadline - Date.now()));
  }
  queue.close();

  const parts = queue.parts();
  const unwritten: UnwrittenPart[] = parts.map((part) => ({
    batchId: part.batchId,
    table: part.table,
    rows: part.rows,
    lastError: part.lastError,
  }));
  const unwrittenRows = unwritten.reduce((total, part) => total + part.rows, 0);
  let keptIn: ShutdownReport['keptIn'] = 'none';
  if (unwritten.length > 0) {
    if (draining.keep.spool) {
      keptIn = 'spool';
    } else if (draining.keep.upstream) {
      keptIn = 'upstream';
    } else {
      keptIn = 'dead-letter-file';
      for (const part of parts) {
        draining.writer.deadLetterUnwritten(part);
        queue.release(part);
      }
    }
    config.logger.error(
      { unwritten },
      `shutdown: ${unwrittenRows} row(s) in ${unwritten.length} part(s) not written to ClickHouse; kept in ${keptIn}`,
    );
  }
  const report: ShutdownReport = { unwrittenRows, unwritten, keptIn, stats: draining.stats() };
  await draining.session.close();
  return report;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function settledWithinDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  return settledWithin(work, deadline - Date.now());
}
