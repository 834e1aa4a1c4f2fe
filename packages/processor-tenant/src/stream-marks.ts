/**
 * Cumulative streams shared by several processes (collectors behind a load balancer). A process that sees a
 * stream for the first time, or again after a gap, does not know whether another process counted it meanwhile:
 * counting the point's running total would count that part twice. So such a stream's first interval (from what
 * this process last counted, or from the stream's start, to the first point seen, and any points after it) waits
 * in the stream store until the next flush resolves it against marks in shared storage:
 *
 * 1. the process writes a `claim` mark for every stream it is about to resolve, then reads every mark of those
 *    streams. Of two processes resolving one stream at once, at least one reads the other's claim (each writes
 *    before it reads), and a process that sees another's mark never counts the contested interval, so the
 *    interval is counted at most once;
 * 2. it counts the first interval only when no other process marked the stream's current life past what this
 *    process already counted. Otherwise, when every other process's mark precedes the first held point (a move:
 *    the previous owner stopped before it), only what follows that point counts: the undercount is the stream's
 *    increase between the two owners' points, about one export interval per stream per move. When a mark
 *    follows it, nothing held counts (that process may have counted the life from its start). Never an
 *    overcount;
 * 3. after each flush's take, before anything is handed off, it writes a `counted` mark per changed stream (the
 *    last point counted), so nothing in storage lies past the marks of the process that wrote it.
 */
import type { MetricInfo, PointValue, StreamMark } from '@tallyhouse/model';

export type { StreamMark, StreamMarks } from '@tallyhouse/model';

import { diffValues } from './merge/index.ts';

/** A stream whose first interval waits for resolution. */
export interface PendingFirstInterval {
  readonly key: string;
  readonly tenant: string;
  readonly metric: MetricInfo;
  /**
   * The stream's last point: everything from the base (or the stream's start) to it is held, the first point
   * seen and any after it, so another process counting part of that range meanwhile is seen by one of the two.
   */
  readonly first: MarkedPoint;
  /** The time of the first point held: identifies this hold (`Resolution.firstTimeUnixNano`). */
  readonly heldSince: string;
  /** The first point held: with `none`, counting starts from it. */
  readonly heldFirst: MarkedPoint;
  /** What this process last counted of the stream, when it still remembers it (a resumed stream). */
  readonly base: MarkedPoint | undefined;
  /** Milliseconds between the stream's last two arrivals before the gap, when known. */
  readonly usualGapMs: number | undefined;
  /** Milliseconds between the last arrival before the gap and the first after it (resumed streams). */
  readonly gapMs: number | undefined;
}

export interface MarkedPoint {
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: PointValue;
}

/** How a pending first interval is counted; recorded in the flush log so a replay counts it the same way. */
export interface Resolution {
  readonly key: string;
  /** The first held point's time, so a resolution never applies to a later hold of the stream. */
  readonly firstTimeUnixNano: string;
  /**
   * `full`: the held points' whole running total; `from`: the change since `base`; `after`: the change after the
   * first held point (another process counted up to before it); `none`: nothing.
   */
  readonly count: 'full' | 'from' | 'after' | 'none';
  readonly base?: {
    readonly startTimeUnixNano: string;
    readonly timeUnixNano: string;
    readonly value: PointValue;
  };
  /** For `none`: what the skipped interval amounts to when a mark below the first point tells (sum value or count). */
  readonly skipped?: number;
  /** Another process counted the stream between two of this process's consecutive points: misrouted. */
  readonly misrouted?: boolean;
}

/** A gap this many times the stream's usual gap, right after another process marked it, is misrouting, not a move. */
const MISROUTE_GAP_FACTOR = 3;

/**
 * Decides each pending first interval from the marks read back after this process claimed them (`owner`'s own
 * claims among them are ignored). The rules, per stream, for marks of the first point's life (same start time):
 * - another owner's mark of a later life: the point is from a life already replaced, counted nothing;
 * - another owner marked the life past this process's base (local memory, else its own `counted` mark): `none`;
 * - else, with a base: `from` it; without one, and no other owner's mark of the life at all: `full`.
 */
