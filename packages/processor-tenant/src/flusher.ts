import { randomUUID } from 'node:crypto';
import type { ConsumeResult, Logger, SeriesBatch, SeriesBatchConsumer, SeriesPoint } from '@tallyhouse/model';
import type { Accumulator } from './accumulator.ts';
import type { BatchFailure, FlushLog } from './flush-log.ts';
import {
  type PendingFirstInterval,
  type Resolution,
  resolveFirstIntervals,
  type StreamMarks,
} from './stream-marks.ts';

/** Streams named per log line at most (a rebalance can move thousands). */
const MAX_LOGGED_STREAMS = 20;

export interface FlushReport {
  /** Points handed to the next stage. */
  readonly sent: number;
  /** Points the next stage did not take; they are back in the buffer. */
  readonly retained: number;
  readonly errors: readonly Error[];
}

/** A recorded flush's start, replayed: its batches wait for the flush's recorded outcome. */
export interface ReplayedFlush {
  readonly label: string;
  readonly points: number;
  readonly batches: readonly SeriesBatch[];
}

export interface FlusherOptions {
  readonly accumulator: Accumulator;
  /** Shared marks of cumulative streams (several collectors, one store); see stream-marks.ts. */
  readonly marks?: StreamMarks | undefined;
  readonly next: SeriesBatchConsumer;
  readonly log: FlushLog | undefined;
  readonly logger: Logger;
  /** Points per batch handed to the next stage. */
  readonly maxBatchPoints: number;
}

/**
 * One flush: takes the buffer, cuts it into batches, hands them to the next stage and merges back what it did
 * not take — recording start, stream state and outcome in the flush log when there is one. Also replays
 * recorded flushes, batch for batch.
 */
export class Flusher {
  private readonly accumulator: Accumulator;
  private readonly marks: StreamMarks | undefined;
  private readonly next: SeriesBatchConsumer;
  private readonly log: FlushLog | undefined;
  private readonly logger: Logger;
  private readonly maxBatchPoints: number;
  private readonly batchIdPrefix = randomUUID();
  private flushSequence = 0;
  readonly counters = { flushes: 0, failedFlushes: 0, batchesSent: 0, pointsSent: 0, failedMarkRounds: 0 };

  constructor(options: FlusherOptions) {
    this.accumulator = options.accumulator;
    this.marks = options.marks;
    this.next = options.next;
    this.log = options.log;
    this.logger = options.logger;
    this.maxBatchPoints = options.maxBatchPoints;
  }

  async flush(): Promise<FlushReport> {
    this.counters.flushes++;
    if (this.marks !== undefined) await this.resolveFirstIntervals(this.marks);
    const now = Date.now();
    let label: string;
    try {
      label = this.log?.started(now) ?? `${this.batchIdPrefix}-${++this.flushSequence}`;
    } catch (error) {
      // Nothing was taken: the buffer stays as it is, and so does the log's view of it.
      return this.finish(this.accumulator.count(), this.accumulator.count(), [asError(error)]);
    }
    this.accumulator.evictStaleStreams(now);
    const points = this.accumulator.take();
    const batches = this.toBatches(points, label);
    const failures: BatchFailure[] = [];
    const failedPoints: SeriesPoint[] = [];
    const errors: Error[] = [];
    try {
      await this.log?.taken(label, this.accumulator.snapshotStreams());
    } catch (error) {
      // The flush start is not durable, so storage must not see its batches: all of them stay buffered.
      failedPoints.push(...points);
      errors.push(asError(error));
      batches.length = 0;
    }
    if (this.marks !== undefined && batches.length > 0) {
      // Marked before handed off, so storage rarely holds more than this process's marks say it counted. A failed
      // write is retried with the next flush and the hand-off goes on: what keeps another process from counting
      // a stream in full is the claim written before anything of it was counted, not this mark.
      const marks = this.accumulator.takeChangedMarks(this.marks.owner);
      try {
        if (marks.length > 0) await this.marks.write(marks);
      } catch (error) {
        this.accumulator.restoreChangedMarks(marks);
        this.counters.failedMarkRounds++;
        this.logger.warn(
          { err: asError(error).message, streams: marks.length },
          'could not mark counted streams; retried with the next flush',
        );
      }
    }
    for (const batch of batches) {
      const result = await this.handOff(batch);
      this.counters.batchesSent++;
      if (result.ok) continue;
      const failed = new Set(result.failed);
      failures.push({ batchId: batch.id, indexes: indexesOf(batch.points, failed) });
      failedPoints.push(...failed);
      errors.push(result.error);
    }
    // Recorded, then merged back in the same tick, so a replay sees them at the same place in history.
    this.log?.settled(label, failures);
    this.accumulator.settle(points.length, failedPoints);
    this.counters.pointsSent += points.length - failedPoints.length;
    return this.finish(points.length, failedPoints.length, errors);
  }

