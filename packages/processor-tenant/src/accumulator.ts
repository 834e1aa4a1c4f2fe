import { encodeValue } from './canonical-attributes.ts';
import {
  type AccumulatorOptions,
  type ResolvedAccumulatorOptions,
  resolveAccumulatorOptions,
} from './config.ts';
import { cumulativeToDelta, type StreamState } from './cumulative-to-delta.ts';
import { BufferFullError } from './errors.ts';
import {
  type HeldPoint,
  mergeEarlierArrival,
  mergeLaterArrival,
  ownedValue,
  type TimedPoint,
} from './merge/index.ts';
import type {
  Attributes,
  HistogramValue,
  InputBatch,
  InputMetric,
  InputPoint,
  InputResourceMetrics,
  InstrumentationScopeInfo,
  MetricInfo,
  PointValue,
  SeriesPoint,
} from './model.ts';
import {
  keptResource,
  metricKey,
  OVERFLOW_ATTRIBUTES,
  seriesKey,
  sourceStreamPrefix,
} from './series-identity.ts';
import { SeriesTable } from './series-table.ts';
import { isValidTenant, tenantProblem } from './tenant.ts';

export type RejectionReason = 'missing_tenant' | 'invalid_tenant' | 'non_finite_value';

/** Per-request tenant context, as the collector knows it from the request (header or API key). */
export interface RequestTenant {
  readonly tenant?: string;
  /**
   * Let a tenant attribute inside the payload override `tenant`; an invalid one is then rejected, not
   * replaced. Off unless the operator allows it.
   */
  readonly allowAttributeOverride?: boolean;
}

export interface ConsumeOptions {
  /**
   * Runs once the input is known to fit, before anything is applied (e.g. appending it to a write-ahead log).
   * If it throws, nothing of the input is applied.
   */
  readonly beforeApply?: () => void;
  /** Clock for cumulative-stream bookkeeping; a journal replay passes the recorded arrival time. */
  readonly nowMs?: number;
  /** Apply even beyond the caps: replaying input that was already acknowledged must not be refused. */
  readonly force?: boolean;
}

/** One cumulative stream's state, serialisable (times as decimal strings) for checkpoints. */
export interface StreamSnapshotEntry {
  readonly key: string;
  readonly startTimeUnixNano: string;
  readonly timeUnixNano: string;
  readonly value: PointValue;
  readonly lastSeenMs: number;
}

export interface ConsumeReport {
  readonly acceptedPoints: number;
  readonly rejectedPoints: number;
  readonly rejectedByReason: Readonly<Partial<Record<RejectionReason, number>>>;
  /** One message per reason, naming the first offending metric and tenant. */
  readonly rejectionMessages: readonly string[];
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
  evictedStreams: number;
}

/** Shared by every series of one metric of one tenant. */
interface SeriesGroup {
  readonly tenant: string;
  readonly metric: MetricInfo;
  readonly resource: Attributes;
  scope: InstrumentationScopeInfo;
  description: string;
  readonly series: SeriesTable<HeldPoint>;
}

interface MetricSlot {
  readonly metric: MetricInfo;
  readonly resource: Attributes;
  readonly byTenant: Map<string, SeriesGroup>;
}

/** What the points of one input metric share; built once per metric, not per point. */
interface MetricContext {
  readonly slotKey: string;
  readonly metric: MetricInfo;
  readonly resource: Attributes;
  readonly scope: InstrumentationScopeInfo;
  readonly description: string;
  /** Set for cumulative sums and histograms: the prefix of the source stream keys to convert against. */
  readonly streamPrefix: string | undefined;
  /** The group of the tenant seen last: points of one tenant usually come together. */
  lastGroup: SeriesGroup | undefined;
}

