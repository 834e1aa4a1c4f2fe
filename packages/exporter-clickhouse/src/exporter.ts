/**
 * `ClickHouseMetricExporter`: the last stage. Takes batches in the internal representation (`consumeBatch`;
 * inside an app, the tenant processor is the SDK exporter in front of it), writes one insert per table per batch with a deterministic
 * deduplication token, keeps what fails for a retryable reason (bounded, optionally spooled to disk) and
 * retries it with exponential backoff and full jitter, and dead-letters what can never be written.
 *
 * Guarantee: a point handed to `consumeBatch` is, when the call returns `{ ok: true }`, written, retained
 * for retry, or dead-lettered — and never written twice, however often an insert is retried or a batch re-sent.
 * When it cannot take a point (retention full, shutting down) it says so in `failed`, and the caller keeps it.
 */
import {
  ConfigError,
  type ConsumeResult,
  type SeriesBatch,
  type SeriesBatchConsumer,
  type SeriesPoint,
} from '@tallyhouse/model';
import {
  type ClickHouseExporterOptions,
  type ResolvedExporterConfig,
  resolveExporterConfig,
} from './config.ts';
import { openStorageConnection, type StorageConnection } from './connection.ts';
import { type DeadLetter, DeadLetterSink } from './dead-letters.ts';
import { EmbeddedEngineUnavailableError, ExporterShutDownError, RetentionFullError } from './errors.ts';
import { backoffDelayMs, classifyFailure, type FailureClassification } from './retry-policy.ts';
import { encodeBatch, pointToJson } from './row-encoding.ts';
import { ensureSchema, type SchemaExecutor } from './schema/migrations.ts';
import { qualified, type SchemaOptions } from './schema/sql.ts';
import { columnNames, METRIC_COLUMNS } from './schema/tables.ts';
import { Spool } from './spool.ts';
import { createStats, type ExporterStats, type MutableStats, snapshotStats } from './stats.ts';
import { createTablePart, partLines, type TablePart } from './table-part.ts';
import { UsageReader } from './usage/usage-reader.ts';

export interface ClickHouseMetricExporterOptions extends ClickHouseExporterOptions {
  /**
   * The caller keeps every batch durably until it is written and re-sends unwritten ones after a restart
   * (the collector's write-ahead log). Then `shutdown()` leaves unwritten parts to it instead of dead-lettering
   * them, which would store them twice once the caller re-sends.
   */
  upstreamDurable?: boolean;
}

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

type AttemptOutcome =
  | { readonly kind: 'written' }
  | { readonly kind: 'dead-lettered' }
  | { readonly kind: 'retry'; readonly failure: FailureClassification; readonly error: unknown };

export class ClickHouseMetricExporter implements SeriesBatchConsumer {
  readonly config: ResolvedExporterConfig;
  private readonly schemaOptions: SchemaOptions;
  private connection: StorageConnection | undefined;
  private starting: Promise<void> | undefined;
  private schemaStale = false;
  private readonly retained = new Map<string, TablePart>();
  private readonly upstreamDurable: boolean;
  private retainedRows = 0;
  private retainedBytes = 0;
  /** Room promised to parts being attempted: a part that may have reached ClickHouse is never handed back. */
  private reservedRows = 0;
  private reservedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private retryRun: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private state: 'open' | 'shutting-down' | 'closed' = 'open';
  private shuttingDown: Promise<ShutdownReport> | undefined;
  private readonly spool: Spool | undefined;
  private readonly deadLetters: DeadLetterSink;
  private readonly counters: MutableStats = createStats();

  constructor(options: ClickHouseMetricExporterOptions = {}) {
    this.config = resolveExporterConfig(options);
    this.upstreamDurable = options.upstreamDurable === true;
    this.schemaOptions = {
      database: this.config.database,
      cluster: this.config.cluster,
      replicationPath: this.config.replicationPath,
      replicaName: this.config.replicaName,
      ttlDays: this.config.ttlDays,
      dedupWindow: this.config.dedupWindow,
    };
    this.deadLetters = new DeadLetterSink({
      database: this.config.database,
      dataDir: this.config.dataDir,
      logger: this.config.logger,
    });
    if (this.config.spool) {
      this.spool = new Spool(this.config.dataDir, this.config.logger);
      // Replay: everything spooled was acknowledged before, so it is ours to write; tokens make it safe.
      for (const part of this.spool.load()) this.hold(part);
      this.counters.replayedParts = this.retained.size;
      if (this.retained.size > 0) {
        this.config.logger.info({}, `replaying ${this.retained.size} spooled part(s)`);
        this.scheduleRetry();
      }
    }
  }

