import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  type InputBatch,
  type Logger,
  type SeriesBatchConsumer,
  silentLogger,
  TallyhouseError,
} from '@tallyhouse/model';
import { Accumulator, type AccumulatorStats, type ConsumeOptions } from './accumulator.ts';
import {
  type AccumulatorOptions,
  type FlushOptions,
  type ResolvedFlushOptions,
  resolveFlushOptions,
} from './config.ts';
import type { ConsumeReport } from './consume-report.ts';
import { ProcessorShutdownError } from './errors.ts';
import type { BatchFailure, FlushLog } from './flush-log.ts';
import { FlushSchedule } from './flush-schedule.ts';
import { Flusher, type FlushReport, type ReplayedFlush, sleep } from './flusher.ts';
import type { RequestTenant } from './input-walk.ts';
import { fromResourceMetrics } from './sdk-adapter.ts';
import { batchConsumerOf } from './sdk-exporter-stage.ts';
import type { Resolution, StreamMarks } from './stream-marks.ts';
import type { StreamSnapshotEntry } from './stream-store.ts';

export interface TenantProcessorOptions extends AccumulatorOptions, FlushOptions {
  /** The next stage: a Tallyhouse batch consumer (e.g. the ClickHouse exporter) or any SDK `PushMetricExporter`. */
  next: SeriesBatchConsumer | PushMetricExporter;
  /** Where refusals and failed flushes are logged. Default: silent (the stats count them). */
  logger?: Logger;
  /** Start the interval timer (default true). Tests and embedders that drive `flush()` themselves turn it off. */
  autoFlush?: boolean;
  /** Called after every flush, e.g. to publish its duration. */
  onFlush?: (report: FlushReport, durationMs: number) => void;
  /** Records flushes so a restart can replay them exactly (the collector's write-ahead log). */
  flushLog?: FlushLog;
  /**
   * Shared marks of cumulative streams, for several processes that share one store (collectors behind a load
   * balancer): a stream's first interval here is counted only when no other process counted it (stream-marks.ts).
   */
  streamMarks?: StreamMarks;
}

export interface ProcessorStats extends AccumulatorStats {
  flushes: number;
  failedFlushes: number;
  batchesSent: number;
  pointsSent: number;
  /** Shared marks: flushes whose mark round failed (held first intervals wait for the next). */
  failedMarkRounds: number;
  msSinceDrained: number;
}

/**
 * Buffers data points per tenant series and hands them on in batches, every `flushIntervalMs` or once
 * `flushMaxSeries` series are buffered. Works as an SDK `PushMetricExporter` decorator (in an app, behind a
 * `PeriodicExportingMetricReader`) and as the collector's processing stage (`consume`).
 *
 * What the next stage does not take stays buffered and merges with newer data; the flush clock restarts
 * only when a flush hands off everything it took.
 *
 * For a durable intake in front of it (the collector's write-ahead log), which logs input before applying it
 * and replays the log after a restart: `reserve` and `assess` check and report an input without applying it;
 * `replayInput`, `restoreStreams`, `replayFlushStarted` and `replayFlushSettled` rebuild the state the log
 * describes; the `flushLog` option records every flush.
 */
export class TenantProcessor implements PushMetricExporter {
  private readonly accumulator: Accumulator;
  private readonly flushOptions: ResolvedFlushOptions;
  private readonly next: SeriesBatchConsumer;
  private readonly logger: Logger;
  private readonly onFlush: TenantProcessorOptions['onFlush'];
  private readonly flusher: Flusher;
  private readonly schedule: FlushSchedule;
  private isShutdown = false;

