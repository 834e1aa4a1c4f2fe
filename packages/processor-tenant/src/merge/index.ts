import type { Exemplar, MetricInfo, PointValue, PointValueByKind } from '@tallyhouse/model';
import { isLatestValueKind, mergeExemplars } from '@tallyhouse/model';
import {
  addExponentialHistograms,
  canAddExponentialHistograms,
  diffExponentialHistograms,
} from './exponential-histogram.ts';
import { incomingGaugeWins } from './gauge.ts';
import { addHistograms, canAddHistograms, diffHistograms } from './histogram.ts';
import { addSums, canAddSums, diffSums } from './sum.ts';

export * from './exponential-histogram.ts';
export * from './gauge.ts';
export * from './histogram.ts';
export * from './sum.ts';

/** A held point: what the buffer keeps per series. Mutable so the hot path merges in place. */
export interface HeldPoint {
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  value: PointValue;
  /** The most recent exemplars of everything merged into it (`MAX_EXEMPLARS_PER_POINT`); absent when none. */
  exemplars?: readonly Exemplar[] | undefined;
}

export interface TimedPoint {
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: PointValue;
  readonly exemplars?: readonly Exemplar[] | undefined;
}

type Value<K extends MetricInfo['kind']> = PointValueByKind[K];

function addValues(kind: MetricInfo['kind'], held: PointValue, incoming: PointValue, maxBuckets: number) {
  switch (kind) {
    case 'sum':
      return addSums(held as Value<'sum'>, incoming as Value<'sum'>);
    case 'histogram':
      return addHistograms(held as Value<'histogram'>, incoming as Value<'histogram'>);
    case 'exponentialHistogram':
      return addExponentialHistograms(
        held as Value<'exponentialHistogram'>,
        incoming as Value<'exponentialHistogram'>,
        maxBuckets,
      );
    case 'gauge':
    case 'summary':
      throw new RangeError(`${kind} points are not added`);
  }
}

/**
 * Whether `held` and `incoming` of one series can be added into one exact, storable value (see `canAddSums`,
 * `canAddHistograms`, `canAddExponentialHistograms`). Gauges and summaries always merge: one of them wins.
 */
export function canMergeValues(
  kind: MetricInfo['kind'],
  held: PointValue,
  incoming: PointValue,
  maxBuckets: number,
): boolean {
  switch (kind) {
    case 'sum':
      return canAddSums(held as Value<'sum'>, incoming as Value<'sum'>);
    case 'histogram':
      return canAddHistograms(held as Value<'histogram'>, incoming as Value<'histogram'>);
    case 'exponentialHistogram':
      return canAddExponentialHistograms(
        held as Value<'exponentialHistogram'>,
        incoming as Value<'exponentialHistogram'>,
        maxBuckets,
      );
    case 'gauge':
    case 'summary':
      return true;
  }
}

/**
 * Merges `incoming` (the later arrival) into `held`, in place. Deltas add and the covered interval widens;
 * gauges and summaries keep the newer timestamp, the later arrival on a tie. Returns `false`, changing nothing,
 * when the two cannot be merged exactly (`canMergeValues`): the caller keeps `incoming` as a point of its own.
 */
export function mergeLaterArrival(
  kind: MetricInfo['kind'],
  held: HeldPoint,
  incoming: TimedPoint,
  maxBuckets: number,
): boolean {
  if (isLatestValueKind(kind)) {
    if (incomingGaugeWins(held, incoming)) replaceWith(held, incoming);
  } else {
    if (kind === 'sum') {
      if (!addSumInPlace(held, incoming.value as Value<'sum'>)) return false;
    } else {
      if (!canMergeValues(kind, held.value, incoming.value, maxBuckets)) return false;
      held.value = addValues(kind, held.value, incoming.value, maxBuckets);
    }
    widen(held, incoming);
  }
  // Exemplars sample the measurements of every merged point, whichever value won; one check when there are none.
  if (incoming.exemplars !== undefined) held.exemplars = mergeExemplars(held.exemplars, incoming.exemplars);
  return true;
}

/**
 * The hot path of a merge: no new value object that would outlive the next scavenge. A held sum owns its
 * value object (`ownedValue` copies it when the series is created), so adding into it touches no input.
 * The finiteness check is the whole cost of refusing an overflow: one comparison on a number at hand.
 */
function addSumInPlace(held: HeldPoint, incoming: Value<'sum'>): boolean {
  const owned = held.value as { value: number };
  const total = owned.value + incoming.value;
  if (!Number.isFinite(total)) return false;
  owned.value = total;
  return true;
}

/** The value a new held point starts from: sums get their own object, since later merges add into it. */
export function ownedValue(kind: MetricInfo['kind'], value: PointValue): PointValue {
  return kind === 'sum' ? { value: (value as Value<'sum'>).value } : value;
}

/**
 * Merges `earlier` (an earlier arrival, e.g. a batch the next stage failed to take) into `held`, in place.
 * Only gauges and summaries care about arrival order: on equal timestamps the held, later arrival stays.
 * Returns `false`, changing nothing, when the two cannot be merged exactly: the caller keeps `earlier` apart.
 */
export function mergeEarlierArrival(
  kind: MetricInfo['kind'],
  held: HeldPoint,
  earlier: TimedPoint,
  maxBuckets: number,
): boolean {
  if (isLatestValueKind(kind)) {
    if (earlier.timeUnixNano > held.timeUnixNano) replaceWith(held, earlier);
  } else {
    if (!canMergeValues(kind, earlier.value, held.value, maxBuckets)) return false;
    held.value = addValues(kind, earlier.value, held.value, maxBuckets);
    widen(held, earlier);
  }
  if (earlier.exemplars !== undefined) held.exemplars = mergeExemplars(earlier.exemplars, held.exemplars);
  return true;
}

function replaceWith(held: HeldPoint, point: TimedPoint) {
  held.startTimeUnixNano = point.startTimeUnixNano;
  held.timeUnixNano = point.timeUnixNano;
  held.value = point.value;
}

function widen(held: HeldPoint, point: TimedPoint) {
  if (point.startTimeUnixNano < held.startTimeUnixNano) held.startTimeUnixNano = point.startTimeUnixNano;
  if (point.timeUnixNano > held.timeUnixNano) held.timeUnixNano = point.timeUnixNano;
}

/** The change between two cumulative values of one stream; `undefined` when the stream was reset. */
export function diffValues(
  metric: MetricInfo,
  previous: PointValue,
  current: PointValue,
): PointValue | undefined {
  switch (metric.kind) {
    case 'sum':
      return diffSums(previous as Value<'sum'>, current as Value<'sum'>, metric.monotonic);
    case 'histogram':
      return diffHistograms(previous as Value<'histogram'>, current as Value<'histogram'>);
    case 'exponentialHistogram':
      return diffExponentialHistograms(
        previous as Value<'exponentialHistogram'>,
        current as Value<'exponentialHistogram'>,
      );
    case 'gauge':
    case 'summary':
      return current;
  }
}
