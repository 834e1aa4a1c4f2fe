/**
 * Batches become table parts, parts become inserts, and whatever can never be written becomes dead letters —
 * counted once, here, whichever path refused it (the encoder, a permanent insert failure, the shutdown deadline).
 */
import type { SeriesBatch, SeriesPoint } from '@tallyhouse/model';
import type { ResolvedExporterConfig } from './config.ts';
import { type DeadLetter, DeadLetterSink, partDeadLetters, rejectedDeadLetters } from './dead-letters.ts';
import { classifyFailure } from './retry-policy.ts';
import { encodeBatch } from './row-encoding.ts';
import { columnNames, layoutColumns } from './schema/tables.ts';
import type { MutableStats } from './stats.ts';
import type { StorageSession } from './storage-session.ts';
import { createTablePart, type TablePart } from './table-part.ts';

/** What one insert of a part came to: the part is done (`written`, `dead-lettered`) or must be tried again. */
export type AttemptOutcome = 'written' | 'dead-lettered' | 'retry';

export interface EncodedParts {
  readonly parts: readonly TablePart[];
  /** Points the encoder refused that could not be dead-lettered either: the caller keeps them. */
  readonly unstored: readonly SeriesPoint[];
}

export class PartWriter {
  private readonly config: ResolvedExporterConfig;
  private readonly session: StorageSession;
  private readonly counters: MutableStats;
  private readonly deadLetters: DeadLetterSink;

  constructor(config: ResolvedExporterConfig, session: StorageSession, counters: MutableStats) {
    this.config = config;
    this.session = session;
    this.counters = counters;
    this.deadLetters = new DeadLetterSink({
      database: config.database,
      dataDir: config.dataDir,
      logger: config.logger,
    });
  }

  /** One part per table of the batch; the points the encoder refuses are dead-lettered on the way. */
  async encode(batch: SeriesBatch): Promise<EncodedParts> {
    const encoded = encodeBatch(batch.points, { tenantAttribute: this.config.tenantAttribute });
    let unstored: SeriesPoint[] = [];
    if (encoded.rejected.length > 0) {
      this.counters.rejectedRows += encoded.rejected.length;
      const letters = rejectedDeadLetters(batch.id, encoded.rejected);
      if (!(await this.store(letters, `tallyhouse-v1-rejected-${batch.id}`))) {
        unstored = encoded.rejected.map((rejected) => rejected.point);
      }
    }
    const parts = encoded.tables.map((rows) =>
      createTablePart(batch.id, rows.table, rows, rows.tenants, rows.points),
    );
    return { parts, unstored };
  }

  /** One insert of one part. Never throws: the outcome says what happened. */
  async attempt(part: TablePart): Promise<AttemptOutcome> {
    part.attempts += 1;
    this.counters.insertAttempts += 1;
    try {
      const connection = await this.session.forInsert();
      await connection.insertEncoded({
        database: this.config.database,
        table: part.table,
        columns: columnNames(layoutColumns(part.table, part.layout)),
        format: 'JSONCompactEachRow',
        body: part.body,
        // Every setting the insert relies on is stated each time: chDB applies them as session-wide SETs.
        settings: {
          insert_deduplicate: 1,
          insert_deduplication_token: part.token,
          async_insert: this.config.asyncInsert ? 1 : 0,
          wait_for_async_insert: 1,
          async_insert_deduplicate: 1,
          // Tables are partitioned by day, and ClickHouse refuses an insert spanning more than 100 partitions
          // by default: a batch holding one client's points from 101 days would then be retried forever and
          // hold every other tenant's rows in it back. 0 lifts the cap (a setting every server version knows);
          // such inserts are slower, never wrong.
          max_partitions_per_insert_block: '0',
        },
      });
      this.counters.inserts += 1;
      this.counters.rowsWritten[part.table] += part.rows;
      return 'written';
    } catch (error) {
      this.counters.insertFailures += 1;
      const failure = classifyFailure(error, { createSchema: this.config.createSchema });
      part.lastError = `${failure.code}: ${failure.reason}`;
      this.session.noteInsertFailure(failure.code);
      if (failure.kind === 'permanent') {
        const letters = partDeadLetters(part, failure.code, failure.reason);
        return (await this.store(letters, part.token)) ? 'dead-lettered' : 'retry';
      }
      this.config.logger.warn(
        {},
        `insert of ${part.rows} ${part.table} row(s) failed (attempt ${part.attempts}), will retry: ${part.lastError}`,
      );
      return 'retry';
    }
  }

  /** At shutdown: the rows of a part left unwritten, appended to the dead-letter file at once. */
  deadLetterUnwritten(part: TablePart): void {
    const letters = partDeadLetters(
      part,
      'SHUTDOWN_UNWRITTEN',
      part.lastError ?? 'not written before the shutdown deadline',
    );
    this.deadLetters.writeFile(letters, part.token);
    this.counters.deadLetterFileRows += letters.length;
  }

  /** Dead letters into the table, else the file; false (logged) only when both fail. */
  private async store(letters: readonly DeadLetter[], token: string): Promise<boolean> {
    try {
      const destination = await this.deadLetters.write(this.session.current, letters, token);
      if (destination === 'table') this.counters.deadLetterRows += letters.length;
      else this.counters.deadLetterFileRows += letters.length;
      return true;
    } catch (error) {
      this.config.logger.error(
        { error: (error as Error).message },
        `could not dead-letter ${letters.length} row(s)`,
      );
      return false;
    }
  }
}
