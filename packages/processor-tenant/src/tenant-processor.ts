import { randomUUID } from 'node:crypto';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  type ConsumeResult,
  type InputBatch,
  isSeriesBatchConsumer,
  type Logger,
  type SeriesBatch,
  type SeriesBatchConsumer,
  type SeriesPoint,
  silentLogger,
  TallyhouseError,
} from '@tallyhouse/model';
import {
  Accumulator,
  type AccumulatorStats,
  type ConsumeOptions,
  type ConsumeReport,
  type RequestTenant,
} from './accumulator.ts';
import {
  type AccumulatorOptions,
  type FlushOptions,
  type ResolvedFlushOptions,
  resolveFlushOptions,
} from './config.ts';
import { ProcessorShutdownError } from './errors.ts';
import { fromResourceMetrics, toResourceMetrics } from './sdk-adapter.ts';

export interface TenantProcessorOptions extends AccumulatorOptions, FlushOptions {
  /** The next stage: a Tallyhouse batch consumer (e.g. the ClickHouse exporter) or any SDK `PushMetricExporter`. */
  next: SeriesBatchConsumer | PushMetricExporter;
  /** Where refusals and failed flushes are logged. Default: silent (the stats count them). */
  logger?: Logger;
  /** Start the interval timer (default true). Tests and embedders that drive `flush()` themselves turn it off. */
  autoFlush?: boolean;
  /** Called after every flush, e.g. to publish its duration. */
  onFlush?: (report: FlushReport, durationMs: number) => void;
  /** Records flushes in a write-ahead log so a restart can replay them exactly (the collector's WAL). */
  journal?: FlushJournal;
}

/** Which points of a batch the next stage did not take (positions in `batch.points`). */
export interface BatchFailure {
  readonly batchId: string;
  readonly indexes: readonly number[];
}

/**
 * A write-ahead log's view of flushes. Together with the logged input, the start and the settled failures of
 * every flush let a replay rebuild the same buffer and the same batches (same ids, same contents).
 */
export interface FlushJournal {
  /** Wall clock in ms, recorded with each flush so stream eviction replays identically. */
  clock(): number;
  /**
   * Records the flush start, synchronously right before the buffer is taken; returns the label batch ids derive
   * from. If it throws, the flush does not happen.
   */
  flushStarted(nowMs: number): string;
  /** Synchronously right after the buffer was taken (e.g. to snapshot the stream state as of the flush start). */
  flushTaken(label: string): void;
  /** Awaited before any batch is handed off: the flush start must be durable before storage can see it. */
  beforeHandOff(): Promise<void>;
  /**
   * Synchronously after every batch was handed off, before the failed points merge back. It must not throw:
   * a journal that cannot record the outcome must stop further flushes itself (its `flushStarted` throws).
   */
  flushSettled(label: string, failures: readonly BatchFailure[]): void;
}

export interface ReplayedFlush {
  readonly label: string;
  readonly points: number;
  readonly batches: readonly SeriesBatch[];
}

export interface FlushReport {
  /** Points handed to the next stage. */
  readonly sent: number;
  /** Points the next stage did not take; they are back in the buffer. */
  readonly retained: number;
  readonly errors: readonly Error[];
}

export interface ProcessorStats extends AccumulatorStats {
  flushes: number;
  failedFlushes: number;
  batchesSent: number;
  pointsSent: number;
  msSinceDrained: number;
}

/**
 * Buffers data points per tenant series and hands them on in batches, every `flushIntervalMs` or once
 * `flushMaxSeries` series are buffered. Works as an SDK `PushMetricExporter` decorator (in an app, behind a
 * `PeriodicExportingMetricReader`) and as the collector's processing stage (`consume`).
 *
 * What the next stage does not take stays buffered and merges with newer data; the flush clock restarts
 * only when a flush hands off everything it took.
 */
