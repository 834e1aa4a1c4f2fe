import type { Resolution } from './stream-marks.ts';
import type { StreamSnapshotEntry } from './stream-store.ts';

/** Which points of a batch the next stage did not take (positions in `batch.points`). */
export interface BatchFailure {
  readonly batchId: string;
  readonly indexes: readonly number[];
}

/**
 * Where the processor records its flushes, so a restart can replay them exactly (the collector's write-ahead
 * log implements it). Together with the logged input, the start, the stream state and the settled failures of
 * every flush let a replay rebuild the same buffer and the same batches (same ids, same contents) — see
 * `TenantProcessor.replayFlushStarted` and `replayFlushSettled`.
 */
export interface FlushLog {
  /**
   * Records a flush start at `nowMs` (the wall clock the flush evicts stale streams by), synchronously right
   * before the buffer is taken; returns the label batch ids derive from. If it throws, the flush does not happen.
   */
  started(nowMs: number): string;
  /**
   * Called synchronously right after the buffer was taken, with the cumulative stream state as of then (what a
   * replay from this flush on starts from; values are shared: serialise at once). The flush waits for the
   * returned promise before handing anything off — the start must be durable before storage can see its
   * batches; if it rejects, nothing is handed off and everything taken stays buffered.
   */
  taken(label: string, streams: readonly StreamSnapshotEntry[]): Promise<void>;
  /**
   * Synchronously after every batch was handed off, before the failed points merge back. It must not throw: a
   * log that cannot record the outcome must stop further flushes itself (its `started` throws).
   */
  settled(label: string, failures: readonly BatchFailure[]): void;
  /**
   * With shared stream marks: how held first intervals are counted, synchronously right before they are (a replay
   * applies them at the same place in history). If it throws, they are not counted and wait for the next flush.
   */
  resolved(resolutions: readonly Resolution[]): void;
}
