import {
  type Attributes,
  canonicalAttributes,
  canonicalJson,
  encodeAttributes,
  encodeValue,
  type SeriesPoint,
} from '@tallyhouse/model';
import { describe, expect, it } from 'vitest';
import {
  Accumulator,
  fullSeriesKey,
  keptResource,
  metricKey,
  SeriesTable,
  seriesKey,
  sourceStreamPrefix,
} from '../src/index.ts';
import {
  batch,
  CHECKOUT,
  histogram,
  inputMetric,
  metricInfo,
  REQUESTS,
  seriesPoint,
  sumPoint,
} from './helpers/builders.ts';

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

describe('series identity', () => {
  const pointOf = (tenant: string, name: string, attributes: Attributes = {}): SeriesPoint =>
    seriesPoint({
      tenant,
      metric: metricInfo('sum', name),
      attributes,
      start: 0n,
      time: 1n,
      value: { value: 1 },
    });

  it('does not confuse tenant "a" with metric "b:c" and tenant "a:b" with metric "c"', () => {
    expect(fullSeriesKey(pointOf('a', 'b:c'))).not.toBe(fullSeriesKey(pointOf('a:b', 'c')));
  });

  it('does not let tenants with quotes, commas or braces imitate other parts', () => {
    const points = [
      pointOf('a', 'm', { x: '1' }),
      pointOf('a"{"x":"1"}', 'm'),
      pointOf('a,b', 'm'),
      pointOf('a', 'm', { b: '' }),
      pointOf('{', 'm'),
      pointOf('a', '"m'),
    ];
    expect(distinct(points.map(fullSeriesKey))).toBe(true);
  });

  it('tells the point kind, unit and monotonicity apart for the same name', () => {
    const base = metricInfo('sum', 'm', { unit: 's', monotonic: true });
    const keys = [
      base,
      { ...base, monotonic: false },
      { ...base, unit: 'ms' },
      { ...base, kind: 'gauge' as const },
      { ...base, name: 'm2' },
    ].map((metric) => metricKey(CHECKOUT, metric));
    expect(distinct(keys)).toBe(true);
  });

  it('ignores the description', () => {
    expect(metricKey(CHECKOUT, { ...REQUESTS, description: 'one' })).toBe(
      metricKey(CHECKOUT, { ...REQUESTS, description: 'two' }),
    );
  });

  it('keeps histograms with different bounds apart, but only histograms carry bounds', () => {
    expect(seriesKey({}, undefined, 'histogram', histogram([1, 2], [0, 0, 0], 0))).not.toBe(
      seriesKey({}, undefined, 'histogram', histogram([1, 3], [0, 0, 0], 0)),
    );
    expect(seriesKey({ a: 1 }, undefined, 'sum', { value: 1 })).toBe(
      seriesKey({ a: 1 }, undefined, 'sum', { value: 2 }),
    );
  });

  it('keeps only the configured resource attributes, canonicalised', () => {
    const kept = keptResource({ 'service.name': 'x', 'host.name': 'h', deploy: { b: 1, a: 2 } }, [
      'deploy',
      'service.name',
    ]);
    expect(kept).toStrictEqual({ deploy: { a: 2, b: 1 }, 'service.name': 'x' });
    expect(Object.keys(kept)).toEqual(['deploy', 'service.name']);
  });

  it('separates cumulative source streams by full resource and by scope name and version', () => {
    const prefixes = [
      sourceStreamPrefix(CHECKOUT, { name: 'a', version: '1' }, REQUESTS),
      sourceStreamPrefix({ ...CHECKOUT, 'host.name': 'h' }, { name: 'a', version: '1' }, REQUESTS),
      sourceStreamPrefix(CHECKOUT, { name: 'a', version: '2' }, REQUESTS),
      sourceStreamPrefix(CHECKOUT, { name: 'a","1', version: '' }, REQUESTS),
    ];
    expect(distinct(prefixes)).toBe(true);
  });

  it('merges a failed point back into the series its attributes name, even for a "__proto__" key', () => {
    const accumulator = new Accumulator({ now: () => 0 });
    const attributes = JSON.parse('{"__proto__":"x","tenant.id":"acme"}') as Attributes;
    const input = (start: bigint, time: bigint) =>
      batch(CHECKOUT, [inputMetric(REQUESTS, 'delta', [sumPoint(attributes, start, time, 1)])]);
    accumulator.consume(input(0n, 10n));
    const failed = accumulator.take();
    accumulator.consume(input(10n, 20n));
    accumulator.settle(failed.length, failed);
    const points = accumulator.take();
    expect(points).toHaveLength(1);
    expect(points[0]?.value).toEqual({ value: 2 });
  });
});

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