/** A point that passed validation, waiting for the capacity check. */
interface PreparedPoint {
  readonly context: MetricContext;
  readonly tenant: string;
  readonly point: InputPoint;
  /** The series' identity when it was not buffered at preparation (it needs room); `undefined` when it was. */
  readonly newSeriesKey: string | undefined;
  readonly streamKey: string | undefined;
}

const NO_REJECTIONS: ConsumeReport['rejectedByReason'] = {};

/**
 * The buffer between intake and hand-off: one held point per series (tenant + kept resource + metric +
 * attribute set), merged in place on arrival. `take()` removes points for hand-off; `restore()` merges back
 * whatever the next stage did not take, so nothing is lost and nothing is counted twice.
 */
export class Accumulator {
  readonly options: ResolvedAccumulatorOptions;
  private readonly slots = new Map<string, MetricSlot>();
  private readonly seriesPerTenant = new Map<string, number>();
  private readonly streams = new Map<string, StreamState>();
  private buffered = 0;
  private inFlight = 0;
  private lastDrainedAt: number;
  private lastValidTenant: string | undefined;
  /** The clock of the input being consumed (see `ConsumeOptions.nowMs`). */
  private nowMs = 0;
  private readonly counters: Omit<AccumulatorStats, 'bufferedSeries' | 'inFlightSeries' | 'trackedStreams'> =
    {
      acceptedPoints: 0,
      rejectedPoints: { missing_tenant: 0, invalid_tenant: 0, non_finite_value: 0 },
      refusedBatches: 0,
      refusedPoints: 0,
      overflowFolds: 0,
      cumulativeResets: 0,
      staleCumulativePoints: 0,
      restoredPoints: 0,
      evictedStreams: 0,
    };

  constructor(options: AccumulatorOptions = {}) {
    this.options = resolveAccumulatorOptions(options);
    this.lastDrainedAt = this.options.now();
  }

  /** Series held: buffered plus handed off and not yet confirmed. */
  count(): number {
    return this.buffered + this.inFlight;
  }

  bufferedCount(): number {
    return this.buffered;
  }

  /** Milliseconds since the buffer last fully drained: how overdue a retry is. */
  elapsedSinceDrainedMs(): number {
    return this.options.now() - this.lastDrainedAt;
  }

  stats(): AccumulatorStats {
    return {
      ...this.counters,
      rejectedPoints: { ...this.counters.rejectedPoints },
      bufferedSeries: this.buffered,
      inFlightSeries: this.inFlight,
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
    this.nowMs = options.nowMs ?? this.options.now();
    if (options.force || this.surelyFits(input)) {
      options.beforeApply?.();
      // Far from the caps (the common case): one pass, nothing materialised per point.
      this.visitValidPoints(input, request, rejections, (context, tenant, point) => {
        this.apply(context, tenant, point, this.streamKeyOf(context, tenant, point));
        accepted++;
      });
    } else {
      const prepared = this.prepare(input, request, rejections);
      this.ensureCapacity(prepared);
      options.beforeApply?.();
      for (const item of prepared) this.apply(item.context, item.tenant, item.point, item.streamKey);
      accepted = prepared.length;
    }
    this.counters.acceptedPoints += accepted;
    return rejections.report(accepted, this.counters.rejectedPoints);
  }

  /** True when even if every point of `input` made a new series and stream, no cap would be exceeded. */
  private surelyFits(input: InputBatch): boolean {
    let points = 0;
    for (const resourceMetrics of input.resourceMetrics) {
      for (const scopeMetrics of resourceMetrics.scopeMetrics) {
        for (const metric of scopeMetrics.metrics) points += metric.points.length;
      }
    }
    return (
      this.count() + points <= this.options.maxBufferedSeries &&
      this.streams.size + points <= this.options.maxTrackedStreams
    );
  }

  private streamKeyOf(context: MetricContext, tenant: string, point: InputPoint): string | undefined {
    return context.streamPrefix === undefined
      ? undefined
      : context.streamPrefix + JSON.stringify(tenant) + this.seriesKeyOf(context, point);
  }

  /** The series' identity as text (see series-identity.ts); the buffer itself finds series without it. */
  private seriesKeyOf(context: MetricContext, point: InputPoint): string {
    return seriesKey(point.attributes, this.options.tenantAttribute, context.metric.kind, point.value);
  }

  /** Resolves the tenant of every point; rejects (and tallies) the invalid ones. */
  private visitValidPoints(
    input: InputBatch,
    request: RequestTenant,
    rejections: RejectionTally,
    visit: (context: MetricContext, tenant: string, point: InputPoint) => void,
  ) {
    for (const resourceMetrics of input.resourceMetrics) {
      const resource = keptResource(resourceMetrics.resource, this.options.keepResourceAttributes);
      const resourceTenant = this.resourceTenant(resourceMetrics);
      for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
        for (const input of metrics) {
          const context = this.metricContext(resourceMetrics.resource, resource, scope, input);
          const kind = input.metric.kind;
          for (const point of input.points) {
            const tenant = this.tenantOf(point.attributes, request, resourceTenant, input, rejections);
            if (tenant === undefined) continue;
            if (!hasFiniteValue(kind, point)) {
              rejections.add(
                'non_finite_value',
                `${input.metric.name}: tenant ${JSON.stringify(tenant)} sent a non-finite value`,
              );
              continue;
            }
            visit(context, tenant, point);
          }
        }
      }
    }
  }

