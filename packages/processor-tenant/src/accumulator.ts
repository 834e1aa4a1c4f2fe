import type {
  Attributes,
  ExponentialHistogramValue,
  HistogramValue,
  InputBatch,
  InputMetric,
  InputPoint,
  InputResourceMetrics,
  InstrumentationScopeInfo,
  MetricInfo,
  PointValue,
  SeriesPoint,
} from '@tallyhouse/model';
import { encodeValue, isValidTenant, tenantProblem } from '@tallyhouse/model';
import {
  type AccumulatorOptions,
  type ResolvedAccumulatorOptions,
  resolveAccumulatorOptions,
} from './config.ts';
import { cumulativeToDelta, type StreamState } from './cumulative-to-delta.ts';
import { BufferFullError } from './errors.ts';
import {
  fitExponentialHistogram,
  type HeldPoint,
  mergeEarlierArrival,
  mergeLaterArrival,
  ownedValue,
  type TimedPoint,
} from './merge/index.ts';
import { valueProblem } from './point-validation.ts';
import {
  keptResource,
  metricKey,
  OVERFLOW_ATTRIBUTES,
  seriesKey,
  sourceStreamPrefix,
} from './series-identity.ts';
import { SeriesTable } from './series-table.ts';

export type RejectionReason =
  | 'missing_tenant'
  | 'invalid_tenant'
  | 'non_finite_value'
  /** A value storage would refuse: counts that are not exact integers, bucket arrays that do not fit. */
  | 'invalid_value'
  /** A new cumulative stream of a tenant that holds its whole share (`maxTrackedStreamsPerTenant`). */
  | 'tenant_stream_limit';

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
  /** Absent in checkpoints of older versions: such a stream counts toward no tenant's share. */
  readonly tenant?: string;
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
  /** Points kept as rows of their own because merging them into their series would overflow. */
  keptApartPoints: number;
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
  /**
   * Points of a series that could not merge into its held point (the sum would overflow, a count pass
   * 2^53, buckets not fit): handed off as rows of their own next to it. Rare, so one map per group, made on
   * first use, rather than a field on every held point.
   */
  apart: Map<HeldPoint, TimedPoint[]> | undefined;
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

function zeroRejections(): Record<RejectionReason, number> {
  return {
    missing_tenant: 0,
    invalid_tenant: 0,
    non_finite_value: 0,
    invalid_value: 0,
    tenant_stream_limit: 0,
  };
}

/**
 * What `assess` decided about an input's new cumulative streams. Applying the same input object does exactly
 * that, even if other requests of the tenant were applied in between (a group commit of the collector's log
 * assesses several requests before it applies any), so the answer a client got is what happens.
 */
interface StreamVerdict {
  readonly tenant: string | undefined;
  readonly allowAttributeOverride: boolean | undefined;
  /** Keys of the new streams the tenants' shares refuse. */
  readonly refused: ReadonlySet<string>;
}

