/**
 * The bucket convention shared by the rollups and the usage reader: a row belongs to the bucket `b` of a step
 * with `b < TimeUnix <= b + step` (UTC, integer arithmetic on nanoseconds). Rows are deltas over
 * `(StartTimeUnix, TimeUnix]`, so a row stamped exactly on the hour closes the hour before — the same half-open
 * `(from, to]` the reader's ranges use, which lets a range read whole buckets from the rollups and only its open
 * edges from raw rows.
 */

export const NANOS_PER_SECOND = 1_000_000_000n;
export const STEP_SECONDS = { '1m': 60n, '1h': 3_600n, '1d': 86_400n } as const;
export type Step = keyof typeof STEP_SECONDS;

/**
 * The bucket start (`DateTime('UTC')`) of a raw row at `step`: `b` with `b < TimeUnix <= b + step`.
 * Shared by the views, the backfill and the reader's raw-row queries so the three can never disagree.
 */
export function bucketExpression(step: Step): string {
  const seconds = STEP_SECONDS[step];
  const nanos = seconds * NANOS_PER_SECOND;
  return `toDateTime(intDiv(toUnixTimestamp64Nano(TimeUnix) - 1, ${nanos}) * ${seconds}, 'UTC')`;
}
