import type {
  Attributes,
  ExponentialHistogramValue,
  InputBatch,
  InputPoint,
  SeriesPoint,
} from '@tallyhouse/model';
import { Admission, type PreparedPoint } from './admission.ts';
import {
  type AccumulatorOptions,
  type ResolvedAccumulatorOptions,
  resolveAccumulatorOptions,
} from './config.ts';
import {
  type ConsumeReport,
  type RejectionReason,
  RejectionTally,
  zeroRejections,
} from './consume-report.ts';
import { Flight } from './flight.ts';
import {
  InputWalk,
  type MetricContext,
  pointCount,
  type RequestTenant,
  seriesKeyOf,
  streamKeyOf,
} from './input-walk.ts';
import { fitExponentialHistogram, type TimedPoint } from './merge/index.ts';
import { ATTRIBUTION_WINDOW_NS, type MetricPlace, SeriesBuffer } from './series-buffer.ts';
import type { PendingFirstInterval, Resolution, StreamMark } from './stream-marks.ts';
import { StreamShare, type StreamVerdict } from './stream-share.ts';
import { type StreamSnapshotEntry, StreamStore } from './stream-store.ts';

export interface ConsumeOptions {
  /** Clock for cumulative-stream bookkeeping; a replay of the collector's log passes the recorded arrival time. */
  readonly nowMs?: number;
  /** Apply even beyond the caps: replaying input that was already acknowledged must not be refused. */
  readonly force?: boolean;
}

export interface AccumulatorStats {
  bufferedSeries: number;
  inFlightSeries: number;
  trackedStreams: number;
  acceptedPoints: number;
  rejectedPoints: Record<RejectionReason, number>;
  /** Whole inputs refused because the buffer was full (the caller should retry later). */
  refusedBatches: number;
  refusedPoints: number;
  /** New series folded into a tenant's overflow series because the tenant hit its series cap. */
  overflowFolds: number;
  cumulativeResets: number;
  /** Cumulative points not newer than their stream's last one: duplicates, counted zero times. */
  staleCumulativePoints: number;
  /** Points returned by the next stage and merged back into the buffer. */
  restoredPoints: number;
  /** Points kept as rows of their own because merging them into their series would overflow. */
  keptApartPoints: number;
  evictedStreams: number;
  /** Shared marks: first intervals of cumulative streams held for resolution. */
  heldFirstIntervals: number;
  /** Shared marks: first intervals not counted because another process counted the stream (or marked it). */
  skippedFirstIntervals: number;
  /** What the skipped first intervals amounted to, where a mark below them told (sum values, histogram counts). */
  skippedAmount: number;
  /** Shared marks: streams another process counted between two consecutive points of this one. */
  misroutedStreams: number;
}

/**
 * The buffer between intake and hand-off, coordinating its parts: the input walk (tenants, valid values), the
 * cumulative streams and each tenant's share of them, admission (caps), the series buffer (merge in place) and
 * the flight (handed off, not settled). `take()` removes points for hand-off; `settle()` merges back whatever
 * the next stage did not take, so nothing is lost and nothing is counted twice.
 */
export class Accumulator {
  readonly options: ResolvedAccumulatorOptions;
  private readonly walk: InputWalk;
  private readonly streams: StreamStore;
  private readonly share: StreamShare;
  private readonly admission: Admission;
  private readonly buffer: SeriesBuffer;
  private readonly flight: Flight;
  private readonly rejectedPoints = zeroRejections();
  private acceptedPoints = 0;

  /**
   * `attributionWindowNs` is for benchmarks only: a baseline that merges across quarter hours, as the buffer did
   * before it attributed points to their windows, passes a window longer than any time. `sharedStreams`: first
   * intervals of cumulative streams wait for resolution against shared marks (see stream-marks.ts).
   */
  constructor(
    options: AccumulatorOptions = {},
    attributionWindowNs = ATTRIBUTION_WINDOW_NS,
    sharedStreams = false,
  ) {
    this.options = resolveAccumulatorOptions(options);
    this.walk = new InputWalk(this.options);
    this.streams = new StreamStore(this.options.streamStalenessMs, sharedStreams);
    this.share = new StreamShare(this.streams, this.options);
    this.admission = new Admission(this.options, { heldSeries: () => this.count(), streams: this.streams });
    this.buffer = new SeriesBuffer({ ...this.options, attributionWindowNs }, this.admission);
    this.flight = new Flight(this.options.now);
  }

  /** Series held: buffered plus handed off and not yet confirmed. */
  count(): number {
    return this.buffer.size + this.flight.size;
  }

  bufferedCount(): number {
    return this.buffer.size;
  }

  /** Milliseconds since the buffer last fully drained: how overdue a retry is. */
  elapsedSinceDrainedMs(): number {
    return this.flight.elapsedSinceDrainedMs();
  }

