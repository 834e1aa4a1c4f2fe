/**
 * State a process writes and later acts on (checkpoints, flush-log records, stream marks) must read back exactly:
 * -0, NaN, ±Infinity and bigints included, and no data may imitate the tags that carry them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromLosslessJson, toLosslessJson } from '../src/index.ts';

/** Deep equality with `Object.is` for numbers (so -0 differs from 0 and NaN equals NaN). */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every(
    (key) =>
      Object.hasOwn(b, key) && same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

const key = fc.oneof(fc.string(), fc.constantFrom('$n', '$b', '$o', '__proto__', 'nonFinite'));
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double(),
    fc.bigInt(),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(fc.tuple(key, tie('value')), { maxLength: 4 })
      .map((entries) => Object.fromEntries(entries) as unknown),
  ),
}));

describe('lossless JSON', () => {
  it('gives back every value exactly, whatever its numbers and keys', () => {
    fc.assert(
      fc.property(value, (original) => {
        const back = fromLosslessJson(toLosslessJson(original));
        expect(same(back, original), `${toLosslessJson(original)}`).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the numbers plain JSON loses', () => {
    const original = {
      min: -0,
      max: Number.POSITIVE_INFINITY,
      sum: Number.NEGATIVE_INFINITY,
      mean: Number.NaN,
    };
    const back = fromLosslessJson<typeof original>(toLosslessJson(original));
    expect(Object.is(back.min, -0)).toBe(true);
    expect(back.max).toBe(Number.POSITIVE_INFINITY);
    expect(back.sum).toBe(Number.NEGATIVE_INFINITY);
    expect(back.mean).toBeNaN();
    expect(JSON.parse(JSON.stringify(original))).toEqual({ min: 0, max: null, sum: null, mean: null });
  });

  it('does not let data imitate a tag', () => {
    for (const data of [{ $n: 'NaN' }, { $b: '12' }, { $o: { $n: '-0' } }, { $n: 5 }]) {
      expect(fromLosslessJson(toLosslessJson(data))).toEqual(data);
    }
  });

  it('leaves out undefined properties, as JSON does', () => {
    expect(fromLosslessJson(toLosslessJson({ min: undefined, count: 2 }))).toEqual({ count: 2 });
  });

  it('reads plain JSON as itself', () => {
    expect(fromLosslessJson('{"count":3,"buckets":[1,2],"name":"x"}')).toEqual({
      count: 3,
      buckets: [1, 2],
      name: 'x',
    });
  });
});
