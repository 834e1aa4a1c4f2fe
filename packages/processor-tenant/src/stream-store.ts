import type { MetricInfo, PointValue } from '@tallyhouse/model';
import { cumulativeToDelta, type PendingFirst, type StreamState } from './cumulative-to-delta.ts';
import type { TimedPoint } from './merge/index.ts';
import type { PendingFirstInterval, Resolution, StreamMark } from './stream-marks.ts';

/** One cumulative stream's state, serialisable (times as decimal strings) for checkpoints. */
export interface StreamSnapshotEntry {
  readonly key: string;
  /** Absent in checkpoints of older versions: such a stream counts toward no tenant's share. */
  readonly tenant?: string;
  readonly startTimeUnixNano: string;
  readonly timeUnixNano: string;
  readonly value: PointValue;
  readonly lastSeenMs: number;
  readonly gapMs?: number;
  /** Its first interval, still waiting for resolution (shared marks only). */
  readonly pending?: PendingSnapshot;
}

interface SnapshotPoint {
  readonly startTimeUnixNano: string;
  readonly timeUnixNano: string;
  readonly value: PointValue;
}

/** A held first interval in a checkpoint: a replay from it must resolve it exactly as the live process did. */
export interface PendingSnapshot {
  readonly metric: MetricInfo;
  readonly first: SnapshotPoint;
  readonly ended?: readonly SnapshotPoint[];
  readonly base?: SnapshotPoint;
  readonly gapMs?: number;
  readonly usualGapMs?: number;
  /** The accumulator's handle for the delta's series: plain JSON data. */
  readonly place: unknown;
}

/**
 * The last point of every cumulative source stream, by stream key, so each new point becomes the delta since
 * it; how many streams each tenant holds (what its share is measured against); forgetting streams that went
 * silent; and the whole state as a checkpoint and back.
 */
export class StreamStore {
  private readonly streams = new Map<string, StreamState>();
  /** Tracked streams per tenant, kept in step with `streams` (a Map: tenants are arbitrary text). */
  private readonly perTenant = new Map<string, number>();
  private readonly stalenessMs: number;
  /** Shared marks (several processes, one store): first intervals wait for resolution. */
  private readonly shared: boolean;
  /**
   * Shared marks only: the state of every stream changed since its last `counted` mark was taken
   * (`takeChangedMarks`), kept even when the stream is evicted before then.
   */
  private readonly changed = new Map<string, StreamState>();
  readonly counters = {
    cumulativeResets: 0,
    staleCumulativePoints: 0,
    evictedStreams: 0,
    /** First intervals held for resolution against shared marks. */
    heldFirstIntervals: 0,
    /** First intervals resolved as not to be counted (another process counted the stream, or a restore). */
    skippedFirstIntervals: 0,
    /** What the skipped intervals amounted to, where a mark below them told (sum values, histogram counts). */
    skippedAmount: 0,
    /** Streams another process counted between two consecutive points of this one. */
    misroutedStreams: 0,
  };

  /** `stalenessMs`: a stream silent this long is forgotten (`evictStale`). `shared`: see stream-marks.ts. */
  constructor(stalenessMs: number, shared = false) {
    this.stalenessMs = stalenessMs;
    this.shared = shared;
  }

  get size(): number {
    return this.streams.size;
  }

  has(key: string): boolean {
    return this.streams.has(key);
  }

  /** Tracked cumulative streams of `tenant`: what its share (`maxTrackedStreamsPerTenant`) is measured against. */
  trackedOf(tenant: string): number {
    return this.perTenant.get(tenant) ?? 0;
  }