  constructor(options: TenantProcessorOptions) {
    this.accumulator = new Accumulator(options, undefined, options.streamMarks !== undefined);
    this.flushOptions = resolveFlushOptions(options);
    this.next = batchConsumerOf(options.next, this.accumulator.options.tenantAttribute);
    this.logger = options.logger ?? silentLogger;
    this.onFlush = options.onFlush;
    this.flusher = new Flusher({
      accumulator: this.accumulator,
      marks: options.streamMarks,
      next: this.next,
      log: options.flushLog,
      logger: this.logger,
      maxBatchPoints: this.flushOptions.maxBatchPoints,
    });
    this.schedule = new FlushSchedule(() => this.runFlush(), this.flushOptions, this.logger);
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
    this.schedule.sizeChanged(this.accumulator.bufferedCount());
    return report;
  }

  /**
   * Throws the `BufferFullError` `consume` would throw for `input` now, without applying anything: for an
   * intake that logs input before applying it (and then applies it with `force`).
   */
  reserve(input: InputBatch, request?: RequestTenant) {
    this.accumulator.reserve(input, request);
  }

  /**
   * What `consume` will report for `input` (accepted and rejected points), without applying anything; applying
   * the same input object with the same request then decides exactly so, even if other input came in between.
   */
  assess(input: InputBatch, request?: RequestTenant): ConsumeReport {
    return this.accumulator.assess(input, request);
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
    return this.schedule.flush();
  }

  /** Flushes everything held now, including data that arrived during a running flush. */
  async forceFlush(): Promise<void> {
    const report = await this.schedule.flushAfterRunning();
    await this.next.forceFlush?.();
    if (report.retained > 0) throw new FlushFailedError(report);
  }

  /** Stops intake and drains, retrying until `shutdownTimeoutMs`; throws with what could not be written. */
  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    this.isShutdown = true;
    this.schedule.stop();
    const deadline = Date.now() + this.flushOptions.shutdownTimeoutMs;
    let report = await this.schedule.flushAfterRunning();
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
      throw new FlushFailedError(report);
    }
  }

  /** Starts the interval timer (idempotent); for processors built with `autoFlush: false`. */
  start() {
    if (!this.isShutdown) this.schedule.start();
  }

  stats(): ProcessorStats {
    return {
      ...this.accumulator.stats(),
      ...this.flusher.counters,
      msSinceDrained: this.elapsedSinceDrainedMs(),
    };
  }

  private async runFlush(): Promise<FlushReport> {
    const started = performance.now();
    const report = await this.flusher.flush();
    this.onFlush?.(report, performance.now() - started);
    return report;
  }

  // ---- replay of a durable intake's log ----

  /**
   * Applies an input the log recorded as applied, as `consume` with `force` did live, at its recorded arrival
   * time. Triggers no flush (only recorded flushes replay) and logs nothing.
   */
  replayInput(input: InputBatch, request: RequestTenant, arrivalMs: number): ConsumeReport {
    return this.accumulator.consume(input, request, { nowMs: arrivalMs, force: true });
  }

  /** Replaces the cumulative streams' state with a checkpoint's (what `FlushLog.taken` was given). */
  restoreStreams(entries: readonly StreamSnapshotEntry[]) {
    this.accumulator.restoreStreams(entries);
  }

  /**
   * Replays the start of a recorded flush: evicts and takes exactly as the live flush did. The batches are
   * handed off later by `replayFlushSettled`, after the input that arrived during the live flush.
   */
  replayFlushStarted(label: string, nowMs: number): ReplayedFlush {
    return this.flusher.replayStarted(label, nowMs);
  }

  /** Counts held first intervals as the live process did (what `FlushLog.resolved` was given). */
  replayStreamsResolved(resolutions: readonly Resolution[]) {
    this.flusher.replayResolved(resolutions);
  }

  /**
   * Replays the end of a recorded flush: hands off what the live flush handed off successfully (the same
   * batch ids and contents, so storage deduplicates what it already has), retrying until the next stage
   * takes it, then merges back the points the live flush recorded as failed. `failures` undefined means the
   * live flush never finished: everything is handed off.
   */
  replayFlushSettled(flush: ReplayedFlush, failures: readonly BatchFailure[] | undefined): Promise<void> {
    return this.flusher.replaySettled(flush, failures);
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