export class TenantProcessor implements PushMetricExporter {
  readonly accumulator: Accumulator;
  private readonly flushOptions: ResolvedFlushOptions;
  private readonly next: SeriesBatchConsumer | PushMetricExporter;
  private readonly logger: Logger;
  private readonly onFlush: TenantProcessorOptions['onFlush'];
  private readonly batchIdPrefix = randomUUID();
  private flushSequence = 0;
  private readonly journal: FlushJournal | undefined;
  private inFlight: Promise<FlushReport> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sizeTriggerPausedUntil = 0;
  private sizeFlushScheduled = false;
  private isShutdown = false;
  private readonly flushCounters = { flushes: 0, failedFlushes: 0, batchesSent: 0, pointsSent: 0 };

  constructor(options: TenantProcessorOptions) {
    this.accumulator = new Accumulator(options);
    this.flushOptions = resolveFlushOptions(options);
    this.next = options.next;
    this.logger = options.logger ?? silentLogger;
    this.onFlush = options.onFlush;
    this.journal = options.journal;
    if (options.autoFlush !== false) this.start();
  }

  // ---- intake ----

  /**
   * Takes one input as a whole. Throws `BufferFullError` (retry later) when the buffer is full, and
   * `ProcessorShutdownError` after shutdown. Invalid points are rejected, counted, logged and reported.
   */
  consume(input: InputBatch, request?: RequestTenant, options?: ConsumeOptions): ConsumeReport {
    if (this.isShutdown) throw new ProcessorShutdownError();
    let report: ConsumeReport;
    try {
      report = this.accumulator.consume(input, request, options);
    } catch (error) {
      this.logger.warn({ err: error, tenant: request?.tenant }, 'tenant processor refused input');
      throw error;
    }
    if (report.rejectedPoints > 0) {
      this.logger.warn(
        { rejected: report.rejectedByReason, tenant: request?.tenant, messages: report.rejectionMessages },
        'tenant processor rejected data points',
      );
    }
    this.maybeFlushForSize();
    return report;
  }

