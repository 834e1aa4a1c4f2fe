import type { MetricInfo, PointValue, PointValueByKind } from '../model.ts';
import { addExponentialHistograms, diffExponentialHistograms } from './exponential-histogram.ts';
import { incomingGaugeWins } from './gauge.ts';
import { addHistograms, diffHistograms } from './histogram.ts';
import { addSums, diffSums } from './sum.ts';

export * from './exponential-histogram.ts';
export * from './gauge.ts';
export * from './histogram.ts';
export * from './sum.ts';

/** A held point: what the buffer keeps per series. Mutable so the hot path merges in place. */
export interface HeldPoint {
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  value: PointValue;
}

export interface TimedPoint {
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  readonly value: PointValue;
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
      throw new RangeError('gauges are not added');
  }
}

/**
 * Merges `incoming` (the later arrival) into `held`, in place. Deltas add and the covered interval widens;
 * gauges keep the newer timestamp, the later arrival on a tie.
 */
export function mergeLaterArrival(
  kind: MetricInfo['kind'],
  held: HeldPoint,
  incoming: TimedPoint,
  maxBuckets: number,
) {
  if (kind === 'gauge') {
    if (incomingGaugeWins(held, incoming)) replaceWith(held, incoming);
    return;
  }
  held.value = addValues(kind, held.value, incoming.value, maxBuckets);
  widen(held, incoming);
}

/**
 * Merges `earlier` (an earlier arrival, e.g. a batch the next stage failed to take) into `held`, in place.
 * Only gauges care about arrival order: on equal timestamps the held, later arrival stays.
 */
export function mergeEarlierArrival(
  kind: MetricInfo['kind'],
  held: HeldPoint,
  earlier: TimedPoint,
  maxBuckets: number,
) {
  if (kind === 'gauge') {
    if (earlier.timeUnixNano > held.timeUnixNano) replaceWith(held, earlier);
    return;
  }
  held.value = addValues(kind, earlier.value, held.value, maxBuckets);
  widen(held, earlier);
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
      return current;
  }
}
