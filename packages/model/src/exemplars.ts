import { type Exemplar, MAX_EXEMPLARS_PER_POINT } from './series.ts';

/**
 * The `limit` most recent of `exemplars` by time, oldest first; on equal times the one later in the list is the
 * more recent (the later arrival). Returns the same array when it is already within the limit and in order.
 */
export function mostRecentExemplars(
  exemplars: readonly Exemplar[],
  limit = MAX_EXEMPLARS_PER_POINT,
): readonly Exemplar[] {
  if (exemplars.length <= limit && inTimeOrder(exemplars)) return exemplars;
  // A stable sort keeps list order among equal times, so "later in the list" stays "more recent".
  const sorted = [...exemplars].sort((a, b) =>
    a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0,
  );
  return sorted.slice(Math.max(0, sorted.length - limit));
}

/**
 * The exemplars of two merged points: the most recent `limit` of both, `later`'s counted as the later arrival on
 * equal times. `undefined` when neither has any.
 */
export function mergeExemplars(
  earlier: readonly Exemplar[] | undefined,
  later: readonly Exemplar[] | undefined,
  limit = MAX_EXEMPLARS_PER_POINT,
): readonly Exemplar[] | undefined {
  if (earlier === undefined || earlier.length === 0) return later;
  if (later === undefined || later.length === 0) return earlier;
  return mostRecentExemplars([...earlier, ...later], limit);
}

function inTimeOrder(exemplars: readonly Exemplar[]): boolean {
  for (let i = 1; i < exemplars.length; i++)
    if (exemplars[i]!.timeUnixNano < exemplars[i - 1]!.timeUnixNano) return false;
  return true;
}
