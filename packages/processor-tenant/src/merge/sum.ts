import type { SumValue } from '../model.ts';

/** Delta sums add. (Cumulative inputs are turned into deltas before they reach a merge.) */
export function addSums(held: SumValue, incoming: SumValue): SumValue {
  return { value: held.value + incoming.value };
}

/** The change from `previous` to `current` of a cumulative sum; `undefined` means the stream was reset. */
export function diffSums(previous: SumValue, current: SumValue, monotonic: boolean): SumValue | undefined {
  if (monotonic && current.value < previous.value) return undefined;
  return { value: current.value - previous.value };
}
