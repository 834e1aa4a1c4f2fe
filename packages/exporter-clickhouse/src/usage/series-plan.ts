/**
 * The shape of a time series answer before anything runs: its buckets (the range widened to whole steps) and
 * the most lines that fit its limits — lines × buckets (zero-filled) at most `maxPoints`, lines at most
 * `maxRows`. A refusal names the limit that binds and how to narrow the query.
 */
import { checkTimeZone, localDayBoundaries, localDayNumber } from '@tallyhouse/model';
import { NANOS_PER_SECOND, STEP_SECONDS, type Step } from '../schema/buckets.ts';
import type { TimeSeriesQuery } from './query-types.ts';
import { ceilTo, floorTo } from './range-plan.ts';
import { ReadLimitError, type ReadLimits, showLimit } from './read-limits.ts';

/** The range of a time series: both bounds, whole steps. */
export interface SeriesRange {
  readonly fromUnixNano: bigint;
  readonly toUnixNano: bigint;
}

/** Where a time series reads its buckets: `range` (whole buckets), and local days of a zone when given. */
export interface SeriesBuckets {
  readonly range: SeriesRange;
  readonly zoneDays?: ZoneDays;
}

/** What a time series answer will look like, for its limits and messages. */
export interface SeriesShape {
  readonly step: Step;
  readonly buckets: number;
  readonly rangeNs: bigint;
  /** The most lines that fit both `maxPoints` (at these buckets) and `maxRows`. */
  readonly maxLines: number;
  /** What a line is: `source series` (gauges, combined or not), or `values of "route"`. */
  readonly what: string;
}

export interface SeriesPlan {
  readonly range: SeriesRange;
  /** Each bucket's start, in order. */
  readonly starts: readonly bigint[];
  readonly shape: SeriesShape;
  /** `1d` buckets that are local days of a zone (23 to 25 hours); undefined for UTC steps. */
  readonly zoneDays?: ZoneDays;
}

/** The local days of a `1d` series in a time zone whose midnights are not UTC midnights. */
export interface ZoneDays {
  readonly zone: string;
  /** The first bucket's local day number (days since 1970-01-01 of the local date). */
  readonly firstDay: number;
  /** Every midnight on a whole UTC hour: the hourly rollup holds whole local days. */
  readonly wholeHours: boolean;
}

/** Most buckets a time series may have. */
const MAX_BUCKETS = 100_000;

/** Refuses a series of more than `MAX_BUCKETS` buckets, or one whose buckets alone exceed `maxPoints`. */
export function planSeries(query: TimeSeriesQuery, limits: ReadLimits): SeriesPlan {
  const stepSeconds = STEP_SECONDS[query.step];
  if (stepSeconds === undefined) throw new RangeError(`unknown step ${JSON.stringify(query.step)}`);
  const stepNs = stepSeconds * NANOS_PER_SECOND;
  if (query.step === '1d' && query.timeZone !== undefined) {
    const zoned = planZoneDays(query, checkTimeZone(query.timeZone), limits);
    if (zoned !== undefined) return zoned;
  }
  const from = floorTo(query.range.fromUnixNano, stepNs);
  const to = ceilTo(query.range.toUnixNano, stepNs);
  const buckets = to > from ? Number((to - from) / stepNs) : 0;
  if (buckets > MAX_BUCKETS) {
    throw new RangeError(`${buckets} buckets of ${query.step} exceed the maximum of ${MAX_BUCKETS}`);
  }
  const shape: SeriesShape = {
    step: query.step,
    buckets,
    rangeNs: to - from,
    maxLines: Math.min(limits.maxRows, Math.floor(limits.maxPoints / Math.max(1, buckets))),
    what: query.kind === 'gauge' ? 'source series' : `values of ${JSON.stringify(query.groupBy)}`,
  };
  checkBuckets(shape, limits);
  const starts: bigint[] = [];
  for (let index = 0; index < buckets; index++) starts.push(from + BigInt(index) * stepNs);
  return { range: { fromUnixNano: from, toUnixNano: to }, starts, shape };
}

const NANOS_PER_MS = 1_000_000n;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * `1d` buckets as the zone's local days: the range widened outwards to local midnights. Undefined when every
 * midnight in the range is a UTC midnight (`UTC`, `Africa/Abidjan`): those are plain UTC days.
 */
