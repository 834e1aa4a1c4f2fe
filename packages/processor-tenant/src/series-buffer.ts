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
import { OVERFLOW_ATTRIBUTES, slotKeyOfPoint } from './series-identity.ts';
import { SeriesTable } from './series-table.ts';

/**
 * The attribution window: points whose times fall in different windows never merge, so a stored row's time
 * (its latest point's) lies in the same window as every point it sums. A quarter hour divides every billing
 * period — hours, days and months in UTC or in any time zone, whose offsets are all whole quarter hours — so
 * no row's usage leaks into the next period. Windows are `(end - window, end]` with `end` a multiple of the
 * window, like the rollups' and the usage reader's buckets: a point stamped exactly on the hour closes the hour
 * before (a delta over `(start, time]` happened before its time).
 */
export const ATTRIBUTION_WINDOW_NS = 15n * 60n * 1_000_000_000n;

/** Shared by every series of one metric of one tenant within one attribution window. */
export interface SeriesGroup {
  readonly window: Window;
  readonly tenant: string;
  readonly metric: MetricInfo;
  readonly resource: Attributes;
  scope: InstrumentationScopeInfo;
  /** The schema URL of the resource seen last (`''`: none). */
  resourceSchemaUrl: string;
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

/** What is buffered of one attribution window, and how many series each tenant holds in it. */
interface Window {
  /** The window's last nanosecond: it holds points with `end - windowNs < timeUnixNano <= end`. */
  readonly end: bigint;
  readonly slots: Map<string, MetricSlot>;
  readonly seriesPerTenant: Map<string, number>;
}

/** Where the points of one input metric go; built once per metric of an input, not per point. */
export interface MetricPlace {
  readonly slotKey: string;
  readonly metric: MetricInfo;
  readonly resource: Attributes;
  readonly scope: InstrumentationScopeInfo;
  readonly resourceSchemaUrl: string;
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
  /** `ATTRIBUTION_WINDOW_NS`; a benchmark's baseline passes a window longer than any time to merge across all. */
  readonly attributionWindowNs: bigint;
}

/**
 * The buffered series: one held point per series (tenant + kept resource + metric + attribute set) and
 * attribution window, found through nested maps (window → metric → tenant → `SeriesTable`) and merged in place
 * on arrival. A point goes to the window of its own time, so a held point never spans two windows. `take()`
 * removes everything for hand-off; `restore()` merges back a point the next stage did not take, as an earlier
 * arrival.
 */
export class SeriesBuffer {
  /** Nearly always one window; two around a boundary, more only while the next stage keeps failing. */
  private readonly windows = new Map<bigint, Window>();
  // Points of one input nearly always share a window: the last one found, checked with two comparisons.
  private lastWindow: Window | undefined;
  private buffered = 0;
  private readonly tenantAttribute: string;
  private readonly maxExponentialBuckets: number;
  private readonly windowNs: bigint;
  private readonly cap: SeriesCap;
  /** Points kept as rows of their own because merging them into their series would overflow. */
  keptApartPoints = 0;

  constructor(options: SeriesBufferOptions, cap: SeriesCap) {
    this.tenantAttribute = options.tenantAttribute;
    this.maxExponentialBuckets = options.maxExponentialBuckets;
    this.windowNs = options.attributionWindowNs;
    this.cap = cap;
  }

  /** Held points, each series and each row kept apart counted once. */
  get size(): number {
    return this.buffered;
  }

  /**
   * Whether the series of an input point (attributes with the tenant attribute) is held in the window of
   * `timeUnixNano`; creates nothing.
   */
  holds(
    place: MetricPlace,
    tenant: string,
    attributes: Attributes,
    value: PointValue,
    timeUnixNano: bigint,
  ): boolean {
    const window = this.windows.get(this.windowEndOf(timeUnixNano));
    const series = window?.slots.get(place.slotKey)?.byTenant.get(tenant)?.series;
    return series?.get(attributes, this.tenantAttribute, extraOf(place.metric, value)) !== undefined;
  }

  /** The last nanosecond of the window `timeUnixNano` falls in: also the window's key. */
  windowEndOf(timeUnixNano: bigint): bigint {
    const past = timeUnixNano % this.windowNs;
    return past === 0n ? timeUnixNano : timeUnixNano - past + this.windowNs;
  }

  /**
   * Adds an arriving point (already a delta) to its series: merged into the held point, kept apart when they
   * cannot merge, a new series, or — past the tenant's series cap — folded into the tenant's overflow series.
   */
  add(place: MetricPlace, tenant: string, attributes: Attributes, point: TimedPoint) {
    const group = this.groupAt(place, tenant, this.windowOf(point.timeUnixNano));
    const metric = place.metric;
    const extra = extraOf(metric, point.value);
    const held = group.series.get(attributes, this.tenantAttribute, extra);
    if (held !== undefined) {
      if (!mergeLaterArrival(metric.kind, held, point, this.maxExponentialBuckets))
        this.keepApart(group, held, point);
      return;
    }
    if (!this.cap.admitsNewSeries(group.window.seriesPerTenant.get(tenant) ?? 0)) {
      this.foldIntoOverflow(group, point, extra);
      return;
    }
    this.addSeries(group, attributes, this.tenantAttribute, extra, point);
  }

