/**
 * `ClickHouseMetricExporter`: the last stage. Takes batches in the internal representation (`consumeBatch`;
 * inside an app, the tenant processor is the SDK exporter in front of it), writes one insert per table per
 * batch with a deterministic deduplication token (`part-writer.ts`), keeps what fails for a retryable reason
 * (bounded, optionally spooled to disk) and retries it with exponential backoff and full jitter
 * (`retry-queue.ts`), and dead-letters what can never be written.
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
import { EmbeddedEngineUnavailableError, ExporterShutDownError } from './errors.ts';
import { PartWriter } from './part-writer.ts';
import { ClickHouseQuotaUsage } from './quota-usage-table.ts';
import { RetryQueue } from './retry-queue.ts';
import { drainAndClose, type ShutdownReport } from './shutdown.ts';
import { Spool } from './spool.ts';
import { createStats, type ExporterStats, type MutableStats, snapshotStats } from './stats.ts';
import { StorageSession } from './storage-session.ts';
import { ClickHouseStreamMarks } from './stream-marks-table.ts';
import type { UsageReader } from './usage/usage-reader.ts';

export interface ClickHouseMetricExporterOptions extends ClickHouseExporterOptions {
  /**
   * The caller keeps every batch durably until it is written and re-sends unwritten ones after a restart
   * (the collector's write-ahead log). Then `shutdown()` leaves unwritten parts to it instead of dead-lettering
   * them, which would store them twice once the caller re-sends.
   */
  upstreamDurable?: boolean;
}

export class ClickHouseMetricExporter implements SeriesBatchConsumer {
  readonly config: ResolvedExporterConfig;
  private readonly session: StorageSession;
  private readonly writer: PartWriter;
  private readonly queue: RetryQueue;
  private readonly upstreamDurable: boolean;
  private readonly inFlight = new Set<Promise<unknown>>();
  private open = true;
  private shuttingDown: Promise<ShutdownReport> | undefined;
  private readonly counters: MutableStats = createStats();

  constructor(options: ClickHouseMetricExporterOptions = {}) {
    this.config = resolveExporterConfig(options);
    this.upstreamDurable = options.upstreamDurable === true;
    this.session = new StorageSession(this.config);
    this.writer = new PartWriter(this.config, this.session, this.counters);
    const spool = this.config.spool ? new Spool(this.config.dataDir, this.config.logger) : undefined;
    this.queue = new RetryQueue({
      config: this.config,
      counters: this.counters,
      spool,
      attempt: (part) => this.writer.attempt(part),
    });
    if (spool !== undefined) this.queue.replay(spool.load());
  }

  /** Connects, creates/migrates the schema. Idempotent; called lazily by `consumeBatch`. */
  start(): Promise<void> {
    return this.session.start();
  }

  /** True when storage answers and the schema is in place (for readiness probes). */
  isReady(): Promise<boolean> {
    return this.session.isReady();
  }

  /** Tenant-scoped reads of what was written (every query requires a valid tenant). */
  reader(): Promise<UsageReader> {
    return this.session.reader();
  }

  /**
   * Shared marks of cumulative streams in this exporter's store, written as `owner` (a collector's identity): what
   * lets several collectors behind one load balancer never count a stream twice (`TenantProcessor.streamMarks`).
   */
  streamMarks(owner: string): ClickHouseStreamMarks {
    return new ClickHouseStreamMarks({
      owner,
      database: this.config.database,
      connect: () => this.session.forInsert(),
    });
  }

  /**
   * Quota counters shared by the collectors writing to this store (`tallyhouse_quota_usage`), as `owner`: a
   * tenant's data-point quota then holds across all of them.
   */
  quotaUsage(owner: string): ClickHouseQuotaUsage {
    return new ClickHouseQuotaUsage({
      owner,
      database: this.config.database,
      connect: () => this.session.forInsert(),
    });
  }

  stats(): ExporterStats {
    return snapshotStats(this.counters, this.queue.gauges());
  }

  consumeBatch(batch: SeriesBatch): Promise<ConsumeResult> {
    if (!this.open) {
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
      await this.session.start();
    } catch (error) {
      // The engine cannot run here or the options are wrong: nothing we could retain would ever be written.
      if (error instanceof EmbeddedEngineUnavailableError || error instanceof ConfigError) {
        return this.refuse(batch.points, error);
      }
      // Otherwise (server unreachable, …) each part classifies the failure itself below.
    }

    const { parts, unstored } = await this.writer.encode(batch);
    const failed: SeriesPoint[] = [...unstored];
    let firstError: Error | undefined =
      unstored.length > 0 ? new Error('rejected points could not be dead-lettered') : undefined;
    await Promise.all(
      parts.map(async (part) => {
        const full = await this.queue.admit(part);
        if (full === undefined) return;
        firstError ??= full;
        this.counters.refusedPoints += part.points?.length ?? 0;
        failed.push(...(part.points ?? []));
        this.config.logger.warn({}, full.message);
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

  /** Waits for in-flight batches and tries every retained part once, now. */
  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (this.queue.size > 0 && this.open) await this.queue.retryDue(true);
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
    this.open = false;
    this.shuttingDown ??= drainAndClose({
      config: this.config,
      inFlight: this.inFlight,
      queue: this.queue,
      writer: this.writer,
      session: this.session,
      keep: { spool: this.config.spool, upstream: this.upstreamDurable },
      stats: () => this.stats(),
    });
    return this.shuttingDown;
  }
}
