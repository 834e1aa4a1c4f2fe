import { describe, expect, it } from 'vitest';
import { addSums, diffSums } from '../src/merge/sum.ts';

describe('addSums', () => {
  it('adds two delta values', () => {
    expect(addSums({ value: 3 }, { value: 4 })).toEqual({ value: 7 });
  });

  it('adds negative deltas of non-monotonic sums', () => {
    expect(addSums({ value: 3 }, { value: -5 })).toEqual({ value: -2 });
  });

  it('returns a new value and leaves both inputs untouched', () => {
    const held = { value: 1 };
    const incoming = { value: 2 };
    const result = addSums(held, incoming);
    expect(result).not.toBe(held);
    expect(held).toEqual({ value: 1 });
    expect(incoming).toEqual({ value: 2 });
  });
});

describe('diffSums', () => {
  it('gives the change between two cumulative values', () => {
    expect(diffSums({ value: 5 }, { value: 12 }, true)).toEqual({ value: 7 });
  });

  it('gives zero for an unchanged monotonic value (not a reset)', () => {
    expect(diffSums({ value: 5 }, { value: 5 }, true)).toEqual({ value: 0 });
  });

  it('reports a reset when a monotonic value goes down', () => {
    expect(diffSums({ value: 5 }, { value: 4 }, true)).toBeUndefined();
  });

  it('gives a negative change when a non-monotonic value goes down', () => {
    expect(diffSums({ value: 5 }, { value: 2 }, false)).toEqual({ value: -3 });
  });
});