  /** The window of `timeUnixNano`, made on first use. */
  private windowOf(timeUnixNano: bigint): Window {
    const last = this.lastWindow;
    if (last !== undefined && timeUnixNano <= last.end && last.end - timeUnixNano < this.windowNs)
      return last;
    const end = this.windowEndOf(timeUnixNano);
    let window = this.windows.get(end);
    if (window === undefined) {
      window = { end, slots: new Map(), seriesPerTenant: new Map() };
      this.windows.set(end, window);
    }
    this.lastWindow = window;
    return window;
  }

  private groupAt(place: MetricPlace, tenant: string, window: Window): SeriesGroup {
    const last = place.lastGroup;
    if (last !== undefined && last.tenant === tenant && last.window === window) return last;
    const group = this.groupFor(
      window,
      this.slotFor(window, place.slotKey, place.metric, place.resource),
      tenant,
    );
    group.scope = place.scope;
    group.resourceSchemaUrl = place.resourceSchemaUrl;
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
      exemplars: point.exemplars,
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
      exemplars: point.exemplars,
    });
    this.buffered++;
    const perTenant = group.window.seriesPerTenant;
    perTenant.set(group.tenant, (perTenant.get(group.tenant) ?? 0) + 1);
  }

  private groupFor(window: Window, slot: MetricSlot, tenant: string): SeriesGroup {
    let group = slot.byTenant.get(tenant);
    if (group === undefined) {
      group = {
        window,
        tenant,
        metric: slot.metric,
        resource: slot.resource,
        scope: NO_SCOPE_YET,
        resourceSchemaUrl: '',
        description: slot.metric.description,
        series: new SeriesTable(slot.metric.kind === 'histogram'),
        apart: undefined,
      };
      slot.byTenant.set(tenant, group);
    }
    return group;
  }

  private slotFor(window: Window, slotKey: string, metric: MetricInfo, resource: Attributes): MetricSlot {
    let slot = window.slots.get(slotKey);
    if (slot === undefined) {
      slot = { metric, resource, byTenant: new Map() };
      window.slots.set(slotKey, slot);
    }
    return slot;
  }

  /** Removes every held point and returns them as points for hand-off (canonical attribute objects built here). */
  take(): SeriesPoint[] {
    const points: SeriesPoint[] = [];
    for (const window of this.windows.values()) {
      for (const slot of window.slots.values()) {
        for (const group of slot.byTenant.values()) {
          const metric =
            group.description === group.metric.description
              ? group.metric
              : { ...group.metric, description: group.description };
          const apart = group.apart;
          group.series.forEach((attributes, held) => {
            points.push(rowOf(group, metric, attributes, held));
            const rows = apart?.get(held);
            if (rows !== undefined)
              for (const row of rows) points.push(rowOf(group, metric, attributes, row));
          });
        }
      }
    }
    this.windows.clear();
    this.lastWindow = undefined;
    this.buffered = 0;
    return points;
  }

  /** Merges back a point the next stage did not take, as an earlier arrival than anything held since. */
  restore(point: SeriesPoint) {
    const window = this.windowOf(point.timeUnixNano);
    const slot = this.slotFor(window, slotKeyOfPoint(point), point.metric, point.resource);
    const group = this.groupFor(window, slot, point.tenant);
    if (group.scope === NO_SCOPE_YET) {
      group.scope = point.scope;
      group.resourceSchemaUrl = point.resourceSchemaUrl ?? '';
    }
    const extra = extraOf(point.metric, point.value);
    const held = group.series.get(point.attributes, undefined, extra);
    if (held === undefined) this.addSeries(group, point.attributes, undefined, extra, point);
    else if (!mergeEarlierArrival(point.metric.kind, held, point, this.maxExponentialBuckets))
      this.keepApart(group, held, point);
  }
}

/** The scope of a group made by `restore` until a point gives it one (arrivals always do). */
const NO_SCOPE_YET: InstrumentationScopeInfo = Object.freeze({ name: '', version: '' });

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
  const row: SeriesPoint = {
    tenant: group.tenant,
    resource: group.resource,
    scope: group.scope,
    metric,
    attributes,
    startTimeUnixNano: point.startTimeUnixNano,
    timeUnixNano: point.timeUnixNano,
    value: point.value,
  };
  // Optional fields only when set: most rows have neither.
  const withUrl =
    group.resourceSchemaUrl === '' ? row : { ...row, resourceSchemaUrl: group.resourceSchemaUrl };
  return point.exemplars === undefined || point.exemplars.length === 0
    ? withUrl
    : { ...withUrl, exemplars: point.exemplars };
}
