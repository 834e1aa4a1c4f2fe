/** The chaos suite's judge of storage against the apps' tallies: it must catch a double count and a torn export. */
import { describe, expect, it } from 'vitest';
import { type AppTally, unexplainedStorage } from './support.ts';

const deltaApp: AppTally = {
  tenant: 'acme',
  service: 'acme-delta',
  temporality: 'delta',
  protocol: 'http',
  totals: { 'chaos.requests': 30 },
  streams: { 'chaos.requests /a': 20, 'chaos.requests /b': 10 },
  inDoubt: [
    { 'chaos.requests /a': 3, 'chaos.requests /b': 2 },
    { 'chaos.requests /a': 1, 'chaos.requests /b': 4 },
  ],
  stats: { exports: 10, succeeded: 8, failed: 2, unsent: 0 },
  failures: { 'Service Unavailable': 2 },
  finalMs: 40,
};

const stored = (a: number, b: number) => [
  { tenant: 'acme', service: 'acme-delta', metric: 'chaos.requests', route: '/a', total: a },
  { tenant: 'acme', service: 'acme-delta', metric: 'chaos.requests', route: '/b', total: b },
];

describe('unexplainedStorage', () => {
  it('accepts exactly the acknowledged values, and those plus any whole failed exports', () => {
    expect(unexplainedStorage([deltaApp], stored(20, 10))).toEqual([]);
    expect(unexplainedStorage([deltaApp], stored(23, 12))).toEqual([]);
    expect(unexplainedStorage([deltaApp], stored(24, 16))).toEqual([]);
  });

  it('refuses a loss, a failed export counted twice or in part, and an acknowledged one counted twice', () => {
    expect(unexplainedStorage([deltaApp], stored(19, 10))).toHaveLength(1);
    expect(unexplainedStorage([deltaApp], stored(26, 14))).toHaveLength(1);
    expect(unexplainedStorage([deltaApp], stored(23, 10))).toHaveLength(1);
    expect(unexplainedStorage([deltaApp], stored(40, 20))).toHaveLength(1);
  });

  it('holds cumulative apps and streams missing from either side exactly', () => {
    const cumulative: AppTally = { ...deltaApp, temporality: 'cumulative' };
    expect(unexplainedStorage([cumulative], stored(20, 10))).toEqual([]);
    expect(unexplainedStorage([cumulative], stored(23, 12))).toHaveLength(1);
    expect(unexplainedStorage([deltaApp], stored(20, 10).slice(0, 1))).toHaveLength(1);
    const extra = [...stored(20, 10), { ...stored(0, 0)[0]!, route: '/c', total: 1 }];
    expect(unexplainedStorage([deltaApp], extra)).toHaveLength(1);
  });
});
