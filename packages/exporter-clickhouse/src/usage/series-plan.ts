/**
 * The shape of a time series answer before anything runs: its buckets (the range widened to whole steps) and
 * the most lines that fit its limits — lines × buckets (zero-filled) at most `maxPoints`, lines at most
 * `maxRows`. A refusal names the limit that binds and how to narrow the query.
 */
import { NANOS_PER_SECOND, STEP_SECONDS, type Step } from '../schema/buckets.ts';
import type { TimeSeriesQuery } from './query-types.ts';
import { ceilTo, floorTo } from './range-plan.ts';
import { ReadLimitError, type ReadLimits, showLimit } from './read-limits.ts';
import type { SeriesRange } from './statements.ts';

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
}

/** Most buckets a time series may have. */
const MAX_BUCKETS = 100_000;

/** Refuses a series of more than `MAX_BUCKETS` buckets, or one whose buckets alone exceed `maxPoints`. */
export function planSeries(query: TimeSeriesQuery, limits: ReadLimits): SeriesPlan {
  const stepNs = STEP_SECONDS[query.step] * NANOS_PER_SECOND;
  if (stepNs === undefined) throw new RangeError(`unknown step ${JSON.stringify(query.step)}`);
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
  if (shape.maxLines < 1) {
    throw new ReadLimitError(
      'maxPoints',
      limits.maxPoints,
      `${buckets} buckets of ${query.step} are more than ${showLimit(limits, 'maxPoints')} points; ` +
        `use a larger step${largerSteps(shape)} or a shorter range`,
    );
  }
  const starts: bigint[] = [];
  for (let index = 0; index < buckets; index++) starts.push(from + BigInt(index) * stepNs);
  return { range: { fromUnixNano: from, toUnixNano: to }, starts, shape };
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