function planZoneDays(query: TimeSeriesQuery, zone: string, limits: ReadLimits): SeriesPlan | undefined {
  const fromMs = Number(query.range.fromUnixNano / NANOS_PER_MS);
  const toMs = Number((query.range.toUnixNano + NANOS_PER_MS - 1n) / NANOS_PER_MS);
  if (toMs <= fromMs) return undefined;
  const bounds = localDayBoundaries(fromMs, toMs, zone, MAX_BUCKETS);
  if (bounds.every((bound) => bound % DAY_MS === 0)) return undefined;
  const first = bounds[0]!;
  const last = bounds[bounds.length - 1]!;
  const buckets = bounds.length - 1;
  const shape: SeriesShape = {
    step: '1d',
    buckets,
    rangeNs: BigInt(last - first) * NANOS_PER_MS,
    maxLines: Math.min(limits.maxRows, Math.floor(limits.maxPoints / Math.max(1, buckets))),
    what: query.kind === 'gauge' ? 'source series' : `values of ${JSON.stringify(query.groupBy)}`,
  };
  checkBuckets(shape, limits);
  return {
    range: { fromUnixNano: BigInt(first) * NANOS_PER_MS, toUnixNano: BigInt(last) * NANOS_PER_MS },
    starts: bounds.slice(0, -1).map((bound) => BigInt(bound) * NANOS_PER_MS),
    shape,
    zoneDays: {
      zone,
      firstDay: localDayNumber(first, zone),
      wholeHours: bounds.every((bound) => bound % HOUR_MS === 0),
    },
  };
}

/** Refuses a series whose buckets alone exceed `maxPoints`. */
function checkBuckets(shape: SeriesShape, limits: ReadLimits): void {
  if (shape.maxLines >= 1) return;
  throw new ReadLimitError(
    'maxPoints',
    limits.maxPoints,
    `${shape.buckets} buckets of ${shape.step} are more than ${showLimit(limits, 'maxPoints')} points; ` +
      `use a larger step${largerSteps(shape)} or a shorter range`,
  );
}

/** Refuses `lines` lines of `shape` when they do not fit, naming the limit that binds and how to narrow. */
export function checkLines(lines: number, shape: SeriesShape, limits: ReadLimits): void {
  if (lines <= shape.maxLines) return;
  const byPoints = Math.floor(limits.maxPoints / Math.max(1, shape.buckets)) <= limits.maxRows;
  const counted = lines > shape.maxLines + 1 ? String(lines) : `more than ${shape.maxLines}`;
  const narrow =
    shape.what === 'source series'
      ? 'filter on attributes or service to fewer series'
      : 'filter on attributes or service, or group by an attribute with fewer values';
  if (byPoints) {
    throw new ReadLimitError(
      'maxPoints',
      limits.maxPoints,
      `${counted} lines (${shape.what}) × ${shape.buckets} buckets of ${shape.step} are more than ` +
        `${showLimit(limits, 'maxPoints')} points (at ${shape.buckets} buckets at most ${shape.maxLines} lines fit); ` +
        `narrow the query: a larger step${largerSteps(shape)}, a shorter range, or ${narrow}`,
    );
  }
  throw new ReadLimitError(
    'maxRows',
    limits.maxRows,
    `${counted} lines (${shape.what}) are more than ${showLimit(limits, 'maxRows')} rows; narrow the query: ${narrow}`,
  );
}

/** ` (1h: 168 buckets, 1d: 7 buckets)` — the larger steps and what they would give, for a refusal's hint. */
function largerSteps(shape: SeriesShape): string {
  const steps = (Object.keys(STEP_SECONDS) as Step[]).filter(
    (step) => STEP_SECONDS[step] > STEP_SECONDS[shape.step],
  );
  if (steps.length === 0) return '';
  const counts = steps.map((step) => {
    const stepNs = STEP_SECONDS[step] * NANOS_PER_SECOND;
    // The range widened to whole steps can add one bucket at each end.
    return `${step}: about ${(shape.rangeNs + stepNs - 1n) / stepNs} buckets`;
  });
  return ` (${counts.join(', ')})`;
}