  /**
   * The delta `point` adds to stream `key` (of `tenant`), remembering `point` as the stream's last one, seen at
   * `nowMs`; `undefined` for a stale point (already counted) and for a first interval held for resolution
   * (shared marks only; what `placeOf` returns, plain JSON data, is handed back with its delta by `resolve`).
   */
  toDelta(
    key: string,
    tenant: string,
    metric: MetricInfo,
    point: TimedPoint,
    nowMs: number,
    placeOf?: () => unknown,
  ): TimedPoint | undefined {
    const previous = this.streams.get(key);
    const outcome = cumulativeToDelta(metric, previous, point);
    if (outcome.kind === 'stale') {
      this.counters.staleCumulativePoints++;
      return undefined;
    }
    if (previous === undefined) this.perTenant.set(tenant, (this.perTenant.get(tenant) ?? 0) + 1);
    const gapMs = previous === undefined ? undefined : nowMs - previous.lastSeenMs;
    if (previous?.pending !== undefined) {
      // Held until resolved: counting after the first held point could overlap another process's count.
      // A reset while held ends a life whose last point must still be counted once resolved.
      const pending =
        outcome.kind === 'reset'
          ? { ...previous.pending, ended: [...previous.pending.ended, pointOf(previous)] }
          : previous.pending;
      this.remember(key, { ...this.nextState(tenant, point, nowMs, gapMs), pending });
      return undefined;
    }
    if (this.shared && this.mayHaveMoved(previous, nowMs)) {
      this.counters.heldFirstIntervals++;
      this.remember(key, {
        tenant,
        startTimeUnixNano: point.startTimeUnixNano,
        timeUnixNano: point.timeUnixNano,
        value: point.value,
        lastSeenMs: nowMs,
        // A gap after a move is not the stream's usual one; the first gap seen is all there is to go by.
        gapMs: previous?.gapMs ?? gapMs,
        pending: {
          metric,
          // Without exemplars: a checkpoint keeps none, and a replay from it must count the same rows.
          first: {
            startTimeUnixNano: point.startTimeUnixNano,
            timeUnixNano: point.timeUnixNano,
            value: point.value,
          },
          ended: [],
          base: previous && {
            startTimeUnixNano: previous.startTimeUnixNano,
            timeUnixNano: previous.timeUnixNano,
            value: previous.value,
          },
          gapMs,
          usualGapMs: previous?.gapMs,
          place: placeOf?.(),
        },
      });
      return undefined;
    }
    if (outcome.kind === 'reset') this.counters.cumulativeResets++;
    this.remember(key, this.nextState(tenant, point, nowMs, gapMs));
    return outcome.delta;
  }

  private nextState(
    tenant: string,
    point: TimedPoint,
    nowMs: number,
    gapMs: number | undefined,
  ): StreamState {
    return {
      tenant,
      startTimeUnixNano: point.startTimeUnixNano,
      timeUnixNano: point.timeUnixNano,
      value: point.value,
      lastSeenMs: nowMs,
      gapMs,
    };
  }

  private remember(key: string, state: StreamState) {
    this.streams.set(key, state);
    if (this.shared) this.changed.set(key, state);
  }

  /**
   * Unknown, flagged by another process's mark, its second point here (no usual gap yet), or back after a gap
   * over 1.5 times the last one: a collector a tenant moved away from and back to missed at least one export.
   */
  private mayHaveMoved(previous: StreamState | undefined, nowMs: number): boolean {
    if (previous === undefined || previous.recheck || previous.gapMs === undefined) return true;
    return nowMs - previous.lastSeenMs > 1.5 * previous.gapMs;
  }

  /** The first intervals waiting for resolution. */
  pendingIntervals(): PendingFirstInterval[] {
    const pending: PendingFirstInterval[] = [];
    for (const [key, state] of this.streams) {
      const held = state.pending;
      if (held === undefined) continue;
      pending.push({
        key,
        tenant: state.tenant ?? '',
        metric: held.metric,
        first: {
          startTimeUnixNano: state.startTimeUnixNano,
          timeUnixNano: state.timeUnixNano,
          value: state.value,
        },
        heldSince: String(held.first.timeUnixNano),
        heldFirst: held.first,
        base: held.base,
        usualGapMs: held.usualGapMs,
        gapMs: held.gapMs,
      });
    }
    return pending;
  }

