/**
 * Series identity: tenant, metric (kind, unit, monotonicity; not the description) and canonical attributes,
 * kept apart however names and values are spelled, and independent of key order.
 */
import type { Attributes, SeriesPoint } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Accumulator } from '../src/accumulator.ts';
import {
  fullSeriesKey,
  keptResource,
  MAX_SOURCE_RESOURCE_ATTRIBUTES,
  MAX_SOURCE_RESOURCE_BYTES,
  metricKey,
  SOURCE_DIGEST_ATTRIBUTE,
  seriesKey,
  sourceResource,
  sourceStreamPrefix,
} from '../src/series-identity.ts';
import { keyArb, seededRandom, shuffleKeys, valueArb } from './helpers/attribute-arbitraries.ts';
import {
  batch,
  CHECKOUT,
  histogram,
  inputMetric,
  metricInfo,
  REQUESTS,
  SCOPE,
  seriesPoint,
  sumPoint,
} from './helpers/builders.ts';

const distinct = (values: readonly string[]) => new Set(values).size === values.length;

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

const attributesArb: fc.Arbitrary<Attributes> = fc.dictionary(keyArb, valueArb, { maxKeys: 3 });
const tenantArb = fc.oneof(
  fc.constantFrom('a', 'a:b', 'b', 'a,b', '"a"', '{', '0'),
  fc.string({ unit: fc.constantFrom('a', ':', ',', '"', '{', '}', '[', '\\'), minLength: 1, maxLength: 6 }),
);
const nameArb = fc.constantFrom('b:c', 'c', 'b', 'a:b:c', '"c"');

interface IdentityInput {
  readonly tenant: string;
  readonly name: string;
  readonly attributes: Attributes;
}

const identityArb: fc.Arbitrary<IdentityInput> = fc.record({
  tenant: tenantArb,
  name: nameArb,
  attributes: attributesArb,
});

const pointOf = (input: IdentityInput) =>
  seriesPoint({
    tenant: input.tenant,
    metric: metricInfo('sum', input.name),
    attributes: input.attributes,
    start: 0n,
    time: 1n,
    value: { value: 1 },
  });

/** Structural equality of attribute values: object key order never matters, array order does, NaN equals NaN. */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).sort();
  const kb = Object.keys(rb).sort();
  return ka.length === kb.length && ka.every((key, i) => key === kb[i] && sameValue(ra[key], rb[key]));
}

describe('property: series identity', () => {
  it('gives equal keys exactly when tenant, metric and canonical attributes are equal', () => {
    let equalPairs = 0;
    fc.assert(
      fc.property(
        identityArb,
        identityArb,
        fc.constantFrom('independent', 'same-metric', 'same-attributes'),
        (a, drawn, how) => {
          // Pairs that share parts collide more often than independent ones: both directions get exercised.
          const b =
            how === 'same-metric'
              ? { ...drawn, tenant: a.tenant, name: a.name }
              : how === 'same-attributes'
                ? { ...drawn, attributes: structuredClone(a.attributes) }
                : drawn;
          const same = a.tenant === b.tenant && a.name === b.name && sameValue(a.attributes, b.attributes);
          if (same) equalPairs++;
          expect(fullSeriesKey(pointOf(a)) === fullSeriesKey(pointOf(b))).toBe(same);
        },
      ),
      { numRuns: 1500 },
    );
    // The domains are small on purpose: some pairs must be equal, or the ⇐ direction was never tested.
    expect(equalPairs).toBeGreaterThan(0);
  });

  it('does not depend on key order at any nesting level', () => {
    fc.assert(
      fc.property(identityArb, fc.integer(), (input, seed) => {
        const shuffled = shuffleKeys(input.attributes, seededRandom(seed)) as Attributes;
        expect(fullSeriesKey(pointOf({ ...input, attributes: shuffled }))).toBe(
          fullSeriesKey(pointOf(input)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('merges inputs that differ only in key order into one buffered series', () => {
    fc.assert(
      fc.property(attributesArb, fc.integer(), (attributes, seed) => {
        const accumulator = new Accumulator({ now: () => 0 });
        const shuffled = shuffleKeys(attributes, seededRandom(seed)) as Attributes;
        for (const [i, set] of [attributes, shuffled].entries()) {
          accumulator.consume({
            resourceMetrics: [
              {
                resource: CHECKOUT,
                scopeMetrics: [
                  {
                    scope: SCOPE,
                    metrics: [
                      inputMetric(REQUESTS, 'delta', [
                        sumPoint({ ...set, 'tenant.id': 'acme' }, BigInt(i), BigInt(i + 1), 1),
                      ]),
                    ],
                  },
                ],
              },
            ],
          });
        }
        const points = accumulator.take();
        expect(points).toHaveLength(1);
        expect(points[0]?.value).toEqual({ value: 2 });
        expect(sameValue(points[0]?.attributes, attributes)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('kept resource attributes are plain keys', () => {
  it('does not find a kept resource attribute named toString or constructor in a resource without it', () => {
    expect(keptResource({ 'service.name': 'a' }, ['service.name', 'constructor', 'toString'])).toEqual({
      'service.name': 'a',
    });
    const own = Object.fromEntries([['constructor', 'c']]);
    expect(keptResource(own, ['constructor'])).toEqual(own);
  });
});

describe('sourceResource (what a gauge is identified and stored by)', () => {
  const encodedBytes = (attributes: Attributes) => Buffer.byteLength(JSON.stringify(attributes));

  it('is the whole resource, canonical, while it is within the bounds', () => {
    const resource = { 'service.name': 'api', 'host.name': 'a', 'process.pid': 42 };
    expect(sourceResource(resource)).toEqual(resource);
    expect(Object.keys(sourceResource(resource))).toEqual(['host.name', 'process.pid', 'service.name']);
  });

  it('past the attribute count keeps the first names in order plus a digest of the whole set', () => {
    const resource = Object.fromEntries(
      Array.from({ length: MAX_SOURCE_RESOURCE_ATTRIBUTES + 10 }, (_, i) => [
        `k${String(i).padStart(3, '0')}`,
        i,
      ]),
    );
    const bounded = sourceResource(resource);
    expect(Object.keys(bounded)).toHaveLength(MAX_SOURCE_RESOURCE_ATTRIBUTES);
    expect(bounded.k000).toBe(0);
    expect(bounded[SOURCE_DIGEST_ATTRIBUTE]).toMatch(/^[0-9a-f]{64}$/);
    // Sources that differ only in what was left out still differ.
    expect(sourceResource({ ...resource, k073: 'other' })).not.toEqual(bounded);
    expect(sourceResource({ ...resource })).toEqual(bounded);
  });

  it('past the byte bound stays within it, digest included, and still tells sources apart', () => {
    const big = 'x'.repeat(3_000);
    const resource = { a: big, b: big, c: big, d: big, 'service.name': 'api' };
    const bounded = sourceResource(resource);
    expect(encodedBytes(bounded)).toBeLessThanOrEqual(MAX_SOURCE_RESOURCE_BYTES);
    expect(bounded.a).toBe(big);
    expect(bounded[SOURCE_DIGEST_ATTRIBUTE]).toMatch(/^[0-9a-f]{64}$/);
    expect(sourceResource({ ...resource, d: `${big}y` })).not.toEqual(bounded);
  });
});
