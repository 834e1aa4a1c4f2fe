import { describe, expect, it } from 'vitest';
import { incomingGaugeWins } from '../src/merge/gauge.ts';

describe('incomingGaugeWins', () => {
  it('lets a newer timestamp win', () => {
    expect(incomingGaugeWins({ timeUnixNano: 10n }, { timeUnixNano: 11n })).toBe(true);
  });

  it('keeps the held point when the incoming one is older', () => {
    expect(incomingGaugeWins({ timeUnixNano: 11n }, { timeUnixNano: 10n })).toBe(false);
  });

  it('lets the later arrival win on equal timestamps', () => {
    expect(incomingGaugeWins({ timeUnixNano: 10n }, { timeUnixNano: 10n })).toBe(true);
  });

  it('compares nanosecond timestamps exactly beyond float precision', () => {
    // 2^53 + 1 and 2^53 are the same double; as bigint they differ by one nanosecond.
    const base = 2n ** 53n;
    expect(incomingGaugeWins({ timeUnixNano: base + 1n }, { timeUnixNano: base })).toBe(false);
    expect(incomingGaugeWins({ timeUnixNano: base }, { timeUnixNano: base + 1n })).toBe(true);
  });
});
