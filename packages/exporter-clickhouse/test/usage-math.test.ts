import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnscopedQueryError } from '../src/index.ts';
import { histogramQuantile } from '../src/usage/percentiles.ts';
import { planRange, type RangePart } from '../src/usage/range-plan.ts';
import { AdminQuery, assertTenantScoped, TenantScopedQuery } from '../src/usage/tenant-scope.ts';

const HOUR = 3_600_000_000_000n;
const DAY = 24n * HOUR;
const T0 = 1_704_067_200_000_000_000n; // 2024-01-01T00:00:00Z

/** Which part of the plan holds a row at `time` (bucket b holds b < time ≤ b + step). */
function holders(parts: readonly RangePart[], time: bigint): number {
  return parts.filter((part) => {
    if (part.kind === 'raw') {
      return (
        (part.fromUnixNano === undefined || time > part.fromUnixNano) &&
        (part.toUnixNano === undefined || time <= part.toUnixNano)
      );
    }
    const step = part.grain === '1h' ? HOUR : DAY;
    const bucket = ((time - 1n) / step) * step;
    return (
      (part.fromUnixNano === undefined || bucket >= part.fromUnixNano) &&
      (part.toUnixNano === undefined || bucket < part.toUnixNano)
    );
  }).length;
}

describe('planRange', () => {
  it('reads whole days from the daily rollup, whole hours from the hourly one, the edges from raw rows', () => {
    expect(planRange(T0 + 30n * 60_000_000_000n, T0 + 2n * DAY + 2n * HOUR + 5n)).toEqual([
      { kind: 'raw', fromUnixNano: T0 + 30n * 60_000_000_000n, toUnixNano: T0 + HOUR },
      { kind: 'rollup', grain: '1h', fromUnixNano: T0 + HOUR, toUnixNano: T0 + DAY },
      { kind: 'rollup', grain: '1d', fromUnixNano: T0 + DAY, toUnixNano: T0 + 2n * DAY },
      { kind: 'rollup', grain: '1h', fromUnixNano: T0 + 2n * DAY, toUnixNano: T0 + 2n * DAY + 2n * HOUR },
      { kind: 'raw', fromUnixNano: T0 + 2n * DAY + 2n * HOUR, toUnixNano: T0 + 2n * DAY + 2n * HOUR + 5n },
    ]);
    expect(planRange(undefined, undefined)).toEqual([
      { kind: 'rollup', grain: '1d', fromUnixNano: undefined, toUnixNano: undefined },
    ]);
    expect(planRange(T0 + 1n, T0 + HOUR - 1n)).toEqual([
      { kind: 'raw', fromUnixNano: T0 + 1n, toUnixNano: T0 + HOUR - 1n },
    ]);
    expect(planRange(T0, T0 + DAY, false)).toEqual([{ kind: 'raw', fromUnixNano: T0, toUnixNano: T0 + DAY }]);
    expect(planRange(T0 + DAY, T0)).toEqual([]);
  });

  it('puts every time inside the range in exactly one part, and none outside it', () => {
    const instant = fc.bigInt({ min: T0 - 3n * DAY, max: T0 + 3n * DAY });
    fc.assert(
      fc.property(
        fc.option(instant, { nil: undefined }),
        fc.option(instant, { nil: undefined }),
        fc.array(
          fc.oneof(
            instant,
            instant.map((t) => (t / HOUR) * HOUR),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        (from, to, times) => {
          const parts = planRange(from, to);
          for (const time of [...times, ...(from === undefined ? [] : [from, from + 1n])]) {
            const inside = (from === undefined || time > from) && (to === undefined || time <= to);
            expect(holders(parts, time)).toBe(inside ? 1 : 0);
          }
        },
      ),
    );
  });
});

describe('histogramQuantile', () => {
  const bounds = [10, 100, 1000];
  it('interpolates linearly inside the bucket that reaches the rank', () => {
    expect(histogramQuantile(0.5, bounds, [2, 4, 4, 0])).toBe(77.5);
    expect(histogramQuantile(0.1, bounds, [2, 4, 4, 0])).toBe(5); // first bucket from 0
    expect(histogramQuantile(0, bounds, [0, 4, 0, 0])).toBe(10); // q=0: the first non-empty bucket's start
    expect(histogramQuantile(1, bounds, [2, 4, 4, 0])).toBe(1000);
  });
  it('answers the upper bound with the upper-bound method', () => {
    expect(histogramQuantile(0.5, bounds, [2, 4, 4, 0], 'upper-bound')).toBe(100);
    expect(histogramQuantile(0.2, bounds, [2, 4, 4, 0], 'upper-bound')).toBe(10);
  });
  it('answers the highest finite bound for the overflow bucket, undefined without data or bounds', () => {
    expect(histogramQuantile(0.99, bounds, [0, 0, 0, 3])).toBe(1000);
    expect(histogramQuantile(0.5, bounds, [0, 0, 0, 0])).toBeUndefined();
    expect(histogramQuantile(0.5, [], [7])).toBeUndefined();
    expect(histogramQuantile(0.5, [-5, 5], [2, 0, 0], 'linear')).toBe(-5); // negative first bound: no 0 floor
  });
  it('refuses a quantile outside [0, 1]', () => {
    expect(() => histogramQuantile(1.5, bounds, [1, 1, 1, 1])).toThrow(RangeError);
    expect(() => histogramQuantile(Number.NaN, bounds, [1, 1, 1, 1])).toThrow(RangeError);
  });
  it('is monotone in the quantile', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(50), { minLength: 4, maxLength: 4 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (counts, a, b) => {
          const [low, high] = a <= b ? [a, b] : [b, a];
          const x = histogramQuantile(low, bounds, counts);
          const y = histogramQuantile(high, bounds, counts);
          if (x !== undefined && y !== undefined) expect(x).toBeLessThanOrEqual(y);
        },
      ),
    );
  });
});

