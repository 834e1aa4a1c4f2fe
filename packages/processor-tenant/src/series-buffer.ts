import type {
  Attributes,
  HistogramValue,
  InstrumentationScopeInfo,
  MetricInfo,
  PointValue,
  SeriesPoint,
} from '@tallyhouse/model';
import { encodeValue } from '@tallyhouse/model';
import {
  type HeldPoint,
  mergeEarlierArrival,
  mergeLaterArrival,
  ownedValue,
  type TimedPoint,
} from './merge/index.ts';
import { metricKey, OVERFLOW_ATTRIBUTES } from './series-identity.ts';
import { SeriesTable } from './series-table.ts';

/** Shared by every series of one metric of one tenant. */
export interface SeriesGroup {
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

/** Where the points of one input metric go; built once per metric of an input, not per point. */
export interface MetricPlace {
  readonly slotKey: string;
  readonly metric: MetricInfo;
  readonly resource: Attributes;
  readonly scope: InstrumentationScopeInfo;
  readonly description: string;
  /** The group of the tenant seen last: points of one tenant usually come together. */
  lastGroup: SeriesGroup | undefined;
}

/** Whether a tenant may start another series; a series it may not start folds into its overflow series. */
export interface SeriesCap {
  admitsNewSeries(heldSeriesOfTenant: number): boolean;
}

export interface SeriesBufferOptions {
  /** The point attribute carrying the tenant: not part of a series' attributes. */
  readonly tenantAttribute: string;
  readonly maxExponentialBuckets: number;
}

/**
 * The buffered series: one held point per series (tenant + kept resource + metric + attribute set), found
 * through nested maps (metric → tenant → `SeriesTable`) and merged in place on arrival. `take()` removes
 * everything for hand-off; `restore()` merges back a point the next stage did not take, as an earlier arrival.
 */
export class SeriesBuffer {
  private readonly slots = new Map<string, MetricSlot>();
  private readonly seriesPerTenant = new Map<string, number>();
  private buffered = 0;
  private readonly tenantAttribute: string;
  private readonly maxExponentialBuckets: number;
  private readonly cap: SeriesCap;
  /** Points kept as rows of their own because merging them into their series would overflow. */
  keptApartPoints = 0;

  constructor(options: SeriesBufferOptions, cap: SeriesCap) {
    this.tenantAttribute = options.tenantAttribute;
    this.maxExponentialBuckets = options.maxExponentialBuckets;
    this.cap = cap;
  }

  /** Held points, each series and each row kept apart counted once. */
  get size(): number {
    return this.buffered;
  }

  /** Whether the series of an input point (attributes with the tenant attribute) is held; creates nothing. */
  holds(place: MetricPlace, tenant: string, attributes: Attributes, value: PointValue): boolean {
    const series = this.slots.get(place.slotKey)?.byTenant.get(tenant)?.series;
    return series?.get(attributes, this.tenantAttribute, extraOf(place.metric, value)) !== undefined;
  }

  /**
   * Adds an arriving point (already a delta) to its series: merged into the held point, kept apart when they
   * cannot merge, a new series, or — past the tenant's series cap — folded into the tenant's overflow series.
   */
  add(place: MetricPlace, tenant: string, attributes: Attributes, point: TimedPoint) {
    const group = this.groupAt(place, tenant);
    const metric = place.metric;
    const extra = extraOf(metric, point.value);
    const held = group.series.get(attributes, this.tenantAttribute, extra);
    if (held !== undefined) {
      if (!mergeLaterArrival(metric.kind, held, point, this.maxExponentialBuckets))
        this.keepApart(group, held, point);
      return;
    }
    if (!this.cap.admitsNewSeries(this.seriesPerTenant.get(tenant) ?? 0)) {
      this.foldIntoOverflow(group, point, extra);
      return;
    }
    this.addSeries(group, attributes, this.tenantAttribute, extra, point);
  }

  private groupAt(place: MetricPlace, tenant: string): SeriesGroup {
    const last = place.lastGroup;
    if (last !== undefined && last.tenant === tenant) return last;
    const group = this.groupFor(this.slotFor(place.slotKey, place.metric, place.resource), tenant);
    group.scope = place.scope;
    if (place.description !== '') group.description = place.description;
    place.lastGroup = group;
    return group;
  }

  private foldIntoOverflow(group: SeriesGroup, point: TimedPoint, extra: string | undefined) {
    const held = group.series.get(OVERFLOW_ATTRIBUTES, undefined, extra);
    if (held === undefined) this.addSeries(group, OVERFLOW_ATTRIBUTES, undefined, extra, point);
    else if (!mergeLaterArrival(group.metric.kind, held, point, this.maxExponentialBuckets))
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
    this.keptApartPoints++;
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

  /** Removes every held point and returns them as points for hand-off (canonical attribute objects built here). */
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
    return points;
  }

  /** Merges back a point the next stage did not take, as an earlier arrival than anything held since. */
  restore(point: SeriesPoint) {
    const slot = this.slotFor(metricKey(point.resource, point.metric), point.metric, point.resource);
    const group = this.groupFor(slot, point.tenant);
    if (group.scope.name === '' && group.scope.version === '') group.scope = point.scope;
    const extra = extraOf(point.metric, point.value);
    const held = group.series.get(point.attributes, undefined, extra);
    if (held === undefined) this.addSeries(group, point.attributes, undefined, extra, point);
    else if (!mergeEarlierArrival(point.metric.kind, held, point, this.maxExponentialBuckets))
      this.keepApart(group, held, point);
  }
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