  /** Connects, creates/migrates the schema. Idempotent; called lazily by `consumeBatch`/`export`. */
  start(): Promise<void> {
    this.starting ??= this.connectAndMigrate().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async connectAndMigrate(): Promise<void> {
    this.connection ??= openStorageConnection(this.config);
    if (this.config.createSchema) await this.migrate(false);
  }

  private async migrate(force: boolean): Promise<void> {
    const connection = this.connection;
    if (connection === undefined) return;
    const executor: SchemaExecutor = {
      command: (sql) => connection.command(sql),
      queryRows: (sql) => connection.queryRows(sql),
    };
    await ensureSchema(executor, this.schemaOptions, this.config.logger, { force });
  }

  /** True when storage answers and the schema is in place (for readiness probes). */
  async isReady(): Promise<boolean> {
    try {
      await this.start();
      const connection = this.connection;
      if (connection === undefined) return false;
      await connection.queryRows(`SELECT 1 FROM ${qualified(this.config, METRIC_TABLE_FOR_PROBE)} LIMIT 0`);
      return true;
    } catch {
      return false;
    }
  }

  /** Tenant-scoped reads of what was written (every query requires a valid tenant). */
  async reader(): Promise<UsageReader> {
    await this.start();
    if (this.connection === undefined) throw new Error('no storage connection');
    return new UsageReader(this.connection, this.config.database);
  }

  stats(): ExporterStats {
    return snapshotStats(this.counters, {
      retainedParts: this.retained.size,
      retainedRows: this.retainedRows,
      retainedBytes: this.retainedBytes,
      spooledParts: this.spool === undefined ? 0 : this.retained.size,
    });
  }

  // ---- SeriesBatchConsumer ----

  consumeBatch(batch: SeriesBatch): Promise<ConsumeResult> {
    if (this.state !== 'open') {
      return Promise.resolve(
        this.refuse(batch.points, new ExporterShutDownError('the ClickHouse exporter is shut down')),
      );
    }
    const work = this.consume(batch);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  private async consume(batch: SeriesBatch): Promise<ConsumeResult> {
    try {
      await this.start();
    } catch (error) {
      // The engine cannot run here or the options are wrong: nothing we could retain would ever be written.
      if (error instanceof EmbeddedEngineUnavailableError || error instanceof ConfigError) {
        return this.refuse(batch.points, error);
      }
      // Otherwise (server unreachable, …) each part classifies the failure itself below.
    }

    const encoded = encodeBatch(batch.points, { tenantAttribute: this.config.tenantAttribute });
    const failed: SeriesPoint[] = [];
    let firstError: Error | undefined;

    if (encoded.rejected.length > 0) {
      this.counters.rejectedRows += encoded.rejected.length;
      const letters: DeadLetter[] = encoded.rejected.map((rejected) => ({
        tenant: rejected.point.tenant,
        table: rejected.table,
        batchId: batch.id,
        errorCode: rejected.code,
        error: rejected.message,
        payload: pointToJson(rejected.point),
      }));
      const stored = await this.storeDeadLetters(letters, `tallyhouse-v1-rejected-${batch.id}`);
      if (!stored) {
        failed.push(...encoded.rejected.map((rejected) => rejected.point));
        firstError = new Error('rejected points could not be dead-lettered');
      }
    }

    const parts = encoded.tables.map((rows) =>
      createTablePart(batch.id, rows.table, rows.lines, rows.tenants, rows.points),
    );
    await Promise.all(
      parts.map(async (part) => {
        // A re-send of a part we already hold: it is ours already (same token → same rows).
        if (this.retained.has(part.token)) return;
        // Without room to keep it on failure, the part is not attempted: handing back a part whose insert
        // may have been applied would let the re-send (a new batch upstream) count it twice.
        if (!this.reserve(part)) {
          const error = new RetentionFullError(
            `retry buffer full (${this.retainedRows} rows, ${this.retainedBytes} bytes retained; limits ` +
              `${this.config.maxRetainedRows} rows / ${this.config.maxRetainedBytes} bytes): ` +
              `${part.rows} ${part.table} row(s) handed back unsent`,
          );
          firstError ??= error;
          this.counters.refusedPoints += part.points?.length ?? 0;
          failed.push(...(part.points ?? []));
          this.config.logger.warn({}, error.message);
          return;
        }
        const outcome = await this.attempt(part);
        this.unreserve(part);
        if (outcome.kind === 'retry') this.retain(part);
      }),
    );
    if (failed.length === 0) return { ok: true };
    return { ok: false, error: firstError ?? new Error('points not taken'), failed };
  }

  private refuse(points: readonly SeriesPoint[], error: Error): ConsumeResult {
    this.counters.refusedPoints += points.length;
    this.config.logger.warn({}, `handing ${points.length} point(s) back: ${error.message}`);
    return { ok: false, error, failed: points };
  }

  /** One insert of one part. Never throws: the outcome says what happened. */
  private async attempt(part: TablePart): Promise<AttemptOutcome> {
    part.attempts += 1;
    this.counters.insertAttempts += 1;
    try {
      await this.start();
      if (this.schemaStale && this.config.createSchema) {
        await this.migrate(true);
        this.schemaStale = false;
      }
      const connection = this.connection;
      if (connection === undefined) throw new Error('no storage connection');
      await connection.insertEncoded({
        database: this.config.database,
        table: part.table,
        columns: columnNames(METRIC_COLUMNS[part.table]),
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
      return { kind: 'written' };
    } catch (error) {
      this.counters.insertFailures += 1;
      const failure = classifyFailure(error, { createSchema: this.config.createSchema });
      part.lastError = `${failure.code}: ${failure.reason}`;
      if (
        (failure.code === 'UNKNOWN_TABLE' || failure.code === 'UNKNOWN_DATABASE') &&
        this.config.createSchema
      ) {
        this.schemaStale = true;
      }
      if (failure.kind === 'permanent') {
        const letters: DeadLetter[] = partLines(part).map((line, index) => ({
          tenant: part.tenants[index] ?? '',
          table: part.table,
          batchId: part.batchId,
          errorCode: failure.code,
          error: failure.reason,
          payload: line,
        }));
        if (await this.storeDeadLetters(letters, part.token)) return { kind: 'dead-lettered' };
        return { kind: 'retry', failure, error };
      }
      this.config.logger.warn(
        {},
        `insert of ${part.rows} ${part.table} row(s) failed (attempt ${part.attempts}), will retry: ${part.lastError}`,
      );
      return { kind: 'retry', failure, error };
    }
  }

  private async storeDeadLetters(letters: readonly DeadLetter[], token: string): Promise<boolean> {
    try {
      const destination = await this.deadLetters.write(this.connection, letters, token);
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

  // ---- retention and retry ----

  private reserve(part: TablePart): boolean {
    if (this.state === 'closed') return false;
    if (
      this.retainedRows + this.reservedRows + part.rows > this.config.maxRetainedRows ||
      this.retainedBytes + this.reservedBytes + part.bytes > this.config.maxRetainedBytes
    ) {
      return false;
    }
    this.reservedRows += part.rows;
    this.reservedBytes += part.bytes;
    return true;
  }

  private unreserve(part: TablePart): void {
    this.reservedRows -= part.rows;
    this.reservedBytes -= part.bytes;
  }

  /**
   * Takes responsibility for a failed part (room for it was reserved before its attempt). A spool failure
   * keeps it in memory only: it may already be applied, so handing it back could count it twice.
   */
  private retain(part: TablePart): void {
    if (this.retained.has(part.token)) return; // a concurrent re-send of the same batch got there first
    if (this.spool !== undefined) {
      try {
        this.spool.write(part);
      } catch (error) {
        this.config.logger.error(
          { error: (error as Error).message },
          `spool write failed for ${part.table} part; kept in memory only`,
        );
      }
    }
    this.hold(part);
    part.nextAttemptAt = Date.now() + this.backoff(part.attempts);
    this.scheduleRetry();
  }

  private hold(part: TablePart): void {
    this.retained.set(part.token, part);
    this.retainedRows += part.rows;
    this.retainedBytes += part.bytes;
  }

  private release(part: TablePart): void {
    if (!this.retained.delete(part.token)) return;
    this.retainedRows -= part.rows;
    this.retainedBytes -= part.bytes;
    this.spool?.remove(part);
  }

  private backoff(attempts: number): number {
    return backoffDelayMs(
      attempts,
      { initialMs: this.config.retryInitialDelayMs, maxMs: this.config.retryMaxDelayMs },
      this.config.random,
    );
  }

  private scheduleRetry(): void {
    if (this.state !== 'open' || this.retained.size === 0 || this.retryRun !== undefined) return;
    let next = Number.POSITIVE_INFINITY;
    for (const part of this.retained.values()) next = Math.min(next, part.nextAttemptAt);
    if (this.timer !== undefined && this.timerAt <= next) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        void this.retryDue(false);
      },
      Math.max(0, next - Date.now()),
    );
    // An in-app exporter must not keep the process alive; shutdown() drains explicitly.
    this.timer.unref();
  }

  /**
   * One pass over the due parts (all parts when `all`), one insert at a time. The first retryable failure ends
   * the pass: the server is struggling, so the other due parts wait as long as that one.
   */
  private retryDue(all: boolean): Promise<void> {
    this.retryRun ??= (async () => {
      const now = Date.now();
      const due = [...this.retained.values()].filter((part) => all || part.nextAttemptAt <= now);
      for (let index = 0; index < due.length; index++) {
        const part = due[index];
        if (part === undefined || !this.retained.has(part.token)) continue;
        this.counters.retries += 1;
        const outcome = await this.attempt(part);
        if (outcome.kind !== 'retry') {
          this.release(part);
          continue;
        }
        part.nextAttemptAt = Date.now() + this.backoff(part.attempts);
        for (const waiting of due.slice(index + 1)) {
          waiting.nextAttemptAt = Math.max(waiting.nextAttemptAt, part.nextAttemptAt);
        }
        break;
      }
    })().finally(() => {
      this.retryRun = undefined;
      this.scheduleRetry();
    });
    return this.retryRun;
  }

  /** Waits for in-flight batches and tries every retained part once, now. */
  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (this.retained.size > 0 && this.state === 'open') await this.retryDue(true);
  }

  /**
   * Stops taking data and keeps trying to write what is retained until `shutdownTimeoutMs`. What is still
   * unwritten then stays in the spool (if on) or goes to the dead-letter file; the report names it.
   */
  async shutdown(): Promise<void> {
    await this.shutdownWithReport();
  }

  /** `shutdown()`, returning what could not be written and where it went. Idempotent. */
  shutdownWithReport(): Promise<ShutdownReport> {
    this.shuttingDown ??= this.drainAndClose();
    return this.shuttingDown;
  }

  private async drainAndClose(): Promise<ShutdownReport> {
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    this.state = 'shutting-down';
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await untilDeadline(Promise.allSettled([...this.inFlight]), deadline);
    while (this.retained.size > 0 && Date.now() < deadline) {
      if (this.retryRun !== undefined) await untilDeadline(this.retryRun, deadline);
      else await untilDeadline(this.retryDue(true), deadline);
      if (this.retained.size === 0 || Date.now() >= deadline) break;
      let attempts = 0;
      for (const part of this.retained.values()) attempts = Math.max(attempts, part.attempts);
      await sleep(Math.min(Math.max(this.backoff(attempts), 10), deadline - Date.now()));
    }
    this.state = 'closed';

    const unwritten: UnwrittenPart[] = [...this.retained.values()].map((part) => ({
      batchId: part.batchId,
      table: part.table,
      rows: part.rows,
      lastError: part.lastError,
    }));
    const unwrittenRows = unwritten.reduce((total, part) => total + part.rows, 0);
    let keptIn: ShutdownReport['keptIn'] = 'none';
    if (unwritten.length > 0) {
      if (this.spool !== undefined) {
        keptIn = 'spool';
      } else if (this.upstreamDurable) {
        keptIn = 'upstream';
      } else {
        keptIn = 'dead-letter-file';
        for (const part of [...this.retained.values()]) {
          const letters = partLines(part).map((line, index) => ({
            tenant: part.tenants[index] ?? '',
            table: part.table,
            batchId: part.batchId,
            errorCode: 'SHUTDOWN_UNWRITTEN',
            error: part.lastError ?? 'not written before the shutdown deadline',
            payload: line,
          }));
          this.deadLetters.writeFile(letters, part.token);
          this.counters.deadLetterFileRows += letters.length;
          this.release(part);
        }
      }
      this.config.logger.error(
        { unwritten },
        `shutdown: ${unwrittenRows} row(s) in ${unwritten.length} part(s) not written to ClickHouse; kept in ${keptIn}`,
      );
    }
    const report: ShutdownReport = { unwrittenRows, unwritten, keptIn, stats: this.stats() };
    try {
      await this.connection?.close();
    } catch (error) {
      this.config.logger.warn(
        { error: (error as Error).message },
        'closing the ClickHouse connection failed',
      );
    }
    return report;
  }
}

const METRIC_TABLE_FOR_PROBE = 'otel_metrics_sum';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Resolves when `work` settles or at `deadline`, whichever is first; never rejects. */
async function untilDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([work.then(noop, noop), timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function noop(): void {}