describe('tenant scope', () => {
  it('refuses an invalid tenant when the query is built', () => {
    expect(() => new TenantScopedQuery('otel', '')).toThrow(/empty/);
    expect(() => new TenantScopedQuery('otel', 'a\nb')).toThrow(/control/);
  });
  it('writes the tenant predicate after every table and binds values', () => {
    const q = new TenantScopedQuery('otel', "o'neil");
    const sql = `SELECT 1 FROM (SELECT 1 ${q.from({ raw: 'sum' }, [`MetricName = ${q.bind('String', 'x')}`])} UNION ALL SELECT 1 ${q.from({ rollup: 'sum', grain: '1d' }, [])})`;
    expect(sql).toBe(
      'SELECT 1 FROM (SELECT 1 FROM `otel`.`otel_metrics_sum` WHERE TenantId = {tenant:String} AND (MetricName = {p0:String}) UNION ALL SELECT 1 FROM `otel`.`tallyhouse_usage_sum_1d` WHERE TenantId = {tenant:String})',
    );
    expect(q.params).toEqual({ tenant: "o'neil", p0: 'x' });
    expect(() => assertTenantScoped(sql)).not.toThrow();
  });
  it('rejects SQL with a table read that lacks the predicate', () => {
    const admin = new AdminQuery('otel');
    expect(() => assertTenantScoped(`SELECT 1 ${admin.from({ raw: 'sum' }, [])}`)).toThrow(
      UnscopedQueryError,
    );
    expect(() =>
      assertTenantScoped('SELECT 1 FROM otel.otel_metrics_sum WHERE TenantId = {tenant:String}'),
    ).toThrow(UnscopedQueryError);
    expect(() =>
      assertTenantScoped('SELECT 1 FROM `otel`.`otel_metrics_sum` WHERE TenantId = {tenant:String} OR 1'),
    ).toThrow(UnscopedQueryError);
    expect(() =>
      assertTenantScoped(
        'SELECT 1 FROM `otel`.`otel_metrics_sum` WHERE TenantId = {tenant:String} GROUP BY x',
      ),
    ).not.toThrow();
    expect(() => assertTenantScoped('SELECT 1')).toThrow(UnscopedQueryError);
    expect(() => new TenantScopedQuery('otel', 'a').from({ raw: 'nope' as 'sum' }, [])).toThrow(TypeError);
  });
});
