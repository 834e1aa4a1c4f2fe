import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeExemplars, mostRecentExemplars } from '../src/exemplars.ts';
import { type Exemplar, MAX_EXEMPLARS_PER_POINT } from '../src/series.ts';

const exemplar = (time: bigint, value: number): Exemplar => ({
  filteredAttributes: {},
  timeUnixNano: time,
  value,
  spanId: '',
  traceId: '',
});

describe('exemplars kept per point', () => {
  it('keeps the most recent by time, oldest first, and the later of equal times', () => {
    const list = [exemplar(5n, 1), exemplar(1n, 2), exemplar(5n, 3), exemplar(3n, 4)];
    expect(mostRecentExemplars(list, 2).map((e) => e.value)).toEqual([1, 3]);
    expect(mostRecentExemplars(list, 3).map((e) => e.value)).toEqual([4, 1, 3]);
  });

  it('returns a list within the limit and in order as it is', () => {
    const list = [exemplar(1n, 1), exemplar(2n, 2)];
    expect(mostRecentExemplars(list)).toBe(list);
  });

  it('merges two points: the later arrival wins ties, either side may be missing', () => {
    expect(mergeExemplars(undefined, undefined)).toBeUndefined();
    const later = [exemplar(4n, 9)];
    expect(mergeExemplars([], later)).toBe(later);
    expect(mergeExemplars(later, undefined)).toBe(later);
    expect(mergeExemplars([exemplar(4n, 1)], [exemplar(4n, 2)], 1)?.map((e) => e.value)).toEqual([2]);
  });

  it('never keeps more than the limit, and keeps exactly the newest times (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 50n }), { maxLength: 60 }), (times) => {
        const kept = mostRecentExemplars(times.map((time, i) => exemplar(time, i)));
        expect(kept.length).toBe(Math.min(times.length, MAX_EXEMPLARS_PER_POINT));
        const newest = [...times]
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
          .slice(-kept.length || times.length);
        expect(kept.map((e) => e.timeUnixNano)).toEqual(kept.length === 0 ? [] : newest);
      }),
    );
  });
});
