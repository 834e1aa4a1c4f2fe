/**
 * A gauge's value belongs to its source: two sources (resource attributes, scope) never share a gauge series,
 * however alike their attributes, while sums from the same sources still merge.
 */
import type { Attributes, InputBatch, SeriesPoint } from '@tallyhouse/model';
import { encodeAttributes } from '@tallyhouse/model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Accumulator } from '../src/accumulator.ts';
import { sourceResource } from '../src/series-identity.ts';
import { batch, gaugePoint, inputMetric, TEMPERATURE } from './helpers/builders.ts';

interface Source {
  readonly resource: Attributes;
  readonly scope: string;
}

interface Reading {
  readonly source: number;
  readonly room: string;
  readonly time: bigint;
  readonly value: number;
}

// Small pools, so sources often differ in one attribute only (or only in the scope), and values of different
// types that print alike (1, "1", true) meet.
const sourceArb: fc.Arbitrary<Source> = fc.record({
  resource: fc
    .record(
      {
        'service.name': fc.constantFrom('api', 'worker'),
        'host.name': fc.constantFrom('a', 'b'),
        'service.instance.id': fc.constantFrom<Attributes[string]>(1, '1', true, 'i-2'),
      },
      { requiredKeys: ['service.name'] },
    )
    .map((resource) => resource as Attributes),
  scope: fc.constantFrom('lib', 'lib2'),
});

describe('property: gauge sources', () => {
  it('never share a series: each source keeps its own latest reading, with its own resource and scope', () => {
    fc.assert(
      fc.property(
        fc.array(sourceArb, { minLength: 1, maxLength: 6 }),
        fc.array(
          fc.record({
            source: fc.nat(5),
            room: fc.constantFrom('kitchen', 'hall'),
            time: fc.bigInt({ min: 1n, max: 40n }),
            value: fc.integer({ min: -100, max: 100 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (sources, readings) => {
          const accumulator = new Accumulator({ now: () => 0 });
          const latest = new Map<string, Reading>();
          for (const reading of readings as Reading[]) {
            const source = sources[reading.source % sources.length]!;
            accumulator.consume(inputOf(source, reading));
            // The newer time wins; on a tie, the later arrival.
            const key = identity(sourceResource(source.resource), source.scope, reading.room);
            const held = latest.get(key);
            if (held === undefined || reading.time >= held.time) latest.set(key, reading);
          }
          const rows = accumulator.take();
          const byIdentity = new Map<string, SeriesPoint>();
          for (const row of rows) {
            const key = identity(row.resource, row.scope.name, String(row.attributes.room));
            expect(byIdentity.has(key), `two rows for ${key}`).toBe(false);
            byIdentity.set(key, row);
          }
          expect([...byIdentity.keys()].sort()).toEqual([...latest.keys()].sort());
          for (const [key, reading] of latest) {
            const row = byIdentity.get(key)!;
            expect([row.timeUnixNano, row.value]).toEqual([reading.time, { value: reading.value }]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

function identity(resource: Attributes, scope: string, room: string): string {
  return JSON.stringify([encodeAttributes(resource), scope, room]);
}

function inputOf(source: Source, reading: Reading): InputBatch {
  const point = gaugePoint({ 'tenant.id': 'acme', room: reading.room }, reading.time, reading.value);
  return batch(source.resource, [inputMetric(TEMPERATURE, 'cumulative', [point])], {
    name: source.scope,
    version: '',
  });
}
