import type { MetricInfo, PointValue } from '@tallyhouse/model';
import { cumulativeToDelta, type StreamState } from './cumulative-to-delta.ts';
import type { TimedPoint } from './merge/index.ts';

/** One cumulative stream's state, serialisable (times as decimal strings) for checkpoints. */
export interface StreamSnapshotEntry {
  readonly key: string;
  /** Absent in checkpoints of older versions: such a stream counts toward no tenant's share. */
  readonly tenant?: string;
  readonly startTimeUnixNano: string;
  readonly timeUnixNano: string;
  readonly value: PointValue;
  readonly lastSeenMs: number;
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
  readonly counters = { cumulativeResets: 0, staleCumulativePoints: 0, evictedStreams: 0 };

  /** `stalenessMs`: a stream silent this long is forgotten (`evictStale`). */
  constructor(stalenessMs: number) {
    this.stalenessMs = stalenessMs;
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
   * `nowMs`; `undefined` for a stale point (already counted).
   */
  toDelta(
    key: string,
    tenant: string,
    metric: MetricInfo,
    point: TimedPoint,
    nowMs: number,
  ): TimedPoint | undefined {
    const previous = this.streams.get(key);
    const outcome = cumulativeToDelta(metric, previous, point);
    if (outcome.kind === 'stale') {
      this.counters.staleCumulativePoints++;
      return undefined;
    }
    if (outcome.kind === 'reset') this.counters.cumulativeResets++;
    if (previous === undefined) this.perTenant.set(tenant, (this.perTenant.get(tenant) ?? 0) + 1);
    this.streams.set(key, {
      tenant,
      startTimeUnixNano: point.startTimeUnixNano,
      timeUnixNano: point.timeUnixNano,
      value: point.value,
      lastSeenMs: nowMs,
    });
    return outcome.delta;
  }

  /** Forgets streams silent for longer than the staleness limit; returns how many. */
  evictStale(nowMs: number): number {
    const cutoff = nowMs - this.stalenessMs;
    let evicted = 0;
    for (const [key, state] of this.streams) {
      if (state.lastSeenMs < cutoff) {
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
    }));
  }

  /** Replaces the state with a checkpoint's. */
  restore(entries: readonly StreamSnapshotEntry[]) {
    this.streams.clear();
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
