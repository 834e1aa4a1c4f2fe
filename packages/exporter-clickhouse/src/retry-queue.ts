/**
 * The parts the exporter has taken responsibility for but not yet written: bounded by rows and bytes, optionally
 * spooled to disk, retried with exponential backoff and full jitter, one pass and one insert at a time.
 *
 * Room is reserved *before* a part is attempted: a part that may have reached ClickHouse is never handed back
 * (an upstream re-send under a new batch id would then count it twice), so without room it is not attempted.
 */
import type { ResolvedExporterConfig } from './config.ts';
import { RetentionFullError } from './errors.ts';
import type { AttemptOutcome } from './part-writer.ts';
import { backoffDelayMs } from './retry-policy.ts';
import type { Spool } from './spool.ts';
import type { ExporterStats, MutableStats } from './stats.ts';
import type { TablePart } from './table-part.ts';

export interface RetryQueueOptions {
  readonly config: ResolvedExporterConfig;
  readonly counters: MutableStats;
  readonly spool: Spool | undefined;
  /** One insert of a part (the part writer's). */
  readonly attempt: (part: TablePart) => Promise<AttemptOutcome>;
}

export class RetryQueue {
  private readonly config: ResolvedExporterConfig;
  private readonly counters: MutableStats;
  private readonly spool: Spool | undefined;
  private readonly attemptPart: (part: TablePart) => Promise<AttemptOutcome>;
  private readonly retained = new Map<string, TablePart>();
  private retainedRows = 0;
  private retainedBytes = 0;
  /** Room promised to parts being attempted. */
  private reservedRows = 0;
  private reservedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private retryRun: Promise<void> | undefined;
  /** Off once shutdown drives the retries itself. */
  private scheduling = true;
  /** Closed: no room for anything any more. */
  private closed = false;

  constructor(options: RetryQueueOptions) {
    this.config = options.config;
    this.counters = options.counters;
    this.spool = options.spool;
    this.attemptPart = options.attempt;
  }

  get size(): number {
    return this.retained.size;
  }

  parts(): TablePart[] {
    return [...this.retained.values()];
  }

  gauges(): Pick<ExporterStats, 'retainedParts' | 'retainedRows' | 'retainedBytes' | 'spooledParts'> {
    return {
      retainedParts: this.retained.size,
      retainedRows: this.retainedRows,
      retainedBytes: this.retainedBytes,
      spooledParts: this.spool === undefined ? 0 : this.retained.size,
    };
  }

  /** Parts spooled by an earlier exporter: everything spooled was acknowledged before, so it is ours to write. */
  replay(parts: readonly TablePart[]): void {
    for (const part of parts) this.hold(part);
    this.counters.replayedParts = this.retained.size;
    if (this.retained.size > 0) {
      this.config.logger.info({}, `replaying ${this.retained.size} spooled part(s)`);
      this.schedule();
    }
  }

  /**
   * Takes a fresh part: attempts it with room reserved to keep it, and keeps it when the attempt must be
   * retried. A re-send of a part already held is ours already (same token → same rows). Answers a
   * `RetentionFullError`, without an attempt, when there is no room to keep it.
   */
  async admit(part: TablePart): Promise<RetentionFullError | undefined> {
    if (this.retained.has(part.token)) return undefined;
    if (!this.reserve(part)) {
      return new RetentionFullError(
        `retry buffer full (${this.retainedRows} rows, ${this.retainedBytes} bytes retained; limits ` +
          `${this.config.maxRetainedRows} rows / ${this.config.maxRetainedBytes} bytes): ` +
          `${part.rows} ${part.table} row(s) handed back unsent`,
      );
    }
    const outcome = await this.attemptPart(part);
    this.reservedRows -= part.rows;
    this.reservedBytes -= part.bytes;
    if (outcome === 'retry') this.retain(part);
    return undefined;
  }

  private reserve(part: TablePart): boolean {
    if (this.closed) return false;
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
    this.schedule();
  }

  private hold(part: TablePart): void {
    this.retained.set(part.token, part);
    this.retainedRows += part.rows;
    this.retainedBytes += part.bytes;
  }

  /** The part is written or dead-lettered: no longer ours to keep. */
  release(part: TablePart): void {
    if (!this.retained.delete(part.token)) return;
    this.retainedRows -= part.rows;
    this.retainedBytes -= part.bytes;
    this.spool?.remove(part);
  }

  backoff(attempts: number): number {
    return backoffDelayMs(
      attempts,
      { initialMs: this.config.retryInitialDelayMs, maxMs: this.config.retryMaxDelayMs },
      this.config.random,
    );
  }

  private schedule(): void {
    if (!this.scheduling || this.retained.size === 0 || this.retryRun !== undefined) return;
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

  /** The running retry pass, if any (shutdown waits for it rather than starting another). */
  get running(): Promise<void> | undefined {
    return this.retryRun;
  }

  /**
   * One pass over the due parts (all parts when `all`), one insert at a time. The first retryable failure ends
   * the pass: the server is struggling, so the other due parts wait as long as that one.
   */
  retryDue(all: boolean): Promise<void> {
    this.retryRun ??= (async () => {
      const now = Date.now();
      const due = [...this.retained.values()].filter((part) => all || part.nextAttemptAt <= now);
      for (let index = 0; index < due.length; index++) {
        const part = due[index];
        if (part === undefined || !this.retained.has(part.token)) continue;
        this.counters.retries += 1;
        const outcome = await this.attemptPart(part);
        if (outcome !== 'retry') {
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
      this.schedule();
    });
    return this.retryRun;
  }

  /** Shutdown drives the retries from now on: no timer any more. */
  stopScheduling(): void {
    this.scheduling = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** No room for anything from now on: a part still arriving is handed back unsent. */
  close(): void {
    this.closed = true;
  }
}