  /**
   * Ends stream `resolution.key`'s pending first interval as the resolution says; returns the deltas to count
   * (one per life held) and the `place` given with the point, or `undefined` when there is nothing to count.
   */
  resolve(resolution: Resolution): { deltas: TimedPoint[]; place: unknown } | undefined {
    const state = this.streams.get(resolution.key);
    const held = state?.pending;
    if (state === undefined || held === undefined) return undefined;
    if (String(held.first.timeUnixNano) !== resolution.firstTimeUnixNano) return undefined;
    state.pending = undefined;
    state.recheck = undefined;
    if (this.shared) this.changed.set(resolution.key, state);
    if (resolution.misrouted) this.counters.misroutedStreams++;
    let previous: StreamState | undefined;
    if (resolution.count === 'none' || resolution.count === 'after') {
      this.counters.skippedFirstIntervals++;
      this.counters.skippedAmount += resolution.skipped ?? 0;
      if (resolution.count === 'none') return undefined;
      previous = { ...held.first, lastSeenMs: 0 };
    } else if (resolution.count === 'from' && resolution.base !== undefined) {
      const base = resolution.base;
      previous = {
        startTimeUnixNano: BigInt(base.startTimeUnixNano),
        timeUnixNano: BigInt(base.timeUnixNano),
        value: base.value,
        lastSeenMs: 0,
      };
    }
    const deltas: TimedPoint[] = [];
    for (const point of [...held.ended, pointOf(state)]) {
      const outcome = cumulativeToDelta(held.metric, previous, point);
      if (outcome.kind !== 'stale') deltas.push(outcome.delta);
      previous = { ...point, lastSeenMs: 0 };
    }
    return { deltas, place: held.place };
  }

  /** Flags streams another process marked: their next point is resolved against the marks. */
  recheck(keys: Iterable<string>) {
    for (const key of keys) {
      const state = this.streams.get(key);
      if (state !== undefined) state.recheck = true;
    }
  }

  /** The tenants with tracked streams. */
  tenants(): string[] {
    return [...this.perTenant.keys()];
  }

  /** `claim` marks of `owner` for the pending intervals given: written before their marks are read. */
  claimsOf(pending: readonly PendingFirstInterval[], owner: string): StreamMark[] {
    return pending.map((interval) => ({
      key: interval.key,
      tenant: interval.tenant,
      owner,
      kind: 'claim',
      startTimeUnixNano: interval.first.startTimeUnixNano,
      timeUnixNano: interval.first.timeUnixNano,
      value: interval.first.value,
    }));
  }

  /**
   * `counted` marks of `owner` for every stream changed since the last call (its last point); `restoreChanged`
   * puts them back when they could not be written.
   */
  takeChangedMarks(owner: string): StreamMark[] {
    const marks: StreamMark[] = [];
    for (const [key, state] of this.changed) {
      // A held stream counted nothing yet: marking its point would make a later resolution skip the held range.
      if (state.pending !== undefined) continue;
      this.changed.delete(key);
      marks.push({
        key,
        tenant: state.tenant ?? '',
        owner,
        kind: 'counted',
        startTimeUnixNano: state.startTimeUnixNano,
        timeUnixNano: state.timeUnixNano,
        value: state.value,
      });
    }
    return marks;
  }

  restoreChanged(marks: readonly StreamMark[]) {
    for (const mark of marks) {
      if (this.changed.has(mark.key)) continue;
      this.changed.set(mark.key, {
        tenant: mark.tenant,
        startTimeUnixNano: mark.startTimeUnixNano,
        timeUnixNano: mark.timeUnixNano,
        value: mark.value,
        lastSeenMs: 0,
      });
    }
  }

