/**
 * fast-check arbitraries for attribute sets with small domains, so that independently drawn sets are sometimes
 * equal (both directions of an "equal exactly when" property get tested), and a reproducible key shuffle.
 */
import type { AttributeValue } from '@tallyhouse/model';
import fc from 'fast-check';

/** Small domains, so that independently drawn inputs are sometimes equal and both directions get tested. */
export const keyArb = fc.constantFrom('a', 'b', 'c', 'a:b', 'a,b', '"', '{', 'tenant', '');
export const scalarArb: fc.Arbitrary<AttributeValue> = fc.constantFrom<AttributeValue>(
  '',
  '1',
  1,
  'true',
  true,
  false,
  null,
  'null',
  Number.NaN,
  'NaN',
  Number.POSITIVE_INFINITY,
  'Infinity',
  0,
  -0,
  1.5,
  'a:b',
  '"a"',
  '{}',
  '[]',
);
export const { value: valueArb } = fc.letrec<{ value: AttributeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarArb,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(keyArb, tie('value'), { maxKeys: 3 }),
  ),
}));
/** A copy with the keys of every object, at every depth, inserted in a different order. */
export function shuffleKeys(value: AttributeValue, random: () => number): AttributeValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => shuffleKeys(item, random));
  const entries = Object.entries(value);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, shuffleKeys(item, random)]));
}

/** A seeded linear congruential generator of numbers in [0, 1). */
export function seededRandom(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
