/**
 * The series table finds a series by its attribute values (a trie per attribute-name shape): exactly the
 * series the canonical key encoding identifies, while it reorders its levels and past its limit of shapes.
 */
import {
  type Attributes,
  type AttributeValue,
  decodeAttributes,
  encodeAttributes,
  encodeAttributesWith,
} from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeriesTable } from '../src/series-table.ts';
import { keyArb, scalarArb, seededRandom, shuffleKeys, valueArb } from './helpers/attribute-arbitraries.ts';

describe('SeriesTable', () => {
  const tableWith = (...sets: Attributes[]) => {
    const table = new SeriesTable<number>();
    sets.forEach((set, i) => {
      if (table.get(set, 'tenant.id') === undefined) table.insert(set, 'tenant.id', undefined, i);
    });
    return table;
  };

  it('keeps 1, "1", true and "true" apart at every level', () => {
    const table = tableWith({ a: 'x', b: 1 }, { a: 'x', b: '1' }, { a: 'x', b: true }, { a: 'x', b: 'true' });
    expect(table.size).toBe(4);
    expect(table.get({ b: '1', a: 'x' }, 'tenant.id')).toBe(1);
  });

  it('lets NaN meet NaN and -0 meet 0, below a single-key level too', () => {
    const table = tableWith({ a: 'x', b: Number.NaN }, { a: 'y', b: -0 });
    expect(table.get({ a: 'x', b: Number.NaN }, 'tenant.id')).toBe(0);
    expect(table.get({ a: 'y', b: 0 }, 'tenant.id')).toBe(1);
  });

  it('finds nested objects whatever their key order, and arrays only in their order', () => {
    const table = tableWith({ a: { p: 1, q: [1, 2] } });
    expect(table.get({ a: { q: [1, 2], p: 1 } }, 'tenant.id')).toBe(0);
    expect(table.get({ a: { p: 1, q: [2, 1] } }, 'tenant.id')).toBeUndefined();
    expect(table.get({ a: '{"p":1,"q":[1,2]}' }, 'tenant.id')).toBeUndefined();
  });

  it('treats an undefined value as an absent attribute and skips the tenant attribute', () => {
    const table = tableWith({ a: 'x' });
    expect(table.get({ a: 'x', b: undefined } as unknown as Attributes, 'tenant.id')).toBe(0);
    expect(table.get({ 'tenant.id': 'acme', a: 'x' }, 'tenant.id')).toBe(0);
  });

  it('gives back canonical sets, a "__proto__" attribute as an own property', () => {
    const set = JSON.parse('{"z":1,"__proto__":"p","a":2}') as Attributes;
    const table = tableWith(set, {});
    const visited: Attributes[] = [];
    table.forEach((attributes) => {
      visited.push(attributes);
    });
    expect(visited.map((attributes) => Object.keys(attributes))).toEqual([['__proto__', 'a', 'z'], []]);
    expect(Object.getPrototypeOf(visited[0])).toBe(Object.prototype);
  });

  it('holds a series of 10k attributes (one trie level each) and gives it back', () => {
    const set = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    const table = tableWith(set);
    expect(table.get({ ...set }, 'tenant.id')).toBe(0);
    let count = 0;
    table.forEach((attributes) => {
      expect(Object.keys(attributes)).toHaveLength(10_000);
      count++;
    });
    expect(count).toBe(1);
  });
});

describe('property: the series table finds exactly the series the key encoding identifies', () => {
  const SKIP = 'tenant';
  // Variants of a few base sets (one value overridden, keys reordered, a skipped or undefined key added):
  // they share paths deep into the table and often meet, so both hits and misses get exercised.
  const variantArb = fc.record({
    base: fc.nat(),
    override: fc.option(fc.record({ key: keyArb, value: scalarArb })),
    seed: fc.integer(),
    skipped: fc.option(scalarArb),
    undefinedKey: fc.option(fc.constantFrom('a', 'z', '__proto__')),
    extra: fc.constantFrom('[1,2]', '[1,3]', '[]'),
  });
  const baseArb = fc.array(fc.dictionary(keyArb, valueArb, { minKeys: 2, maxKeys: 4 }), {
    minLength: 1,
    maxLength: 4,
  });

  it('get() hits exactly when encodeAttributes gives a key seen before; forEach() gives the sets back', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        baseArb,
        fc.array(variantArb, { maxLength: 30 }),
        (withExtra, bases, variants) => {
          const table = new SeriesTable<string>(withExtra);
          const reference = new Set<string>();
          for (const variant of variants) {
            const base = bases[variant.base % bases.length]!;
            const attributes: Record<string, unknown> = {
              ...(shuffleKeys(base, seededRandom(variant.seed)) as Attributes),
            };
            if (variant.override !== null) attributes[variant.override.key] = variant.override.value;
            if (variant.skipped !== null) attributes[SKIP] = variant.skipped;
            if (variant.undefinedKey !== null && !(variant.undefinedKey in attributes))
              Object.defineProperty(attributes, variant.undefinedKey, { value: undefined, enumerable: true });
            const set = attributes as Attributes;
            const extra = withExtra ? variant.extra : undefined;
            const key = encodeAttributesWith(set, SKIP, extra ?? null);
            const found = table.get(set, SKIP, extra);
            expect(found).toBe(reference.has(key) ? key : undefined);
            if (found === undefined) {
              table.insert(set, SKIP, extra, key);
              reference.add(key);
            }
          }
          expect(table.size).toBe(reference.size);
          const visited: string[] = [];
          table.forEach((attributes, key) => {
            expect(encodeAttributes(attributes)).toBe(decodeAttributesKey(key));
            visited.push(key);
          });
          expect(visited.sort()).toEqual([...reference].sort());
        },
      ),
      { numRuns: 1500 },
    );
  });
});