export function resolveFirstIntervals(
  pending: readonly PendingFirstInterval[],
  marks: readonly StreamMark[],
  owner: string,
): Resolution[] {
  const byKey = new Map<string, StreamMark[]>();
  for (const mark of marks) {
    const list = byKey.get(mark.key);
    if (list === undefined) byKey.set(mark.key, [mark]);
    else list.push(mark);
  }
  return pending.map((stream) => resolveOne(stream, byKey.get(stream.key) ?? [], owner));
}

function resolveOne(stream: PendingFirstInterval, marks: readonly StreamMark[], owner: string): Resolution {
  const { first } = stream;
  const firstTime = stream.heldSince;
  const life = first.startTimeUnixNano;
  const foreign = marks.filter((mark) => mark.owner !== owner);
  if (foreign.some((mark) => mark.startTimeUnixNano > life)) {
    return { key: stream.key, firstTimeUnixNano: firstTime, count: 'none' };
  }
  const foreignOfLife = foreign.filter((mark) => mark.startTimeUnixNano === life);
  const ownCounted = marks.find(
    (mark) => mark.owner === owner && mark.kind === 'counted' && mark.startTimeUnixNano === life,
  );
  const localBase = stream.base?.startTimeUnixNano === life ? stream.base : undefined;
  const base = localBase ?? ownCounted;
  const baseTime = base?.timeUnixNano ?? -1n;
  const overtaking = foreignOfLife.filter((mark) => mark.timeUnixNano > baseTime);
  if (overtaking.length === 0 && (base !== undefined || foreignOfLife.length === 0)) {
    if (base === undefined) return { key: stream.key, firstTimeUnixNano: firstTime, count: 'full' };
    return {
      key: stream.key,
      firstTimeUnixNano: firstTime,
      count: 'from',
      base: {
        startTimeUnixNano: String(base.startTimeUnixNano),
        timeUnixNano: String(base.timeUnixNano),
        value: base.value,
      },
    };
  }
  const misrouted =
    localBase !== undefined &&
    overtaking.some((mark) => mark.timeUnixNano < first.timeUnixNano) &&
    stream.gapMs !== undefined &&
    // Without a usual gap yet (its second point here), another collector in between is taken as misrouting.
    (stream.usualGapMs === undefined || stream.gapMs <= MISROUTE_GAP_FACTOR * stream.usualGapMs);
  // Other processes' marks all before the first held point: they stopped before it (a move), so what follows it
  // is this process's to count. A mark after it may come from a process that counted the life from its start.
  const after = foreignOfLife.every((mark) => mark.timeUnixNano < stream.heldFirst.timeUnixNano);
  const skipped = skippedAmount(stream.metric, foreignOfLife, base, after ? stream.heldFirst : first);
  return {
    key: stream.key,
    firstTimeUnixNano: firstTime,
    count: after ? 'after' : 'none',
    ...(skipped === undefined ? {} : { skipped }),
    ...(misrouted ? { misrouted } : {}),
  };
}

/** The skipped interval's size from the highest mark below the first point (this process's base included). */
function skippedAmount(
  metric: MetricInfo,
  marks: readonly StreamMark[],
  base: MarkedPoint | undefined,
  first: MarkedPoint,
): number | undefined {
  let below: MarkedPoint | undefined = base;
  for (const mark of marks) {
    if (mark.timeUnixNano >= first.timeUnixNano) continue;
    if (below === undefined || mark.timeUnixNano > below.timeUnixNano) below = mark;
  }
  if (below === undefined) return undefined;
  const change = diffValues(metric, below.value, first.value);
  return change === undefined ? undefined : magnitude(change);
}

/** A value's size in its own units: a sum's value, a histogram's count. */
export function magnitude(value: PointValue): number {
  return 'value' in value ? value.value : value.count;
}
