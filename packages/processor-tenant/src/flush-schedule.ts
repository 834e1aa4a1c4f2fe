import type { Logger } from '@tallyhouse/model';
import type { FlushReport } from './flusher.ts';

export interface FlushScheduleOptions {
  /** Flush at least this often (while started). */
  readonly flushIntervalMs: number;
  /** Flush as soon as this many series are buffered. */
  readonly flushMaxSeries: number;
}

/**
 * When flushes run: one at a time (a call during a flush gets that flush), every `flushIntervalMs` once
 * started, and soon after the buffer reaches `flushMaxSeries` — unless the last flush failed, then the size
 * trigger waits for the next interval instead of hammering the next stage.
 */
export class FlushSchedule {
  private readonly run: () => Promise<FlushReport>;
  private readonly options: FlushScheduleOptions;
  private readonly logger: Logger;
  private running: Promise<FlushReport> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sizeTriggerPausedUntil = 0;
  private sizeFlushScheduled = false;

  constructor(run: () => Promise<FlushReport>, options: FlushScheduleOptions, logger: Logger) {
    this.run = run;
    this.options = options;
    this.logger = logger;
  }

  /** Runs a flush, or returns the one running (data that arrived meanwhile goes with the next flush). */
  flush(): Promise<FlushReport> {
    this.running ??= this.run()
      .then((report) => {
        if (report.retained > 0) this.sizeTriggerPausedUntil = Date.now() + this.options.flushIntervalMs;
        return report;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** A flush that starts after the running one (if any) finished, so it takes everything held now. */
  async flushAfterRunning(): Promise<FlushReport> {
    if (this.running) await this.running;
    return this.flush();
  }

  /** The buffer holds `buffered` series now: flush soon if that is enough. */
  sizeChanged(buffered: number) {
    if (this.sizeFlushScheduled || this.running) return;
    if (buffered < this.options.flushMaxSeries) return;
    if (Date.now() < this.sizeTriggerPausedUntil) return;
    // Not inside `consume`: its caller may have an answer to send first (the collector's 200).
    this.sizeFlushScheduled = true;
    setImmediate(() => {
      this.sizeFlushScheduled = false;
      this.flushInBackground();
    });
  }

  /** Starts the interval timer (idempotent). */
  start() {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.flushInBackground(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A flush nobody awaits: its failure is logged, never an unhandled rejection. */
  private flushInBackground() {
    this.flush().catch((error: unknown) => this.logger.error({ err: error }, 'background flush failed'));
  }
}