  /** False once `shutdown()` began: `consume` would throw `ProcessorShutdownError`. */
  get accepting(): boolean {
    return !this.isShutdown;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    try {
      this.consume(fromResourceMetrics(metrics));
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  /** Deltas merge by addition without per-stream state; cumulative input is converted anyway. */
  selectAggregationTemporality(_instrumentType?: InstrumentType): AggregationTemporality {
    return AggregationTemporality.DELTA;
  }

  // ---- flushing ----

  /** Series held (buffered plus in flight). */
  count(): number {
    return this.accumulator.count();
  }

  elapsedSinceDrainedMs(): number {
    return this.accumulator.elapsedSinceDrainedMs();
  }

  /**
   * Hands every buffered series to the next stage. Only one flush runs at a time; a call during a flush
   * waits for it and returns its report (data that arrived meanwhile goes with the next flush).
   */
  flush(): Promise<FlushReport> {
    this.inFlight ??= this.runFlush().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Flushes everything held now, including data that arrived during a running flush. */
  async forceFlush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    const report = await this.flush();
    await this.next.forceFlush?.();
    if (report.retained > 0) throw flushFailure(report);
  }

  /** Stops intake and drains, retrying until `shutdownTimeoutMs`; throws with what could not be written. */
  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    this.isShutdown = true;
    this.stopTimer();
    const deadline = Date.now() + this.flushOptions.shutdownTimeoutMs;
    let report = await this.flushAfterInFlight();
    for (
      let pause = 100;
      report.retained > 0 && Date.now() + pause < deadline;
      pause = Math.min(pause * 2, 2_000)
    ) {
      await sleep(pause);
      report = await this.flush();
    }
    await this.next.shutdown?.();
    if (report.retained > 0) {
      this.logger.error(
        { retained: report.retained, errors: report.errors.map(String) },
        'shutdown could not drain the buffer',
      );
      throw flushFailure(report);
    }
  }

  stats(): ProcessorStats {
    return {
      ...this.accumulator.stats(),
      ...this.flushCounters,
      msSinceDrained: this.elapsedSinceDrainedMs(),
    };
  }

  private async flushAfterInFlight(): Promise<FlushReport> {
    if (this.inFlight) await this.inFlight;
    return this.flush();
  }

  private async runFlush(): Promise<FlushReport> {
    const started = performance.now();
    const report = await this.flushOnce();
    this.onFlush?.(report, performance.now() - started);
    return report;
  }

  private async flushOnce(): Promise<FlushReport> {
    this.flushCounters.flushes++;
    const now = this.journal?.clock() ?? Date.now();
    let label: string;
    try {
      label = this.journal?.flushStarted(now) ?? `${this.batchIdPrefix}-${++this.flushSequence}`;
    } catch (error) {
      // Nothing was taken: the buffer stays as it is, and so does the journal's view of it.
      return this.finishFlush(this.accumulator.count(), this.accumulator.count(), [asError(error)]);
    }
    this.accumulator.evictStaleStreams(now);
    const points = this.accumulator.take();
    this.journal?.flushTaken(label);
    const batches = this.toBatches(points, label);
    const failures: BatchFailure[] = [];
    const failedPoints: SeriesPoint[] = [];
    const errors: Error[] = [];
    try {
      await this.journal?.beforeHandOff();
    } catch (error) {
      // The flush start is not durable, so storage must not see its batches: all of them stay buffered.
      failedPoints.push(...points);
      errors.push(asError(error));
      batches.length = 0;
    }
    for (const batch of batches) {
      const result = await this.handOff(batch);
      this.flushCounters.batchesSent++;
      if (result.ok) continue;
      const failed = new Set(result.failed);
      failures.push({ batchId: batch.id, indexes: indexesOf(batch.points, failed) });
      failedPoints.push(...failed);
      errors.push(result.error);
    }
    // Recorded, then merged back in the same tick, so a journal replay sees them at the same place in history.
    this.journal?.flushSettled(label, failures);
    this.accumulator.settle(points.length, failedPoints);
    this.flushCounters.pointsSent += points.length - failedPoints.length;
    return this.finishFlush(points.length, failedPoints.length, errors);
  }

  private finishFlush(taken: number, retained: number, errors: Error[]): FlushReport {
    if (retained === 0) {
      this.accumulator.markDrained();
    } else {
      this.flushCounters.failedFlushes++;
      this.pauseSizeTrigger();
      this.logger.warn(
        { retained, errors: errors.map(String) },
        'next stage did not take a flush; the points stay buffered',
      );
    }
    return { sent: taken - retained, retained, errors };
  }

  /**
   * Batches are per point kind (one ClickHouse table each) and at most `maxBatchPoints` long. Ids derive from
   * the flush label, so the same history (a journal replay) yields the same batches under the same ids.
   */
  private toBatches(points: readonly SeriesPoint[], label: string): SeriesBatch[] {
    const byKind = new Map<string, SeriesPoint[]>();
    for (const point of points) {
      let list = byKind.get(point.metric.kind);
      if (list === undefined) {
        list = [];
        byKind.set(point.metric.kind, list);
      }
      list.push(point);
    }
    const batches: SeriesBatch[] = [];
    const size = this.flushOptions.maxBatchPoints;
    for (const list of byKind.values()) {
      for (let start = 0; start < list.length; start += size) {
        batches.push({ id: `${label}-${batches.length + 1}`, points: list.slice(start, start + size) });
      }
    }
    return batches;
  }

  // ---- journal replay ----

  /**
   * Replays the start of a journaled flush: evicts and takes exactly as the live flush did. The batches are
   * handed off later by `replayFlushSettled`, after the input that arrived during the live flush.
   */
  replayFlushStarted(label: string, nowMs: number): ReplayedFlush {
    this.accumulator.evictStaleStreams(nowMs);
    const points = this.accumulator.take();
    return { label, points: points.length, batches: this.toBatches(points, label) };
  }

  /**
   * Replays the end of a journaled flush: hands off what the live flush handed off successfully (the same
   * batch ids and contents, so storage deduplicates what it already has), retrying until the next stage
   * takes it, then merges back the points the live flush recorded as failed. `failures` undefined means the
   * live flush never finished: everything is handed off.
   */
  async replayFlushSettled(
    flush: ReplayedFlush,
    failures: readonly BatchFailure[] | undefined,
  ): Promise<void> {
    const failedIndexes = new Map(
      (failures ?? []).map((failure) => [failure.batchId, new Set(failure.indexes)]),
    );
    const failedPoints: SeriesPoint[] = [];
    for (const batch of flush.batches) {
      const failed = failedIndexes.get(batch.id);
      const points =
        failed === undefined ? batch.points : batch.points.filter((_, index) => !failed.has(index));
      if (failed !== undefined) failedPoints.push(...batch.points.filter((_, index) => failed.has(index)));
      if (points.length > 0) await this.handOffUntilTaken({ id: batch.id, points });
    }
    this.accumulator.settle(flush.points, failedPoints);
  }

  private async handOffUntilTaken(batch: SeriesBatch): Promise<void> {
    for (let pause = 200; ; pause = Math.min(pause * 2, 5_000)) {
      const result = await this.handOff(batch);
      if (result.ok) return;
      // Resending a subset would change the batch and its deduplication tokens: resend it whole.
      this.logger.warn(
        { batch: batch.id, err: result.error.message },
        'replay: next stage did not take a batch; retrying',
      );
      await sleep(pause);
    }
  }

  private async handOff(batch: SeriesBatch): Promise<ConsumeResult> {
    try {
      if (isSeriesBatchConsumer(this.next)) return await this.next.consumeBatch(batch);
      return await this.exportToSdkExporter(this.next, batch);
    } catch (error) {
      return { ok: false, error: asError(error), failed: batch.points };
    }
  }

  private async exportToSdkExporter(
    exporter: PushMetricExporter,
    batch: SeriesBatch,
  ): Promise<ConsumeResult> {
    const parts = toResourceMetrics(batch, this.accumulator.options.tenantAttribute);
    for (const [index, part] of parts.entries()) {
      const result = await new Promise<ExportResult>((resolve) =>
        exporter.export(part.resourceMetrics, resolve),
      );
      if (result.code !== ExportResultCode.SUCCESS) {
        // A plain exporter answers all-or-nothing per call: the parts it already took are done.
        const failed = parts.slice(index).flatMap((rest) => rest.points);
        return { ok: false, error: result.error ?? new Error('next exporter reported FAILED'), failed };
      }
    }
    return { ok: true };
  }

  private maybeFlushForSize() {
    if (this.sizeFlushScheduled || this.inFlight) return;
    if (this.accumulator.bufferedCount() < this.flushOptions.flushMaxSeries) return;
    if (Date.now() < this.sizeTriggerPausedUntil) return;
    // Not inside `consume`: its caller may have an answer to send first (the collector's 200).
    this.sizeFlushScheduled = true;
    setImmediate(() => {
      this.sizeFlushScheduled = false;
      this.flushInBackground();
    });
  }

  /** A flush nobody awaits: its failure is logged, never an unhandled rejection. */
  private flushInBackground() {
    this.flush().catch((error: unknown) => this.logger.error({ err: error }, 'background flush failed'));
  }

  /** After a failed flush, size-triggered flushes wait for the next interval instead of hammering the next stage. */
  private pauseSizeTrigger() {
    this.sizeTriggerPausedUntil = Date.now() + this.flushOptions.flushIntervalMs;
  }

  /** Starts the interval timer (idempotent); for processors built with `autoFlush: false`. */
  start() {
    if (this.timer !== undefined || this.isShutdown) return;
    this.timer = setInterval(() => this.flushInBackground(), this.flushOptions.flushIntervalMs);
    this.timer.unref();
  }

  private stopTimer() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export class FlushFailedError extends TallyhouseError {
  readonly retained: number;

  constructor(report: FlushReport) {
    super(
      'FLUSH_FAILED',
      `${report.retained} points could not be handed to the next stage and stay buffered: ${report.errors.map((e) => e.message).join('; ')}`,
      { cause: report.errors[0] },
    );
    this.retained = report.retained;
  }
}

function indexesOf(points: readonly SeriesPoint[], selected: ReadonlySet<SeriesPoint>): number[] {
  const indexes: number[] = [];
  points.forEach((point, index) => {
    if (selected.has(point)) indexes.push(index);
  });
  return indexes;
}

function flushFailure(report: FlushReport) {
  return new FlushFailedError(report);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