  private metricContext(
    fullResource: Attributes,
    resource: Attributes,
    scope: InstrumentationScopeInfo,
    input: InputMetric,
  ): MetricContext {
    // No slot is created here: only applying may change the buffer (a journal replay depends on the order).
    const slotKey = metricKey(resource, input.metric);
    const cumulative = input.temporality === 'cumulative' && input.metric.kind !== 'gauge';
    return {
      slotKey,
      metric: input.metric,
      resource,
      scope,
      description: input.metric.description,
      streamPrefix: cumulative ? sourceStreamPrefix(fullResource, scope, input.metric) : undefined,
      lastGroup: undefined,
    };
  }

  private resourceTenant(resourceMetrics: InputResourceMetrics): unknown {
    return resourceMetrics.resource[this.options.resourceTenantAttribute];
  }

  /** Request tenant, then point attribute, then resource attribute, then the configured default. */
  private tenantOf(
    attributes: Attributes,
    request: RequestTenant,
    resourceTenant: unknown,
    input: InputMetric,
    rejections: RejectionTally,
  ): string | undefined {
    const fromAttribute = attributes[this.options.tenantAttribute];
    let candidate: unknown;
    if (request.tenant !== undefined && !(request.allowAttributeOverride && fromAttribute !== undefined)) {
      candidate = request.tenant;
    } else {
      candidate = fromAttribute ?? resourceTenant ?? this.options.defaultTenant;
    }
    if (candidate === undefined) {
      rejections.add(
        'missing_tenant',
        `${input.metric.name}: a data point carries no tenant (attribute ${JSON.stringify(this.options.tenantAttribute)})`,
      );
      return undefined;
    }
    // Points of one tenant usually come together: skip re-validating the tenant just seen.
    if (candidate === this.lastValidTenant) return this.lastValidTenant;
    if (isValidTenant(candidate)) {
      this.lastValidTenant = candidate;
      return candidate;
    }
    rejections.add('invalid_tenant', `${input.metric.name}: ${tenantProblem(candidate)}`);
    return undefined;
  }

  private ensureCapacity(prepared: readonly PreparedPoint[]) {
    const problem = this.capacityProblem(prepared);
    if (problem === undefined) return;
    this.counters.refusedBatches++;
    this.counters.refusedPoints += prepared.length;
    throw new BufferFullError(problem);
  }