  /** Forgets streams silent for longer than the staleness limit; returns how many. */
  evictStale(nowMs: number): number {
    const cutoff = nowMs - this.stalenessMs;
    let evicted = 0;
    for (const [key, state] of this.streams) {
      if (state.lastSeenMs < cutoff) {
        if (state.pending !== undefined) this.counters.skippedFirstIntervals++;
        this.streams.delete(key);
        this.forgetStreamOf(state.tenant);
        evicted++;
      }
    }
    this.counters.evictedStreams += evicted;
    return evicted;
  }

  /** The state, for a checkpoint. Values are shared, not copied: serialise at once. */
  snapshot(): StreamSnapshotEntry[] {
    return [...this.streams].map(([key, state]) => ({
      key,
      tenant: state.tenant,
      startTimeUnixNano: String(state.startTimeUnixNano),
      timeUnixNano: String(state.timeUnixNano),
      value: state.value,
      lastSeenMs: state.lastSeenMs,
      ...(state.gapMs === undefined ? {} : { gapMs: state.gapMs }),
      ...(state.pending === undefined ? {} : { pending: pendingSnapshot(state.pending) }),
    }));
  }

  /** Replaces the state with a checkpoint's. */
  restore(entries: readonly StreamSnapshotEntry[]) {
    this.streams.clear();
    this.changed.clear();
    this.perTenant.clear();
    for (const entry of entries) {
      const previous = this.streams.get(entry.key);
      if (previous !== undefined) this.forgetStreamOf(previous.tenant);
      if (entry.tenant !== undefined)
        this.perTenant.set(entry.tenant, (this.perTenant.get(entry.tenant) ?? 0) + 1);
      this.streams.set(entry.key, {
        tenant: entry.tenant,
        startTimeUnixNano: BigInt(entry.startTimeUnixNano),
        timeUnixNano: BigInt(entry.timeUnixNano),
        value: entry.value,
        lastSeenMs: entry.lastSeenMs,
        gapMs: entry.gapMs,
        pending: entry.pending && restorePending(entry.pending),
      });
    }
  }

  private forgetStreamOf(tenant: string | undefined) {
    if (tenant === undefined) return;
    const left = (this.perTenant.get(tenant) ?? 0) - 1;
    // Tenants without streams leave the map, so it stays as small as the set of tenants with streams.
    if (left > 0) this.perTenant.set(tenant, left);
    else this.perTenant.delete(tenant);
  }
}

function pointOf(state: StreamState): TimedPoint {
  return { startTimeUnixNano: state.startTimeUnixNano, timeUnixNano: state.timeUnixNano, value: state.value };
}

function pendingSnapshot(pending: PendingFirst): PendingSnapshot {
  return {
    metric: pending.metric,
    first: snapshotPoint(pending.first),
    ...(pending.ended.length === 0 ? {} : { ended: pending.ended.map(snapshotPoint) }),
    ...(pending.base === undefined ? {} : { base: snapshotPoint(pending.base) }),
    ...(pending.gapMs === undefined ? {} : { gapMs: pending.gapMs }),
    ...(pending.usualGapMs === undefined ? {} : { usualGapMs: pending.usualGapMs }),
    place: pending.place,
  };
}

function snapshotPoint(point: { startTimeUnixNano: bigint; timeUnixNano: bigint; value: PointValue }) {
  return {
    startTimeUnixNano: String(point.startTimeUnixNano),
    timeUnixNano: String(point.timeUnixNano),
    value: point.value,
  };
}

function restorePending(pending: PendingSnapshot): PendingFirst {
  return {
    metric: pending.metric,
    first: restorePoint(pending.first),
    ended: (pending.ended ?? []).map(restorePoint),
    base: pending.base && restorePoint(pending.base),
    gapMs: pending.gapMs,
    usualGapMs: pending.usualGapMs,
    place: pending.place,
  };
}

function restorePoint(point: SnapshotPoint) {
  return {
    startTimeUnixNano: BigInt(point.startTimeUnixNano),
    timeUnixNano: BigInt(point.timeUnixNano),
    value: point.value,
  };
}
