import type { InputBatch, SeriesPoint } from '@tallyhouse/model';
import { Accumulator, type ConsumeReport, type RequestTenant } from './accumulator.ts';
import type { AccumulatorOptions } from './config.ts';

const EVICTION_EVERY_MS = 60_000;

/**
 * Tenant resolution, identity and cumulative→delta conversion without buffering: each input comes out at
 * once as series points (points of one series within the input merged). For stages that receive plain
 * input directly, e.g. the ClickHouse exporter behind an SDK reader. Cumulative stream state persists
 * across calls, so keep one normalizer per source.
 */
export class SeriesNormalizer {
  private readonly accumulator: Accumulator;
  private lastEviction = 0;

  constructor(options: AccumulatorOptions = {}) {
    // Nothing stays buffered between calls, so only the per-call size needs a bound.
    this.accumulator = new Accumulator({ maxBufferedSeries: Number.MAX_SAFE_INTEGER, ...options });
  }

  normalize(input: InputBatch, request?: RequestTenant): { points: SeriesPoint[]; report: ConsumeReport } {
    const report = this.accumulator.consume(input, request);
    const points = this.accumulator.take();
    this.accumulator.settle(points.length, []);
    // Eviction walks every stream: once in a while is enough to bound them.
    const now = Date.now();
    if (now - this.lastEviction >= EVICTION_EVERY_MS) {
      this.lastEviction = now;
      this.accumulator.evictStaleStreams();
    }
    return { points, report };
  }

  stats() {
    return this.accumulator.stats();
  }
}