/** The attribute part of an `encodeAttributesWith` key, re-encoded without the extra part. */
function decodeAttributesKey(key: string): string {
  return encodeAttributes(decodeAttributes(key));
}

describe('property: the series table keeps every series while it reorders its levels', () => {
  // Enough series per shape to pass the reordering thresholds (64, 128, 256…), with names of very
  // different cardinalities in random name order, inserted in random order.
  const columnArb = fc.record({
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    distinct: fc.integer({ min: 1, max: 400 }),
  });

  it('finds each inserted series, misses the others, and gives each back once', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(columnArb, { minLength: 2, maxLength: 4, selector: (column) => column.name }),
        fc.integer({ min: 64, max: 700 }),
        fc.integer(),
        (columns, count, seed) => {
          const random = seededRandom(seed);
          const setOf = (i: number) =>
            Object.fromEntries(
              columns.map(({ name, distinct }) => [name, (i * 7919 + name.charCodeAt(0)) % distinct]),
            );
          const table = new SeriesTable<string>();
          const reference = new Set<string>();
          for (let n = 0; n < count; n++) {
            const set = setOf(Math.floor(random() * count * 2));
            const key = encodeAttributes(set);
            expect(table.get(set, undefined)).toBe(reference.has(key) ? key : undefined);
            if (!reference.has(key)) {
              table.insert(set, undefined, undefined, key);
              reference.add(key);
            }
          }
          for (const key of reference) expect(table.get(decodeAttributes(key), undefined)).toBe(key);
          const visited: string[] = [];
          table.forEach((attributes, key) => {
            expect(encodeAttributes(attributes)).toBe(key);
            expect(Object.keys(attributes)).toEqual(Object.keys(attributes).sort());
            visited.push(key);
          });
          expect(visited.sort()).toEqual([...reference].sort());
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('property: the series table past its limit of shapes', () => {
  // Random subsets of twelve names give hundreds of shapes: the first 64 get tries, the rest go by text.
  const NAMES = 'abcdefghijkl'.split('');
  const setArb = fc.record({
    mask: fc.integer({ min: 0, max: 4095 }),
    values: fc.array(fc.constantFrom<AttributeValue | undefined>(1, '1', true, null, undefined, [1]), {
      minLength: 12,
      maxLength: 12,
    }),
    extra: fc.constantFrom('[1]', '[2]'),
  });

  it('finds exactly the series seen before, tracked or not, and gives each back once', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(setArb, { minLength: 100, maxLength: 400 }), (withExtra, drawn) => {
        const table = new SeriesTable<string>(withExtra);
        const reference = new Set<string>();
        for (const { mask, values, extra: drawnExtra } of drawn) {
          const set = Object.fromEntries(
            NAMES.flatMap((name, i) => ((mask >> i) & 1 ? [[name, values[i]]] : [])),
          ) as Attributes;
          const extra = withExtra ? drawnExtra : undefined;
          const key = encodeAttributesWith(set, undefined, extra ?? null);
          expect(table.get(set, undefined, extra)).toBe(reference.has(key) ? key : undefined);
          if (!reference.has(key)) {
            table.insert(set, undefined, extra, key);
            reference.add(key);
          }
        }
        const visited: string[] = [];
        table.forEach((attributes, key) => {
          expect(encodeAttributes(attributes)).toBe(decodeAttributesKey(key));
          visited.push(key);
        });
        expect(visited.sort()).toEqual([...reference].sort());
      }),
      { numRuns: 60 },
    );
  });
});
