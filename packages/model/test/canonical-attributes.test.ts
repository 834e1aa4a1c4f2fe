/**
 * The canonical attribute encoding every stage shares: a series' identity text keeps apart what differs in
 * type or structure ("1" vs 1, null vs NaN vs "NaN", a string vs an array), sorts object keys at every level
 * and keeps array order, and drops the tenant attribute only at the top level.
 */
import { describe, expect, it } from 'vitest';
import {
  type Attributes,
  canonicalAttributes,
  canonicalJson,
  encodeAttributes,
  encodeValue,
} from '../src/index.ts';

const distinct = (values: readonly string[]) => new Set(values).size === values.length;

describe('encodeValue', () => {
  it('keeps strings, numbers and booleans apart: "1" vs 1, true vs "true"', () => {
    const keys = ['1', 1, true, 'true', false, 'false', 0, '0', '', null].map(encodeValue);
    expect(distinct(keys)).toBe(true);
  });

  it('keeps null, NaN and "NaN" apart, and the infinities apart from their strings', () => {
    const keys = [
      null,
      Number.NaN,
      'NaN',
      'null',
      Number.POSITIVE_INFINITY,
      'Infinity',
      Number.NEGATIVE_INFINITY,
      '-Infinity',
    ].map(encodeValue);
    expect(distinct(keys)).toBe(true);
  });

  it('keeps array order: it is part of the value', () => {
    expect(encodeValue(['a', 'b'])).not.toBe(encodeValue(['b', 'a']));
    expect(encodeValue([1, [2, 3]])).not.toBe(encodeValue([[1, 2], 3]));
    expect(encodeValue([1, [2, 3]])).toBe(encodeValue([1, [2, 3]]));
  });

  it('does not let a string imitate an array or an object', () => {
    expect(encodeValue('[1,2]')).not.toBe(encodeValue([1, 2]));
    expect(encodeValue('{"a":1}')).not.toBe(encodeValue({ a: 1 }));
    expect(encodeValue(['a,b'])).not.toBe(encodeValue(['a', 'b']));
  });
});

describe('encodeAttributes', () => {
  it('sorts keys at every nesting level', () => {
    const a = encodeAttributes({ z: 1, a: { y: [{ q: 1, p: 2 }], b: 2 } });
    const b = encodeAttributes({ a: { b: 2, y: [{ p: 2, q: 1 }] }, z: 1 });
    expect(a).toBe(b);
    expect(a).not.toBe(encodeAttributes({ z: 1, a: { y: [{ q: 1, p: 3 }], b: 2 } }));
  });

  it('leaves out the tenant attribute only at the top level', () => {
    expect(encodeAttributes({ 'tenant.id': 'acme', route: '/a' }, 'tenant.id')).toBe(
      encodeAttributes({ route: '/a' }),
    );
    expect(encodeAttributes({ nested: { 'tenant.id': 'acme' } }, 'tenant.id')).not.toBe(
      encodeAttributes({ nested: {} }),
    );
  });

  it('does not let keys or values containing quotes, colons or commas imitate other sets', () => {
    const sets: Attributes[] = [
      { a: 'b","c":"d' },
      { a: 'b', c: 'd' },
      { 'a":"b': 'c' },
      { a: '"b"' },
      { 'a,b': 'c' },
      { a: { b: 'c' } },
      { 'a.b': 'c' },
      { a: ['b', 'c'] },
      { a: 'b,c' },
      { a: '["A",["b"]]' },
      { a: ['b'] },
      { a: {} },
      { a: [] },
      {},
    ];
    expect(distinct(sets.map((set) => encodeAttributes(set)))).toBe(true);
  });
});

describe('canonicalAttributes', () => {
  it('orders keys at every level and drops the tenant attribute', () => {
    const result = canonicalAttributes({ z: { y: 1, x: 2 }, 'tenant.id': 'acme', a: 1 }, 'tenant.id');
    expect(result).toStrictEqual({ a: 1, z: { x: 2, y: 1 } });
    expect(Object.keys(result)).toEqual(['a', 'z']);
    expect(Object.keys(result.z as object)).toEqual(['x', 'y']);
  });

  it('keeps arrays in order while sorting the objects inside them', () => {
    const result = canonicalAttributes({ list: [{ b: 1, a: 2 }, 'x'] });
    expect(result).toStrictEqual({ list: [{ a: 2, b: 1 }, 'x'] });
    expect(Object.keys((result.list as Attributes[])[0] as object)).toEqual(['a', 'b']);
  });

  // An OTLP/JSON payload can carry any key; JSON.parse makes "__proto__" an ordinary own property.
  it('keeps an attribute named "__proto__" like any other', () => {
    const attributes = JSON.parse('{"__proto__":"x","a":1}') as Attributes;
    const result = canonicalAttributes(attributes);
    expect(Object.keys(result)).toEqual(['__proto__', 'a']);
    expect(encodeAttributes(result)).toBe(encodeAttributes(attributes));
  });
});

describe('canonicalJson', () => {
  it('writes scalars as JSON', () => {
    expect([42, true, 'x', null, -1.5].map(canonicalJson)).toEqual(['42', 'true', '"x"', 'null', '-1.5']);
  });

  it('sorts object keys recursively and keeps array order', () => {
    expect(canonicalJson({ b: [3, { d: 1, c: 2 }], a: 'x' })).toBe('{"a":"x","b":[3,{"c":2,"d":1}]}');
  });

  it('writes non-finite numbers as strings, because JSON has no NaN', () => {
    expect([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(canonicalJson)).toEqual([
      '"NaN"',
      '"Infinity"',
      '"-Infinity"',
    ]);
  });

  it('drops undefined object members and parses back to the canonical value', () => {
    const text = canonicalJson({ b: undefined, a: [1, 'two', { z: null, y: false }] });
    expect(text).toBe('{"a":[1,"two",{"y":false,"z":null}]}');
    expect(JSON.parse(text)).toStrictEqual(canonicalAttributes({ a: [1, 'two', { z: null, y: false }] }));
  });
});