  /** Why `prepared` would not fit under the caps, or `undefined` when it fits. */
  private capacityProblem(prepared: readonly PreparedPoint[]): string | undefined {
    const newSeries = new Set<string>();
    const newStreams = new Set<string>();
    for (const item of prepared) {
      if (item.streamKey !== undefined && !this.streams.has(item.streamKey)) newStreams.add(item.streamKey);
      if (item.newSeriesKey !== undefined)
        newSeries.add(`${item.context.slotKey}${JSON.stringify(item.tenant)}${item.newSeriesKey}`);
    }
    if (this.count() + newSeries.size > this.options.maxBufferedSeries) {
      return `buffer full: ${this.count()} series held, ${newSeries.size} new would exceed maxBufferedSeries=${this.options.maxBufferedSeries}; retry later`;
    }
    if (this.streams.size + newStreams.size > this.options.maxTrackedStreams) {
      return `too many cumulative streams: ${this.streams.size} tracked, ${newStreams.size} new would exceed maxTrackedStreams=${this.options.maxTrackedStreams}; retry later`;
    }
    return undefined;
  }

  /**
   * What `consume` would report for `input` (accepted and rejected points), without changing anything. Lets a
   * caller answer a request before applying it (the collector logs the ACK, sends the 200, then applies).
   */
  assess(input: InputBatch, request: RequestTenant = {}): ConsumeReport {
    const rejections = new RejectionTally();
    let accepted = 0;
    this.visitValidPoints(input, request, rejections, () => accepted++);
    return rejections.report(accepted, { missing_tenant: 0, invalid_tenant: 0, non_finite_value: 0 });
  }

  /**
   * Checks, without applying anything, that `input` fits under the caps now; throws the `BufferFullError`
   * `consume` would throw. For callers that must log input before applying it (then apply with `force`).
   */
  reserve(input: InputBatch, request: RequestTenant = {}) {
    if (this.surelyFits(input)) return;
    this.ensureCapacity(this.prepare(input, request, new RejectionTally()));
  }

  private prepare(input: InputBatch, request: RequestTenant, rejections: RejectionTally): PreparedPoint[] {
    const prepared: PreparedPoint[] = [];
    this.visitValidPoints(input, request, rejections, (context, tenant, point) => {
      const series = this.slots.get(context.slotKey)?.byTenant.get(tenant)?.series;
      const held =
        series?.get(point.attributes, this.options.tenantAttribute, extraOf(context.metric, point.value)) !==
        undefined;
      prepared.push({
        context,
        tenant,
        point,
        newSeriesKey: held ? undefined : this.seriesKeyOf(context, point),
        streamKey: this.streamKeyOf(context, tenant, point),
      });
    });
    return prepared;
  }

  private apply(context: MetricContext, tenant: string, input: InputPoint, streamKey: string | undefined) {
    const metric = context.metric;
    let point: TimedPoint = input;
    if (streamKey !== undefined) {
      const delta = this.toDelta(streamKey, metric, input);
      if (delta === undefined) return;
      point = delta;
    }
    const group = this.contextGroup(context, tenant);
    const skipKey = this.options.tenantAttribute;
    const extra = extraOf(metric, point.value);
    const held = group.series.get(input.attributes, skipKey, extra);
    if (held !== undefined) {
      mergeLaterArrival(metric.kind, held, point, this.options.maxExponentialBuckets);
      return;
    }
    if ((this.seriesPerTenant.get(tenant) ?? 0) >= this.options.maxSeriesPerTenant) {
      this.foldIntoOverflow(group, point, extra);
      return;
    }
    this.addSeries(group, input.attributes, skipKey, extra, point);
  }

  private contextGroup(context: MetricContext, tenant: string): SeriesGroup {
    const last = context.lastGroup;
    if (last !== undefined && last.tenant === tenant) return last;
    const group = this.groupFor(this.slotFor(context.slotKey, context.metric, context.resource), tenant);
    group.scope = context.scope;
    if (context.description !== '') group.description = context.description;
    context.lastGroup = group;
    return group;
  }