/** One input's new cumulative streams checked against the tenants' shares, without applying anything. */
interface SharePlan {
  /** Points in the input: a tenant further than this below its share cannot reach it. */
  readonly inputPoints: number;
  readonly verdict: StreamVerdict | undefined;
  /** New streams accepted so far in this input, per tenant. */
  readonly planned: Map<string, number>;
  readonly accepted: Set<string>;
  readonly refused: Set<string>;
}

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
  /** Tracked streams per tenant, kept in step with `streams` (a Map: tenants are arbitrary text). */
  private readonly streamsPerTenant = new Map<string, number>();
  /** `assess` verdicts by input object, until that input is applied (or dropped and collected). */
  private readonly verdicts = new WeakMap<InputBatch, StreamVerdict>();
  private buffered = 0;
  private inFlight = 0;
  private lastDrainedAt: number;
  private lastValidTenant: string | undefined;
  /** The clock of the input being consumed (see `ConsumeOptions.nowMs`). */
  private nowMs = 0;
  private readonly counters: Omit<AccumulatorStats, 'bufferedSeries' | 'inFlightSeries' | 'trackedStreams'> =
    {
      acceptedPoints: 0,
      rejectedPoints: zeroRejections(),
      refusedBatches: 0,
      refusedPoints: 0,
      overflowFolds: 0,
      cumulativeResets: 0,
      staleCumulativePoints: 0,
      restoredPoints: 0,
      keptApartPoints: 0,
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
    const verdict = this.verdictFor(input, request);
    if (options.force || this.surelyFits(input)) {
      options.beforeApply?.();
      // Far from the caps (the common case): one pass, nothing materialised per point.
      this.visitValidPoints(input, request, rejections, (context, tenant, point) => {
        const streamKey = this.streamKeyOf(context, tenant, point);
        if (streamKey !== undefined && this.refusesNewStream(verdict, tenant, streamKey)) {
          rejections.add('tenant_stream_limit', this.shareMessage(context, tenant));
          return;
        }
        this.apply(context, tenant, point, streamKey);
        accepted++;
      });
    } else {
      const prepared = this.prepare(input, request, rejections, verdict);
      this.ensureCapacity(prepared);
      options.beforeApply?.();
      for (const item of prepared) this.apply(item.context, item.tenant, item.point, item.streamKey);
      accepted = prepared.length;
    }
    this.verdicts.delete(input);
    this.counters.acceptedPoints += accepted;
    return rejections.report(accepted, this.counters.rejectedPoints);
  }

  /** True when even if every point of `input` made a new series and stream, no global cap would be exceeded. */
  private surelyFits(input: InputBatch): boolean {
    const points = pointCount(input);
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
            const problem = valueProblem(kind, point.value);
            if (problem !== undefined) {
              rejections.add(
                problem.reason,
                `${input.metric.name}: tenant ${JSON.stringify(tenant)} sent ${problem.detail}`,
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
    const plan = this.sharePlan(input, undefined);
    this.visitValidPoints(input, request, rejections, (context, tenant, point) => {
      // The stream's key (text encoding, the slow part) only for a tenant this input could take to its share.
      if (context.streamPrefix !== undefined && this.mayReachShare(plan, tenant)) {
        if (this.plannedRefusal(plan, tenant, this.streamKeyOf(context, tenant, point)!)) {
          rejections.add('tenant_stream_limit', this.shareMessage(context, tenant));
          return;
        }
      }
      accepted++;
    });
    this.verdicts.set(input, {
      tenant: request.tenant,
      allowAttributeOverride: request.allowAttributeOverride,
      refused: plan.refused,
    });
    return rejections.report(accepted, zeroRejections());
  }

  /** The verdict `assess` left for this input object and request, if any. */
  private verdictFor(input: InputBatch, request: RequestTenant): StreamVerdict | undefined {
    const verdict = this.verdicts.get(input);
    if (verdict === undefined) return undefined;
    const same =
      verdict.tenant === request.tenant && verdict.allowAttributeOverride === request.allowAttributeOverride;
    return same ? verdict : undefined;
  }

  private sharePlan(input: InputBatch, verdict: StreamVerdict | undefined): SharePlan {
    return {
      inputPoints: pointCount(input),
      verdict,
      planned: new Map(),
      accepted: new Set(),
      refused: new Set(),
    };
  }

  /** False when no point of the input can be refused for `tenant`'s share (then no stream key is needed). */
  private mayReachShare(plan: SharePlan, tenant: string): boolean {
    if (plan.verdict !== undefined) return plan.verdict.refused.size > 0;
    const tracked = this.streamsPerTenant.get(tenant) ?? 0;
    return tracked + plan.inputPoints > this.options.maxTrackedStreamsPerTenant;
  }

  /**
   * Whether `tenant`'s share refuses the stream `key`, counting the new streams accepted earlier in the same
   * input: the rule `refusesNewStream` applies point by point while applying, simulated without applying.
   */
  private plannedRefusal(plan: SharePlan, tenant: string, key: string): boolean {
    if (plan.verdict !== undefined) return plan.verdict.refused.has(key);
    if (plan.refused.has(key)) return true;
    if (plan.accepted.has(key) || this.streams.has(key)) return false;
    const planned = plan.planned.get(tenant) ?? 0;
    if ((this.streamsPerTenant.get(tenant) ?? 0) + planned >= this.options.maxTrackedStreamsPerTenant) {
      plan.refused.add(key);
      return true;
    }
    plan.planned.set(tenant, planned + 1);
    plan.accepted.add(key);
    return false;
  }

  /**
   * While applying: a new stream of a tenant holding its whole share is refused; a stream already tracked
   * never is. With a verdict from `assess`, exactly the streams it refused are.
   */
  private refusesNewStream(verdict: StreamVerdict | undefined, tenant: string, key: string): boolean {
    if (verdict !== undefined) return verdict.refused.has(key);
    const tracked = this.streamsPerTenant.get(tenant) ?? 0;
    return tracked >= this.options.maxTrackedStreamsPerTenant && !this.streams.has(key);
  }

  /** Names the tenant and the limit, and nothing that changes from one point to the next. */
  private shareMessage(context: MetricContext, tenant: string): string {
    const { maxTrackedStreamsPerTenant, streamStalenessMs } = this.options;
    return `${context.metric.name}: tenant ${JSON.stringify(tenant)} holds its share of tracked cumulative streams (maxTrackedStreamsPerTenant=${maxTrackedStreamsPerTenant}, TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT); its new cumulative streams are rejected until some of its streams stay silent for streamStalenessMs=${streamStalenessMs}`;
  }

  /**
   * Checks, without applying anything, that `input` fits under the caps now; throws the `BufferFullError`
   * `consume` would throw. For callers that must log input before applying it (then apply with `force`).
   */
  reserve(input: InputBatch, request: RequestTenant = {}) {
    if (this.surelyFits(input)) return;
    this.ensureCapacity(this.prepare(input, request, new RejectionTally(), undefined));
  }

  /** The points of `input` that would be applied (valid, not refused by a tenant's share), with their keys. */
  private prepare(
    input: InputBatch,
    request: RequestTenant,
    rejections: RejectionTally,
    verdict: StreamVerdict | undefined,
  ): PreparedPoint[] {
    const prepared: PreparedPoint[] = [];
    const plan = this.sharePlan(input, verdict);
    this.visitValidPoints(input, request, rejections, (context, tenant, point) => {
      const streamKey = this.streamKeyOf(context, tenant, point);
      if (
        streamKey !== undefined &&
        this.mayReachShare(plan, tenant) &&
        this.plannedRefusal(plan, tenant, streamKey)
      ) {
        rejections.add('tenant_stream_limit', this.shareMessage(context, tenant));
        return;
      }
      const series = this.slots.get(context.slotKey)?.byTenant.get(tenant)?.series;
      const held =
        series?.get(point.attributes, this.options.tenantAttribute, extraOf(context.metric, point.value)) !==
        undefined;
      prepared.push({
        context,
        tenant,
        point,
        newSeriesKey: held ? undefined : this.seriesKeyOf(context, point),
        streamKey,
      });
    });
    return prepared;
  }

  private apply(context: MetricContext, tenant: string, input: InputPoint, streamKey: string | undefined) {
    const metric = context.metric;
    // A point wider than the bucket limit is brought down at once, so neither stream state nor diffs
    // nor merges ever hold more than the limit of it.
    let point: TimedPoint = metric.kind === 'exponentialHistogram' ? this.fitted(input) : input;
    if (streamKey !== undefined) {
      const delta = this.toDelta(streamKey, tenant, metric, point);
      if (delta === undefined) return;
      point = delta;
    }
    const group = this.contextGroup(context, tenant);
    const skipKey = this.options.tenantAttribute;
    const extra = extraOf(metric, point.value);
    const held = group.series.get(input.attributes, skipKey, extra);
    if (held !== undefined) {
      if (!mergeLaterArrival(metric.kind, held, point, this.options.maxExponentialBuckets))
        this.keepApart(group, held, point);
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

  private fitted(input: InputPoint): TimedPoint {
    const value = input.value as ExponentialHistogramValue;
    const fitted = fitExponentialHistogram(value, this.options.maxExponentialBuckets);
    if (fitted === value) return input;
    return { startTimeUnixNano: input.startTimeUnixNano, timeUnixNano: input.timeUnixNano, value: fitted };
  }

  private toDelta(
    streamKey: string,
    tenant: string,
    metric: MetricInfo,
    point: TimedPoint,
  ): TimedPoint | undefined {
    const previous = this.streams.get(streamKey);
    const outcome = cumulativeToDelta(metric, previous, point);
    if (outcome.kind === 'stale') {
      this.counters.staleCumulativePoints++;
      return undefined;
    }
    if (outcome.kind === 'reset') this.counters.cumulativeResets++;
    if (previous === undefined)
      this.streamsPerTenant.set(tenant, (this.streamsPerTenant.get(tenant) ?? 0) + 1);
    this.streams.set(streamKey, {
      tenant,
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
    if (held === undefined) this.addSeries(group, OVERFLOW_ATTRIBUTES, undefined, extra, point);
    else if (!mergeLaterArrival(group.metric.kind, held, point, this.options.maxExponentialBuckets))
      this.keepApart(group, held, point);
  }

  /**
   * Keeps `point` as a row of its own next to `held`, in the same series: adding them would not give an exact,
   * storable value (a sum past ±1.8e308, a count past 2^53). Both rows are valid; together they are the total.
   * Decided from the values alone, so a replay of the same input decides the same.
   */
  private keepApart(group: SeriesGroup, held: HeldPoint, point: TimedPoint) {
    group.apart ??= new Map();
    const row: TimedPoint = {
      startTimeUnixNano: point.startTimeUnixNano,
      timeUnixNano: point.timeUnixNano,
      value: point.value,
    };
    const rows = group.apart.get(held);
    if (rows === undefined) group.apart.set(held, [row]);
    else rows.push(row);
    this.buffered++;
    this.counters.keptApartPoints++;
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
        apart: undefined,
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
        const apart = group.apart;
        group.series.forEach((attributes, held) => {
          points.push(rowOf(group, metric, attributes, held));
          const rows = apart?.get(held);
          if (rows !== undefined) for (const row of rows) points.push(rowOf(group, metric, attributes, row));
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
    if (held === undefined) this.addSeries(group, point.attributes, undefined, extra, point);
    else if (!mergeEarlierArrival(point.metric.kind, held, point, this.options.maxExponentialBuckets))
      this.keepApart(group, held, point);
  }

  /** The cumulative streams' state, for a checkpoint. Values are shared, not copied: serialise at once. */
  snapshotStreams(): StreamSnapshotEntry[] {
    return snapshotOfStreams(this.streams);
  }

  /** Replaces the cumulative streams' state with a checkpoint's. */
  restoreStreams(entries: readonly StreamSnapshotEntry[]) {
    this.streams.clear();
    this.streamsPerTenant.clear();
    for (const entry of entries) {
      const previous = this.streams.get(entry.key);
      if (previous !== undefined) this.forgetStreamOf(previous.tenant);
      if (entry.tenant !== undefined)
        this.streamsPerTenant.set(entry.tenant, (this.streamsPerTenant.get(entry.tenant) ?? 0) + 1);
      this.streams.set(entry.key, {
        tenant: entry.tenant,
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
        this.forgetStreamOf(state.tenant);
        evicted++;
      }
    }
    this.counters.evictedStreams += evicted;
    return evicted;
  }

  /** Tracked cumulative streams of `tenant`: what its share (`maxTrackedStreamsPerTenant`) is measured against. */
  trackedStreamsOf(tenant: string): number {
    return this.streamsPerTenant.get(tenant) ?? 0;
  }

  private forgetStreamOf(tenant: string | undefined) {
    if (tenant === undefined) return;
    const left = (this.streamsPerTenant.get(tenant) ?? 0) - 1;
    // Tenants without streams leave the map, so it stays as small as the set of tenants with streams.
    if (left > 0) this.streamsPerTenant.set(tenant, left);
    else this.streamsPerTenant.delete(tenant);
  }
}

export function snapshotOfStreams(streams: ReadonlyMap<string, StreamState>): StreamSnapshotEntry[] {
  return [...streams].map(([key, state]) => ({
    key,
    tenant: state.tenant,
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

function rowOf(
  group: SeriesGroup,
  metric: MetricInfo,
  attributes: Attributes,
  point: TimedPoint,
): SeriesPoint {
  return {
    tenant: group.tenant,
    resource: group.resource,
    scope: group.scope,
    metric,
    attributes,
    startTimeUnixNano: point.startTimeUnixNano,
    timeUnixNano: point.timeUnixNano,
    value: point.value,
  };
}

function pointCount(input: InputBatch): number {
  let points = 0;
  for (const resourceMetrics of input.resourceMetrics) {
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      for (const metric of scopeMetrics.metrics) points += metric.points.length;
    }
  }
  return points;
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
