/** Counters the exporter keeps, for the collector's `/metrics` and for tests. */
import { METRIC_TABLE_NAMES, type MetricTableName } from './schema/tables.ts';

export interface ExporterStats {
  /** Rows inserted per metric table (a deduplicated re-send counts as written again; ClickHouse stores it once). */
  readonly rowsWritten: Readonly<Record<MetricTableName, number>>;
  /** Successful inserts. */
  readonly inserts: number;
  /** Insert attempts, first tries and retries. */
  readonly insertAttempts: number;
  /** Failed insert attempts (retryable and permanent). */
  readonly insertFailures: number;
  /** Attempts of retained parts. */
  readonly retries: number;
  readonly retainedParts: number;
  readonly retainedRows: number;
  readonly retainedBytes: number;
  /** Retained parts currently on disk (0 when the spool is off). */
  readonly spooledParts: number;
  /** Parts loaded from the spool at start. */
  readonly replayedParts: number;
  /** Rows stored in `tallyhouse_dead_letters`. */
  readonly deadLetterRows: number;
  /** Rows appended to the dead-letter file (ClickHouse unavailable, or unwritten at shutdown without spool). */
  readonly deadLetterFileRows: number;
  /** Points the row encoder refused (NaN sum, invalid tenant, time out of range…); they are dead-lettered. */
  readonly rejectedRows: number;
  /** Points handed back to the caller (`failed` / FAILED): retention full, shut down, engine unavailable. */
  readonly refusedPoints: number;
}

export type MutableStats = {
  -readonly [K in Exclude<
    keyof ExporterStats,
    'rowsWritten' | 'retainedParts' | 'retainedRows' | 'retainedBytes' | 'spooledParts'
  >]: number;
} & { rowsWritten: Record<MetricTableName, number> };

export function createStats(): MutableStats {
  return {
    rowsWritten: Object.fromEntries(METRIC_TABLE_NAMES.map((table) => [table, 0])) as Record<
      MetricTableName,
      number
    >,
    inserts: 0,
    insertAttempts: 0,
    insertFailures: 0,
    retries: 0,
    replayedParts: 0,
    deadLetterRows: 0,
    deadLetterFileRows: 0,
    rejectedRows: 0,
    refusedPoints: 0,
  };
}

export function snapshotStats(
  counters: MutableStats,
  gauges: Pick<ExporterStats, 'retainedParts' | 'retainedRows' | 'retainedBytes' | 'spooledParts'>,
): ExporterStats {
  return { ...counters, rowsWritten: { ...counters.rowsWritten }, ...gauges };
}
