/**
 * Splits a range `(from, to]` on `TimeUnix` into the parts each storage answers: whole days from the daily rollup,
 * whole hours from the hourly rollup, the open edges from raw rows. Bucket `b` of a rollup holds the rows with
 * `b < TimeUnix <= b + step`, so the union of the parts is exactly the range — every row is read once.
 */
import { NANOS_PER_SECOND, STEP_SECONDS } from '../schema/buckets.ts';

const HOUR_NS = STEP_SECONDS['1h'] * NANOS_PER_SECOND;
const DAY_NS = STEP_SECONDS['1d'] * NANOS_PER_SECOND;

/** Raw rows with `from < TimeUnix <= to` (an undefined bound is open). */
export interface RawPart {
  readonly kind: 'raw';
  readonly fromUnixNano: bigint | undefined;
  readonly toUnixNano: bigint | undefined;
}

/** Rollup buckets with `from <= BucketStart < to` (Unix ns, multiples of the grain; undefined = open). */
export interface RollupPart {
  readonly kind: 'rollup';
  readonly grain: '1h' | '1d';
  readonly fromUnixNano: bigint | undefined;
  readonly toUnixNano: bigint | undefined;
}

export type RangePart = RawPart | RollupPart;

export function floorTo(value: bigint, step: bigint): bigint {
  const remainder = value % step;
  return remainder < 0n ? value - remainder - step : value - remainder;
}

export function ceilTo(value: bigint, step: bigint): bigint {
  const floor = floorTo(value, step);
  return floor === value ? value : floor + step;
}

/**
 * The parts of `(from, to]`. With `useRollups` false (or a range shorter than an hour) it is one raw part.
 * An open bound reads rollups all the way (every row sits in exactly one bucket).
 */
export function planRange(
  fromUnixNano: bigint | undefined,
  toUnixNano: bigint | undefined,
  useRollups = true,
): RangePart[] {
  if (fromUnixNano !== undefined && toUnixNano !== undefined && toUnixNano <= fromUnixNano) return [];
  const raw = (from: bigint | undefined, to: bigint | undefined): RawPart => ({
    kind: 'raw',
    fromUnixNano: from,
    toUnixNano: to,
  });
  if (!useRollups) return [raw(fromUnixNano, toUnixNano)];
  const h1 = fromUnixNano === undefined ? undefined : ceilTo(fromUnixNano, HOUR_NS);
  const h2 = toUnixNano === undefined ? undefined : floorTo(toUnixNano, HOUR_NS);
  if (h1 !== undefined && h2 !== undefined && h1 >= h2) return [raw(fromUnixNano, toUnixNano)];
  const parts: RangePart[] = [];
  if (fromUnixNano !== undefined && h1 !== undefined && h1 > fromUnixNano) {
    parts.push(raw(fromUnixNano, h1));
  }
  const d1 = h1 === undefined ? undefined : ceilTo(h1, DAY_NS);
  const d2 = h2 === undefined ? undefined : floorTo(h2, DAY_NS);
  const hourly = (from: bigint | undefined, to: bigint | undefined): RollupPart => ({
    kind: 'rollup',
    grain: '1h',
    fromUnixNano: from,
    toUnixNano: to,
  });
  if (d1 === undefined || d2 === undefined || d1 < d2) {
    if (h1 !== undefined && d1 !== undefined && h1 < d1) parts.push(hourly(h1, d1));
    parts.push({ kind: 'rollup', grain: '1d', fromUnixNano: d1, toUnixNano: d2 });
    if (h2 !== undefined && d2 !== undefined && d2 < h2) parts.push(hourly(d2, h2));
  } else {
    parts.push(hourly(h1, h2));
  }
  if (toUnixNano !== undefined && h2 !== undefined && toUnixNano > h2) parts.push(raw(h2, toUnixNano));
  return parts;
}