  private toDelta(streamKey: string, metric: MetricInfo, point: TimedPoint): TimedPoint | undefined {
    const previous = this.streams.get(streamKey);
    const outcome = cumulativeToDelta(metric, previous, point);
    if (outcome.kind === 'stale') {
      this.counters.staleCumulativePoints++;
      return undefined;
    }
    if (outcome.kind === 'reset') this.counters.cumulativeResets++;
    this.streams.set(streamKey, {
      startTimeUnixNano: point.startTimeUnixNano,
      timeUnixNano: point.timeUnixNano,
      value: point.value,
      lastSeenMs: this.nowMs,
    });
    return outcome.delta;
  }

  private foldIntoOverflow(group: SeriesGroup, point: TimedPoint, extra: string | undefined) {
    this.counters.overflowFolds++;
    const held = group.series.get(OVERFLOW_ATTRIBUTES, undefined, extra);
    if (held !== undefined)
      mergeLaterArrival(group.metric.kind, held, point, this.options.maxExponentialBuckets);
    else this.addSeries(group, OVERFLOW_ATTRIBUTES, undefined, extra, point);
  }

  private addSeries(
    group: SeriesGroup,
    attributes: Attributes,
    skipKey: string | undefined,
    extra: string | undefined,
    point: TimedPoint,
  ) {
    group.series.insert(attributes, skipKey, extra, {
      startTimeUnixNano: point.startTimeUnixNano,
      timeUnixNano: point.timeUnixNano,
      value: ownedValue(group.metric.kind, point.value),
    });
    this.buffered++;
    this.seriesPerTenant.set(group.tenant, (this.seriesPerTenant.get(group.tenant) ?? 0) + 1);
  }

  private groupFor(slot: MetricSlot, tenant: string): SeriesGroup {
    let group = slot.byTenant.get(tenant);
    if (group === undefined) {
      group = {
        tenant,
        metric: slot.metric,
        resource: slot.resource,
        scope: { name: '', version: '' },
        description: slot.metric.description,
        series: new SeriesTable(slot.metric.kind === 'histogram'),
      };
      slot.byTenant.set(tenant, group);
    }
    return group;
  }

  private slotFor(slotKey: string, metric: MetricInfo, resource: Attributes): MetricSlot {
    let slot = this.slots.get(slotKey);
    if (slot === undefined) {
      slot = { metric, resource, byTenant: new Map() };
      this.slots.set(slotKey, slot);
    }
    return slot;
  }

  /**
   * Removes every buffered series and returns them as points for hand-off. They count as in flight until
   * `settle()` says which of them the next stage did not take.
   */
  take(): SeriesPoint[] {
    const points: SeriesPoint[] = [];
    for (const slot of this.slots.values()) {
      for (const group of slot.byTenant.values()) {
        const metric =
          group.description === group.metric.description
            ? group.metric
            : { ...group.metric, description: group.description };
        group.series.forEach((attributes, held) => {
          points.push({
            tenant: group.tenant,
            resource: group.resource,
            scope: group.scope,
            metric,
            attributes,
            startTimeUnixNano: held.startTimeUnixNano,
            timeUnixNano: held.timeUnixNano,
            value: held.value,
          });
        });
      }
    }
    this.slots.clear();
    this.seriesPerTenant.clear();
    this.buffered = 0;
    this.inFlight += points.length;
    return points;
  }

  /**
   * Ends the flight of `handedOff` points: those in `failed` merge back into the buffer (as earlier arrivals
   * than anything buffered since), the rest are done.
   */
  settle(handedOff: number, failed: readonly SeriesPoint[]) {
    this.inFlight -= handedOff;
    for (const point of failed) this.restore(point);
    this.counters.restoredPoints += failed.length;
  }

  /** Restarts the flush clock; called by the flusher when everything it took was taken downstream. */
  markDrained() {
    this.lastDrainedAt = this.options.now();
  }

