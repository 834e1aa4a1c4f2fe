/**
 * The fuzzer's own parts, without a collector: cases are reproducible from (seed, index), meaning-preserving
 * re-encodings stay valid, and the storage oracle catches loss, double counting, overflow to Inf and rows
 * stored for a refused request.
 */
import { describe, expect, it } from 'vitest';
import type { StoredDump } from '../support/stored-in-child.ts';
import { makeCase } from './cases.ts';
import { canAddUp, expectationOf, scaled, verifyGroup } from './expect.ts';
import type { AcceptedPoint } from './model.ts';
import { decoderDisagreement, type Pending, verifyStorage } from './oracle.ts';
import { referenceOutcome } from './reference.ts';

function point(value: number, extra: Partial<AcceptedPoint> = {}): AcceptedPoint {
  return {
    kind: 'sum',
    table: 'sum',
    metricName: 'requests',
    unit: '1',
    description: '',
    monotonic: true,
    temporality: 'delta',
    resource: {},
    scope: { name: '', version: '' },
    attributes: {},
    start: 1n,
    time: 2n,
    value: { value },
    uncertain: undefined,
    ...extra,
  };
}

function bits(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return view.getBigUint64(0).toString();
}

function pendingFor(tenant: string, points: AcceptedPoint[], rejected = 0): Pending {
  const c = makeCase(1, 0);
  return {
    case: { ...c, tenant },
    expect: 'accepted',
    expectation: expectationOf(points, 0),
    rejected,
  };
}

function dump(rows: [string, string, string, number][]): StoredDump {
  return { rows: rows.map(([t, table, m, v]) => [t, table, m, bits(v)]), deadLetters: [], quarantined: [] };
}

describe('fuzz cases', () => {
  it('are the same for the same seed and index, and differ across indices', () => {
    const a = makeCase(7, 42);
    const b = makeCase(7, 42);
    expect(Buffer.from(a.request.body).equals(Buffer.from(b.request.body))).toBe(true);
    expect(a.tenant).toBe(b.tenant);
    expect(makeCase(7, 43).tenant).not.toBe(a.tenant);
  });

  it('of the valid kinds decode, in every re-encoding, to exactly the points the model accepts', () => {
    for (let i = 0; i < 150; i++) {
      const c = makeCase(11, i, { kinds: ['valid-protobuf', 'valid-json'] });
      const reference = referenceOutcome(c.request, 8 * 1024 * 1024);
      const problem =
        'decoded' in reference ? decoderDisagreement(c, reference.decoded) : `status ${reference.status}`;
      expect({ index: i, detail: c.detail, problem }).toEqual({
        index: i,
        detail: c.detail,
        problem: undefined,
      });
    }
  });
});

describe('the storage oracle', () => {
  it('adds sums exactly, so two 1e308 rows match two 1e308 points and one Infinity row does not', () => {
    const points = [point(1e308), point(1e308)];
    expect(scaled(1e308) * 2n).toBe(scaled(1e308) + scaled(1e308));
    const two = verifyGroup('sum', points, { rows: 2, values: [1e308, 1e308], count: 0n });
    const inf = verifyGroup('sum', points, { rows: 1, values: [Number.POSITIVE_INFINITY], count: 0n });
    expect([...two.droppable]).toEqual([0]);
    expect(inf.droppable.size).toBe(0);
  });

  it('turns cumulative points into deltas: first in full, growth as a difference, a decrease of a monotonic sum as a reset', () => {
    const stream = { temporality: 'cumulative' as const, attributes: { s: 'a' } };
    const points = [
      point(10, { ...stream, time: 2n }),
      point(15, { ...stream, time: 3n }),
      point(4, { ...stream, time: 4n }),
      point(9, { ...stream, time: 3n }), // stale: not newer than the last point
    ];
    expect([...verifyGroup('sum', points, { rows: 1, values: [19], count: 0n }).droppable]).toEqual([0]);
    expect(verifyGroup('sum', points, { rows: 1, values: [29], count: 0n }).droppable.size).toBe(0);
  });

  it('reports an acknowledged point that is missing, one stored twice, and rows of a refused request', () => {
    const pending: Pending[] = [
      pendingFor('lost', [point(3)]),
      pendingFor('twice', [point(3)]),
      { ...pendingFor('refused', []), expect: 'nothing', expectation: undefined },
      pendingFor('fine', [point(3), point(4)]),
    ];
    const failures = verifyStorage(
      pending,
      dump([
        ['twice', 'sum', 'requests', 3],
        ['twice', 'sum', 'requests', 3],
        ['refused', 'sum', 'requests', 1],
        ['fine', 'sum', 'requests', 7],
        ['nobody', 'gauge', 'g', 1],
      ]),
    );
    expect(failures.map((f) => [f.category, f.message.split(':')[0]])).toEqual([
      ['foreign-tenant', 'rows stored for tenant "nobody", which no case used'],
      ['storage', 'sum requests'],
      ['storage', 'sum requests'],
      ['stored-after-refusal', 'refused, yet stored'],
    ]);
  });

  it('lets an uncertain point be stored or rejected, but the choice must match rejected_data_points', () => {
    const points = [point(3), point(5, { uncertain: 'non-finite min/max' })];
    const stored = dump([['t', 'sum', 'requests', 3]]);
    expect(verifyStorage([pendingFor('t', points, 1)], stored)).toEqual([]);
    expect(verifyStorage([pendingFor('t', points, 0)], stored).map((f) => f.category)).toEqual([
      'rejected-count',
    ]);
    expect(canAddUp([new Set([0, 1]), new Set([0, 2])], 3)).toBe(true);
    expect(canAddUp([new Set([0, 1]), new Set([0, 2])], 4)).toBe(false);
  });
});
