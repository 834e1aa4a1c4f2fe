import type { MetricInfo, PointValue } from '@tallyhouse/model';
import { diffValues, type TimedPoint } from './merge/index.ts';

/** What is remembered of one cumulative source stream: its last point. */
export interface StreamState {
  /**
   * The tenant whose share of tracked streams this one counts toward; absent only for streams restored from a
   * checkpoint of an older version (they count toward no share until evicted).
   */
  tenant?: string | undefined;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  value: PointValue;
  lastSeenMs: number;
  /** Milliseconds between the stream's last two arrivals, once it has had two. */
  gapMs?: number | undefined;
  /** Shared marks only: the first interval not counted yet (see stream-marks.ts). */
  pending?: PendingFirst | undefined;
  /** Shared marks only: another process marked this stream; its next point is resolved against the marks. */
  recheck?: boolean | undefined;
}

/** A stream's first interval waiting for resolution, with where its delta goes once resolved. */
export interface PendingFirst {
  readonly metric: MetricInfo;
  readonly first: TimedPoint;
  /** The last point of each life that ended (a reset) while held, oldest first: each counts too once resolved. */
  readonly ended: readonly TimedPoint[];
  readonly base: { startTimeUnixNano: bigint; timeUnixNano: bigint; value: PointValue } | undefined;
  readonly gapMs: number | undefined;
  readonly usualGapMs: number | undefined;
  /** The accumulator's handle for adding the resolved delta to its series (opaque here). */
  readonly place: unknown;
}

export type DeltaOutcome =
  | { readonly kind: 'first' | 'delta' | 'reset'; readonly delta: TimedPoint }
  /** Not newer than what the stream already reported: a duplicate or out-of-order point. */
  | { readonly kind: 'stale' };

/**
 * Turns one cumulative point into the delta since the stream's previous point. The first point of a
 * stream counts in full (it covers everything since its start time). A reset is a later start time
 * or, per point type, a decrease; after a reset the point counts in full from the reset on. Points not
 * newer than the stream's last one, or from an earlier start, are stale: already counted.
 */
export function cumulativeToDelta(
  metric: MetricInfo,
  previous: StreamState | undefined,
  point: TimedPoint,
): DeltaOutcome {
  if (previous === undefined) return { kind: 'first', delta: point };
  // A point from an earlier life of the stream arrives late: it was counted before the reset.
  if (point.startTimeUnixNano < previous.startTimeUnixNano) return { kind: 'stale' };
  if (point.startTimeUnixNano !== previous.startTimeUnixNano) return { kind: 'reset', delta: point };
  if (point.timeUnixNano <= previous.timeUnixNano) return { kind: 'stale' };
  const change = diffValues(metric, previous.value, point.value);
  const startTimeUnixNano = previous.timeUnixNano;
  if (change === undefined) {
    return {
      kind: 'reset',
      delta: { startTimeUnixNano, timeUnixNano: point.timeUnixNano, value: point.value },
    };
  }
  return { kind: 'delta', delta: { startTimeUnixNano, timeUnixNano: point.timeUnixNano, value: change } };
}
