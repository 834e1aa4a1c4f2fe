import { randomUUID } from 'node:crypto';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { Accumulator, type AccumulatorStats, type ConsumeReport, type RequestTenant } from './accumulator.ts';
import {
  type AccumulatorOptions,
  type FlushOptions,
  type ResolvedFlushOptions,
  resolveFlushOptions,
} from './config.ts';
import { ProcessorShutdownError, TallyhouseError } from './errors.ts';
import {
  type ConsumeResult,
  type InputBatch,
  isSeriesBatchConsumer,
  type SeriesBatch,
  type SeriesBatchConsumer,
  type SeriesPoint,
} from './model.ts';
import { fromResourceMetrics, toResourceMetrics } from './sdk-adapter.ts';

/** The subset of a pino-style logger the processor uses. */
export interface ProcessorLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface TenantProcessorOptions extends AccumulatorOptions, FlushOptions {
  /** The next stage: a Tallyhouse batch consumer (e.g. the ClickHouse exporter) or any SDK `PushMetricExporter`. */
  next: SeriesBatchConsumer | PushMetricExporter;
  logger?: ProcessorLogger;
  /** Start the interval timer (default true). Tests and embedders that drive `flush()` themselves turn it off. */
  autoFlush?: boolean;
  /** Called after every flush, e.g. to publish its duration. */
  onFlush?: (report: FlushReport, durationMs: number) => void;
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

const SILENT_LOGGER: ProcessorLogger = { warn() {}, error() {} };

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
  private readonly logger: ProcessorLogger;
  private readonly onFlush: TenantProcessorOptions['onFlush'];
  private readonly batchIdPrefix = randomUUID();
  private batchSequence = 0;
  private inFlight: Promise<FlushReport> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sizeTriggerPausedUntil = 0;
  private isShutdown = false;
  private readonly flushCounters = { flushes: 0, failedFlushes: 0, batchesSent: 0, pointsSent: 0 };

  constructor(options: TenantProcessorOptions) {
    this.accumulator = new Accumulator(options);
    this.flushOptions = resolveFlushOptions(options);
    this.next = options.next;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.onFlush = options.onFlush;
    if (options.autoFlush !== false) this.startTimer();
  }

  // ---- intake ----

  /**
   * Takes one input as a whole. Throws `BufferFullError` (retry later) when the buffer is full, and
   * `ProcessorShutdownError` after shutdown. Invalid points are rejected, counted, logged and reported.
   */
  consume(input: InputBatch, request?: RequestTenant): ConsumeReport {
    if (this.isShutdown) throw new ProcessorShutdownError();
    let report: ConsumeReport;
    try {
      report = this.accumulator.consume(input, request);
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
    this.accumulator.evictStaleStreams();
    const points = this.accumulator.take();
    const errors: Error[] = [];
    let retained = 0;
    for (const batch of this.toBatches(points)) {
      const result = await this.handOff(batch);
      const failed = result.ok ? [] : result.failed;
      this.accumulator.settle(batch.points.length, failed);
      this.flushCounters.batchesSent++;
      this.flushCounters.pointsSent += batch.points.length - failed.length;
      if (!result.ok) {
        retained += failed.length;
        errors.push(result.error);
      }
    }
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
    return { sent: points.length - retained, retained, errors };
  }

  /** Batches are per point kind (one ClickHouse table each) and at most `maxBatchPoints` long. */
  private *toBatches(points: readonly SeriesPoint[]): Generator<SeriesBatch> {
    const byKind = new Map<string, SeriesPoint[]>();
    for (const point of points) {
      let list = byKind.get(point.metric.kind);
      if (list === undefined) {
        list = [];
        byKind.set(point.metric.kind, list);
      }
      list.push(point);
    }
    const size = this.flushOptions.maxBatchPoints;
    for (const list of byKind.values()) {
      for (let start = 0; start < list.length; start += size) {
        yield {
          id: `${this.batchIdPrefix}-${++this.batchSequence}`,
          points: list.slice(start, start + size),
        };
      }
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
    if (this.inFlight || this.accumulator.bufferedCount() < this.flushOptions.flushMaxSeries) return;
    if (Date.now() < this.sizeTriggerPausedUntil) return;
    void this.flush();
  }

  /** After a failed flush, size-triggered flushes wait for the next interval instead of hammering the next stage. */
  private pauseSizeTrigger() {
    this.sizeTriggerPausedUntil = Date.now() + this.flushOptions.flushIntervalMs;
  }

  private startTimer() {
    this.timer = setInterval(() => void this.flush(), this.flushOptions.flushIntervalMs);
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

function flushFailure(report: FlushReport) {
  return new FlushFailedError(report);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