  /**
   * Resolves the first intervals waiting for it: claims them, reads their marks back, counts what the marks allow
   * (recorded in the flush log first, so a replay counts the same); then flags the streams other processes marked
   * since the last round. A failure leaves them waiting for the next flush.
   */
  private async resolveFirstIntervals(marks: StreamMarks): Promise<void> {
    const pending = this.accumulator.pendingIntervals();
    try {
      if (pending.length > 0) {
        await marks.write(this.accumulator.claimsOf(pending, marks.owner));
        const stored = await marks.read(pending);
        const resolutions = resolveFirstIntervals(pending, stored, marks.owner);
        this.log?.resolved(resolutions);
        this.accumulator.resolveIntervals(resolutions);
        this.reportResolutions(pending, resolutions);
      }
      const foreign = await marks.foreignSince(this.accumulator.streamTenants());
      if (foreign.length > 0) this.accumulator.recheckStreams(foreign.map((mark) => mark.key));
    } catch (error) {
      this.counters.failedMarkRounds++;
      this.logger.warn(
        { err: asError(error).message, waiting: pending.length },
        'shared stream marks unavailable; first intervals wait for the next flush',
      );
    }
  }

  private reportResolutions(pending: readonly PendingFirstInterval[], resolutions: readonly Resolution[]) {
    const tenantOf = new Map(pending.map((interval) => [interval.key, interval.tenant]));
    const skipped = resolutions.filter(
      (resolution) => resolution.count === 'none' || resolution.count === 'after',
    );
    for (const resolution of skipped.filter((each) => each.misrouted).slice(0, MAX_LOGGED_STREAMS)) {
      this.logger.error(
        { tenant: tenantOf.get(resolution.key), stream: resolution.key },
        'cumulative stream misrouted: another collector counted it between two of its points here; route by tenant',
      );
    }
    if (skipped.length === 0) return;
    this.logger.warn(
      {
        skipped: skipped.length,
        amount: skipped.reduce((sum, resolution) => sum + (resolution.skipped ?? 0), 0),
        tenants: [...new Set(skipped.map((resolution) => tenantOf.get(resolution.key)))].slice(
          0,
          MAX_LOGGED_STREAMS,
        ),
      },
      'first intervals of cumulative streams another collector marked were not counted (moved tenants)',
    );
  }

  private finish(taken: number, retained: number, errors: Error[]): FlushReport {
    if (retained === 0) {
      this.accumulator.markDrained();
    } else {
      this.counters.failedFlushes++;
      this.logger.warn(
        { retained, errors: errors.map(String) },
        'next stage did not take a flush; the points stay buffered',
      );
    }
    return { sent: taken - retained, retained, errors };
  }

  /**
   * Batches are per point kind (one ClickHouse table each) and at most `maxBatchPoints` long. Ids derive from
   * the flush label, so the same history (a replay of the flush log) yields the same batches under the same ids.
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
    const size = this.maxBatchPoints;
    for (const list of byKind.values()) {
      for (let start = 0; start < list.length; start += size) {
        batches.push({ id: `${label}-${batches.length + 1}`, points: list.slice(start, start + size) });
      }
    }
    return batches;
  }

  /** See `TenantProcessor.replayFlushStarted`. */
  replayStarted(label: string, nowMs: number): ReplayedFlush {
    this.accumulator.evictStaleStreams(nowMs);
    const points = this.accumulator.take();
    return { label, points: points.length, batches: this.toBatches(points, label) };
  }

  /** See `TenantProcessor.replayStreamsResolved`. */
  replayResolved(resolutions: readonly Resolution[]) {
    this.accumulator.resolveIntervals(resolutions);
  }

  /** See `TenantProcessor.replayFlushSettled`. */
  async replaySettled(flush: ReplayedFlush, failures: readonly BatchFailure[] | undefined): Promise<void> {
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
      return await this.next.consumeBatch(batch);
    } catch (error) {
      return { ok: false, error: asError(error), failed: batch.points };
    }
  }
}

function indexesOf(points: readonly SeriesPoint[], selected: ReadonlySet<SeriesPoint>): number[] {
  const indexes: number[] = [];
  points.forEach((point, index) => {
    if (selected.has(point)) indexes.push(index);
  });
  return indexes;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