  private restore(point: SeriesPoint) {
    const slot = this.slotFor(metricKey(point.resource, point.metric), point.metric, point.resource);
    const group = this.groupFor(slot, point.tenant);
    if (group.scope.name === '' && group.scope.version === '') group.scope = point.scope;
    const extra = extraOf(point.metric, point.value);
    const held = group.series.get(point.attributes, undefined, extra);
    if (held !== undefined)
      mergeEarlierArrival(point.metric.kind, held, point, this.options.maxExponentialBuckets);
    else this.addSeries(group, point.attributes, undefined, extra, point);
  }

  /** The cumulative streams' state, for a checkpoint. Values are shared, not copied: serialise at once. */
  snapshotStreams(): StreamSnapshotEntry[] {
    return snapshotOfStreams(this.streams);
  }

  /** Replaces the cumulative streams' state with a checkpoint's. */
  restoreStreams(entries: readonly StreamSnapshotEntry[]) {
    this.streams.clear();
    for (const entry of entries) {
      this.streams.set(entry.key, {
        startTimeUnixNano: BigInt(entry.startTimeUnixNano),
        timeUnixNano: BigInt(entry.timeUnixNano),
        value: entry.value,
        lastSeenMs: entry.lastSeenMs,
      });
    }
  }

  /** Forgets cumulative streams silent for longer than `streamStalenessMs`. */
  evictStaleStreams(nowMs = this.options.now()): number {
    const cutoff = nowMs - this.options.streamStalenessMs;
    let evicted = 0;
    for (const [key, state] of this.streams) {
      if (state.lastSeenMs < cutoff) {
        this.streams.delete(key);
        evicted++;
      }
    }
    this.counters.evictedStreams += evicted;
    return evicted;
  }
}

export function snapshotOfStreams(streams: ReadonlyMap<string, StreamState>): StreamSnapshotEntry[] {
  return [...streams].map(([key, state]) => ({
    key,
    startTimeUnixNano: String(state.startTimeUnixNano),
    timeUnixNano: String(state.timeUnixNano),
    value: state.value,
    lastSeenMs: state.lastSeenMs,
  }));
}

/** Bucket bounds are part of an explicit histogram's identity: different bounds never merge. */
function extraOf(metric: MetricInfo, value: PointValue): string | undefined {
  return metric.kind === 'histogram' ? encodeValue((value as HistogramValue).bounds) : undefined;
}

function hasFiniteValue(kind: MetricInfo['kind'], point: InputPoint): boolean {
  const value = point.value as { value?: number; sum?: number; count?: number };
  switch (kind) {
    case 'sum':
      return Number.isFinite(value.value);
    case 'gauge':
      return true;
    default:
      return Number.isFinite(value.sum) && Number.isFinite(value.count);
  }
}

class RejectionTally {
  private readonly counts: Partial<Record<RejectionReason, number>> = {};
  private readonly messages = new Map<RejectionReason, string>();
  private total = 0;

  add(reason: RejectionReason, message: string) {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    if (!this.messages.has(reason)) this.messages.set(reason, message);
    this.total++;
  }

  report(accepted: number, totals: Record<RejectionReason, number>): ConsumeReport {
    if (this.total === 0)
      return {
        acceptedPoints: accepted,
        rejectedPoints: 0,
        rejectedByReason: NO_REJECTIONS,
        rejectionMessages: [],
      };
    for (const [reason, count] of Object.entries(this.counts) as [RejectionReason, number][])
      totals[reason] += count;
    const rejectionMessages = [...this.messages].map(
      ([reason, message]) => `${this.counts[reason]} rejected (${reason}), e.g. ${message}`,
    );
    return {
      acceptedPoints: accepted,
      rejectedPoints: this.total,
      rejectedByReason: { ...this.counts },
      rejectionMessages,
    };
  }
}