  stats(): AccumulatorStats {
    return {
      acceptedPoints: this.acceptedPoints,
      rejectedPoints: { ...this.rejectedPoints },
      ...this.admission.counters,
      ...this.streams.counters,
      restoredPoints: this.flight.restoredPoints,
      keptApartPoints: this.buffer.keptApartPoints,
      bufferedSeries: this.buffer.size,
      inFlightSeries: this.flight.size,
      trackedStreams: this.streams.size,
    };
  }

  /**
   * Takes one input (an SDK export or an OTLP request) as a whole, or refuses it as a whole with a
   * `BufferFullError` when it would grow the buffer past its cap. Invalid points are rejected and reported.
   */
  consume(input: InputBatch, request: RequestTenant = {}, options: ConsumeOptions = {}): ConsumeReport {
    const rejections = new RejectionTally();
    let accepted = 0;
    const nowMs = options.nowMs ?? this.options.now();
    const verdict = this.share.verdictFor(input, request);
    if (options.force || this.admission.surelyFits(pointCount(input))) {
      // Far from the caps (the common case): one pass, nothing materialised per point.
      this.walk.validPoints(input, request, rejections, (context, tenant, point) => {
        const streamKey = streamKeyOf(context, tenant, point, this.options.tenantAttribute);
        if (streamKey !== undefined && this.share.refusesNewStream(verdict, tenant, streamKey)) {
          rejections.add('tenant_stream_limit', this.share.message(context.metric.name, tenant));
          return;
        }
        this.apply(context, tenant, point, streamKey, nowMs);
        accepted++;
      });
    } else {
      const prepared = this.prepare(input, request, rejections, verdict);
      this.admission.ensureRoom(prepared);
      for (const item of prepared) this.apply(item.context, item.tenant, item.point, item.streamKey, nowMs);
      accepted = prepared.length;
    }
    this.share.forget(input);
    this.acceptedPoints += accepted;
    return rejections.report(accepted, this.rejectedPoints);
  }

  /**
   * Checks, without applying anything, that `input` fits under the caps now; throws the `BufferFullError`
   * `consume` would throw. For callers that must log input before applying it (then apply with `force`).
   */
  reserve(input: InputBatch, request: RequestTenant = {}) {
    if (this.admission.surelyFits(pointCount(input))) return;
    this.admission.ensureRoom(this.prepare(input, request, new RejectionTally(), undefined));
  }

  /**
   * What `consume` would report for `input` (accepted and rejected points), without changing anything. Lets a
   * caller answer a request before applying it (the collector logs the ACK, sends the 200, then applies).
   */
  assess(input: InputBatch, request: RequestTenant = {}): ConsumeReport {
    const rejections = new RejectionTally();
    let accepted = 0;
    const plan = this.share.plan(pointCount(input), undefined);
    this.walk.validPoints(input, request, rejections, (context, tenant, point) => {
      // The stream's key (text encoding, the slow part) only for a tenant this input could take to its share.
      if (context.streamPrefix !== undefined && this.share.mayReachShare(plan, tenant)) {
        const key = streamKeyOf(context, tenant, point, this.options.tenantAttribute)!;
        if (this.share.plannedRefusal(plan, tenant, key)) {
          rejections.add('tenant_stream_limit', this.share.message(context.metric.name, tenant));
          return;
        }
      }
      accepted++;
    });
    this.share.remember(input, request, plan);
    return rejections.report(accepted, zeroRejections());
  }

  /** The points of `input` that would be applied (valid, not refused by a tenant's share), with their keys. */
  private prepare(
    input: InputBatch,
    request: RequestTenant,
    rejections: RejectionTally,
    verdict: StreamVerdict | undefined,
  ): PreparedPoint[] {
    const prepared: PreparedPoint[] = [];
    const plan = this.share.plan(pointCount(input), verdict);
    const { tenantAttribute } = this.options;
    this.walk.validPoints(input, request, rejections, (context, tenant, point) => {
      const streamKey = streamKeyOf(context, tenant, point, tenantAttribute);
      if (
        streamKey !== undefined &&
        this.share.mayReachShare(plan, tenant) &&
        this.share.plannedRefusal(plan, tenant, streamKey)
      ) {
        rejections.add('tenant_stream_limit', this.share.message(context.metric.name, tenant));
        return;
      }
      const held = this.buffer.holds(context, tenant, point.attributes, point.value, point.timeUnixNano);
      // A series held in one window is a new series in another: the window is part of the key.
      const newSeriesKey = held
        ? undefined
        : `${this.buffer.windowEndOf(point.timeUnixNano)}${seriesKeyOf(context, point, tenantAttribute)}`;
      prepared.push({ context, tenant, point, newSeriesKey, streamKey });
    });
    return prepared;
  }

