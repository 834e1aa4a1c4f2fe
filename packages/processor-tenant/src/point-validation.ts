import {
  type ExponentialHistogramValue,
  type HistogramValue,
  MAX_EXPONENTIAL_SCALE,
  MIN_EXPONENTIAL_SCALE,
  nonFiniteField,
  type PointKind,
  type PointValue,
  pointProblem,
  type SummaryValue,
} from '@tallyhouse/model';

/** Why a point is not buffered: a value that would poison totals, or one storage would refuse later. */
export interface ValueProblem {
  readonly reason: 'non_finite_value' | 'invalid_value';
  /** What was sent, for the rejection message ("… sent <detail>"). */
  readonly detail: string;
}

const NON_FINITE: ValueProblem = { reason: 'non_finite_value', detail: 'a non-finite value' };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * What is wrong with a point's value, or `undefined` when it can be merged and stored. Checked on arrival,
 * so a point the storage would refuse (and dead-letter after the client got its 200) is rejected up front:
 * sums and histogram sums must be finite; counts must be integers 0..2^53 - 1 adding up to no more than
 * that; explicit histograms need one bucket more than bounds; exponential histograms need a scale in the
 * OTLP range and int32 offsets. The OTLP decoder checks most of this already; the SDK path and direct
 * callers do not pass through it. Which values must be finite is `nonFiniteField`'s rule (gauges need not).
 */
export function valueProblem(kind: PointKind, value: PointValue): ValueProblem | undefined {
  switch (kind) {
    case 'sum':
      return nonFiniteField(kind, value) === undefined ? undefined : NON_FINITE;
    case 'gauge':
      return undefined;
    case 'summary':
      return summaryProblem(value as SummaryValue);
    case 'histogram':
      return histogramProblem(value as HistogramValue);
    case 'exponentialHistogram':
      return exponentialHistogramProblem(value as ExponentialHistogramValue);
  }
}

function histogramProblem(value: HistogramValue): ValueProblem | undefined {
  if (nonFiniteField('histogram', value) !== undefined || !Number.isFinite(value.count)) return NON_FINITE;
  if (!isCount(value.count)) return invalid(`a histogram count of ${value.count}${COUNT_RULE}`);
  if (value.bucketCounts.length !== value.bounds.length + 1) {
    return invalid(
      `a histogram with ${value.bucketCounts.length} bucket counts for ${value.bounds.length} bounds (expected ${value.bounds.length + 1})`,
    );
  }
  return bucketsProblem('a histogram', [value.bucketCounts], 0);
}

function exponentialHistogramProblem(value: ExponentialHistogramValue): ValueProblem | undefined {
  if (nonFiniteField('exponentialHistogram', value) !== undefined || !Number.isFinite(value.count)) {
    return NON_FINITE;
  }
  if (!isCount(value.count)) return invalid(`an exponential histogram count of ${value.count}${COUNT_RULE}`);
  if (!isCount(value.zeroCount))
    return invalid(`an exponential histogram zero count of ${value.zeroCount}${COUNT_RULE}`);
  if (
    !Number.isInteger(value.scale) ||
    value.scale < MIN_EXPONENTIAL_SCALE ||
    value.scale > MAX_EXPONENTIAL_SCALE
  ) {
    return invalid(
      `an exponential histogram with scale ${value.scale} (OTLP allows ${MIN_EXPONENTIAL_SCALE}..${MAX_EXPONENTIAL_SCALE})`,
    );
  }
  for (const side of [value.positive, value.negative]) {
    if (!isInt32(side.offset))
      return invalid(`an exponential histogram bucket offset of ${side.offset} (not an int32)`);
  }
  return bucketsProblem(
    'an exponential histogram',
    [value.positive.bucketCounts, value.negative.bucketCounts],
    value.zeroCount,
  );
}

/**
 * A summary is kept as sent (NaN sums included, like a gauge): storage's own summary rule (`pointProblem`) decides
 * what it cannot hold. Times are checked elsewhere, so any storable time stands in for them.
 */
function summaryProblem(value: SummaryValue): ValueProblem | undefined {
  const problem = pointProblem('summary', 0n, 0n, value);
  return problem === undefined ? undefined : invalid(`a summary whose ${problem.field} ${problem.reason}`);
}

/** Every bucket a count, and all of them together (with `base`) still counted exactly. */
function bucketsProblem(
  what: string,
  lists: readonly (readonly number[])[],
  base: number,
): ValueProblem | undefined {
  let total = base;
  for (const counts of lists) {
    for (const count of counts) {
      if (!isCount(count)) return invalid(`${what} bucket count of ${count}${COUNT_RULE}`);
      total += count;
    }
  }
  if (total > Number.MAX_SAFE_INTEGER) {
    return invalid(`${what} whose bucket counts add up to more than 2^53 - 1 (no count can be exact)`);
  }
  return undefined;
}

const COUNT_RULE = ' (counts are integers 0..2^53 - 1)';

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
}

function invalid(detail: string): ValueProblem {
  return { reason: 'invalid_value', detail };
}
