import type { SumValue } from '@tallyhouse/model';

/** Delta sums add. (Cumulative inputs are turned into deltas before they reach a merge.) */
export function addSums(held: SumValue, incoming: SumValue): SumValue {
  return { value: held.value + incoming.value };
}

/** Whether two finite sums add to a finite one; when not (1e308 twice), the points stay apart. */
export function canAddSums(held: SumValue, incoming: SumValue): boolean {
  return Number.isFinite(held.value + incoming.value);
}

/**
 * The change from `previous` to `current` of a cumulative sum; `undefined` means the stream was reset, or the
 * change is too large for a double (-1e308 to 1e308): the point then counts in full, as after a reset.
 */
export function diffSums(previous: SumValue, current: SumValue, monotonic: boolean): SumValue | undefined {
  if (monotonic && current.value < previous.value) return undefined;
  const change = current.value - previous.value;
  return Number.isFinite(change) ? { value: change } : undefined;
}