  /** Applies one valid point; `nowMs` is when its cumulative stream was seen (see `ConsumeOptions.nowMs`). */
  private apply(
    context: MetricContext,
    tenant: string,
    input: InputPoint,
    streamKey: string | undefined,
    nowMs: number,
  ) {
    const metric = context.metric;
    // A point wider than the bucket limit is brought down at once, so neither stream state nor diffs
    // nor merges ever hold more than the limit of it.
    let point: TimedPoint = metric.kind === 'exponentialHistogram' ? this.fitted(input) : input;
    if (streamKey !== undefined) {
      const delta = this.streams.toDelta(streamKey, tenant, metric, point, nowMs, () =>
        heldPlace(context, input.attributes, tenant),
      );
      if (delta === undefined) return;
      // The converted delta carries the point's exemplars: they sample the measurements it counts.
      point = input.exemplars === undefined ? delta : { ...delta, exemplars: input.exemplars };
    }
    this.buffer.add(context, tenant, input.attributes, point);
  }

  private fitted(input: InputPoint): TimedPoint {
    const value = input.value as ExponentialHistogramValue;
    const fitted = fitExponentialHistogram(value, this.options.maxExponentialBuckets);
    if (fitted === value) return input;
    return {
      startTimeUnixNano: input.startTimeUnixNano,
      timeUnixNano: input.timeUnixNano,
      value: fitted,
      exemplars: input.exemplars,
    };
  }

  /**
   * Removes every buffered series and returns them as points for hand-off. They count as in flight until
   * `settle()` says which of them the next stage did not take.
   */
  take(): SeriesPoint[] {
    const points = this.buffer.take();
    this.flight.handedOff(points.length);
    return points;
  }

  /**
   * Ends the flight of `handedOff` points: those in `failed` merge back into the buffer (as earlier arrivals
   * than anything buffered since), the rest are done.
   */
  settle(handedOff: number, failed: readonly SeriesPoint[]) {
    this.flight.settled(handedOff, failed.length);
    for (const point of failed) this.buffer.restore(point);
  }

  /** Restarts the flush clock; called by the flusher when everything it took was taken downstream. */
  markDrained() {
    this.flight.markDrained();
  }

  /** The cumulative streams' state, for a checkpoint. Values are shared, not copied: serialise at once. */
  snapshotStreams(): StreamSnapshotEntry[] {
    return this.streams.snapshot();
  }

  /** Replaces the cumulative streams' state with a checkpoint's. */
  restoreStreams(entries: readonly StreamSnapshotEntry[]) {
    this.streams.restore(entries);
  }

  /** The first intervals of cumulative streams waiting for resolution against shared marks. */
  pendingIntervals(): PendingFirstInterval[] {
    return this.streams.pendingIntervals();
  }

  /** Counts the resolved first intervals (as later arrivals than anything buffered for their series). */
  resolveIntervals(resolutions: readonly Resolution[]) {
    for (const resolution of resolutions) {
      const resolved = this.streams.resolve(resolution);
      if (resolved === undefined) continue;
      const { attributes, ...place } = resolved.place as HeldPlace;
      for (const delta of resolved.deltas)
        this.buffer.add({ ...place, lastGroup: undefined }, place.tenant, attributes, delta);
    }
  }

  /** See `StreamStore.claimsOf`, `takeChangedMarks`, `restoreChanged`, `recheck`, `tenants`. */
  claimsOf(pending: readonly PendingFirstInterval[], owner: string): StreamMark[] {
    return this.streams.claimsOf(pending, owner);
  }

  takeChangedMarks(owner: string): StreamMark[] {
    return this.streams.takeChangedMarks(owner);
  }

  restoreChangedMarks(marks: readonly StreamMark[]) {
    this.streams.restoreChanged(marks);
  }

  recheckStreams(keys: Iterable<string>) {
    this.streams.recheck(keys);
  }

  streamTenants(): string[] {
    return this.streams.tenants();
  }

  /** Forgets cumulative streams silent for longer than `streamStalenessMs`. */
  evictStaleStreams(nowMs = this.options.now()): number {
    return this.streams.evictStale(nowMs);
  }

  /** Tracked cumulative streams of `tenant`: what its share (`maxTrackedStreamsPerTenant`) is measured against. */
  trackedStreamsOf(tenant: string): number {
    return this.streams.trackedOf(tenant);
  }
}

/** Where a held first interval's delta goes once resolved: plain data, so a checkpoint can keep it. */
interface HeldPlace extends Omit<MetricPlace, 'lastGroup'> {
  readonly tenant: string;
  readonly attributes: Attributes;
}

function heldPlace(context: MetricContext, attributes: Attributes, tenant: string): HeldPlace {
  return {
    slotKey: context.slotKey,
    metric: context.metric,
    resource: context.resource,
    scope: context.scope,
    resourceSchemaUrl: context.resourceSchemaUrl,
    description: context.description,
    tenant,
    attributes,
  };
}
