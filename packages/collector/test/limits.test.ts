/**
 * Per-tenant limits at the edge: a GCRA rate limit in data points/s with a burst (429 + Retry-After), a
 * data-point quota per UTC calendar period (403, non-retryable, the message naming the quota), defaults from env
 * and overrides per tenant from TALLYHOUSE_LIMITS_FILE. Limited requests store nothing and are counted in
 * /metrics. The pure pieces are tested alone, then the whole path over a real socket into chDB.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tallyhouse/model';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/collector.ts';
import { loadCollectorConfig } from '../src/config.ts';
import { GcraRateLimiter, gcraDecide } from '../src/limits/gcra.ts';
import { LimitPolicy } from '../src/limits/limit-policy.ts';
import { nextPeriodStart, periodStart, QuotaCounters } from '../src/limits/quota.ts';
import { QuotaStore } from '../src/limits/quota-store.ts';
import { MAX_RETRY_AFTER_SECONDS, TenantLimiter } from '../src/limits/tenant-limiter.ts';
import {
  decodeStatus,
  http,
  otlpRequest,
  postMetrics,
  startCollector,
  storedPoints,
  sumMetric,
  tempDir,
} from './support.ts';

const dir = tempDir('limits');

describe('GCRA (emission interval 1/rate, tolerance = burst)', () => {
  const limit = { pointsPerSecond: 10, burst: 5 }; // one point per 100 ms

  it('lets a rested tenant send its whole burst at once, then one point per emission interval', () => {
    const first = gcraDecide(limit, undefined, 5, 1_000);
    expect(first).toEqual({ allowed: true, tat: 1_500 });
    const tat = first.allowed ? first.tat : 0;
    expect(gcraDecide(limit, tat, 1, 1_000)).toEqual({ allowed: false, retryAfterMs: 100 });
    expect(gcraDecide(limit, tat, 1, 1_100)).toEqual({ allowed: true, tat: 1_600 });
  });

  it('says how long until the refused request would pass', () => {
    expect(gcraDecide(limit, 1_500, 3, 1_000)).toEqual({ allowed: false, retryAfterMs: 300 });
    expect(gcraDecide(limit, 1_500, 3, 1_300).allowed).toBe(true);
  });

  it('admits a request larger than the whole burst only from rest, and charges it in full', () => {
    expect(gcraDecide(limit, undefined, 50, 1_000)).toEqual({ allowed: true, tat: 6_000 });
    expect(gcraDecide(limit, 1_001, 50, 1_000)).toEqual({ allowed: false, retryAfterMs: 1 });
    expect(gcraDecide(limit, 6_000, 1, 5_000)).toEqual({ allowed: false, retryAfterMs: 600 });
  });

  it('holds the long-run rate: 10 points/s for 10 s admits 10·10 + burst points', () => {
    let tat: number | undefined;
    let admitted = 0;
    for (let now = 0; now <= 10_000; now += 10) {
      const decision = gcraDecide(limit, tat, 1, now);
      if (decision.allowed) {
        tat = decision.tat;
        admitted++;
      }
    }
    expect(admitted).toBe(100 + 5);
  });

  it('forgets rested tenants, so state stays bounded by the recently active ones', () => {
    const limiter = new GcraRateLimiter();
    for (let i = 0; i < 1_000; i++) limiter.take(`t${i}`, limit, 1, 0);
    expect(limiter.size).toBe(1_000);
    // Much later: every call sweeps two rested entries.
    for (let i = 0; i < 600; i++) limiter.take('busy', limit, 1, 1_000_000 + i * 100);
    expect(limiter.size).toBeLessThan(5);
  });
});

describe('quota periods are calendar periods in UTC', () => {
  const at = Date.parse('2024-12-31T23:45:10.500Z');

  it('finds the start and the next start of the hour, day and month', () => {
    expect(new Date(periodStart('hour', at)).toISOString()).toBe('2024-12-31T23:00:00.000Z');
    expect(new Date(nextPeriodStart('hour', at)).toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(new Date(periodStart('day', at)).toISOString()).toBe('2024-12-31T00:00:00.000Z');
    expect(new Date(nextPeriodStart('day', at)).toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(new Date(periodStart('month', at)).toISOString()).toBe('2024-12-01T00:00:00.000Z');
    expect(new Date(nextPeriodStart('month', at)).toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(new Date(nextPeriodStart('month', Date.parse('2024-02-10T00:00:00Z'))).toISOString()).toBe(
      '2024-03-01T00:00:00.000Z',
    );
  });

  it('refuses a whole request that would pass the quota, and starts again at zero in the next period', () => {
    const counters = new QuotaCounters();
    const quota = { points: 10, period: 'day' as const, timeZone: 'UTC' };
    expect(counters.take('acme', quota, 8, at).allowed).toBe(true);
    const refused = counters.take('acme', quota, 3, at);
    expect(refused).toEqual({ allowed: false, used: 8, resetsAtMs: Date.parse('2025-01-01T00:00:00Z') });
    expect(counters.used('acme', quota, at)).toBe(8); // nothing charged for the refused request
    expect(counters.take('acme', quota, 2, at).allowed).toBe(true);
    expect(counters.take('acme', quota, 1, at).allowed).toBe(false);
    expect(counters.take('acme', quota, 10, Date.parse('2025-01-01T00:00:00Z')).allowed).toBe(true);
  });

  it('gives back points the pipeline did not accept', () => {
    const counters = new QuotaCounters();
    const quota = { points: 10, period: 'hour' as const, timeZone: 'UTC' };
    counters.take('acme', quota, 10, at);
    counters.refund('acme', 4);
    expect(counters.used('acme', quota, at)).toBe(6);
  });
});

describe('quota periods in a tenant’s time zone', () => {
  const NY = 'America/New_York';

  it('a New York day runs from local midnight to local midnight, 23 hours on the spring-forward day', () => {
    const at = Date.parse('2026-03-08T12:00:00Z'); // 08:00 EDT, the day clocks went forward
    expect(new Date(periodStart('day', at, NY)).toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(new Date(nextPeriodStart('day', at, NY)).toISOString()).toBe('2026-03-09T04:00:00.000Z');
    expect(new Date(periodStart('month', at, NY)).toISOString()).toBe('2026-03-01T05:00:00.000Z');
    expect(new Date(nextPeriodStart('month', at, NY)).toISOString()).toBe('2026-04-01T04:00:00.000Z');
    expect(
      new Date(periodStart('hour', Date.parse('2026-06-01T12:45:00Z'), 'Asia/Kolkata')).toISOString(),
    ).toBe('2026-06-01T12:30:00.000Z');
  });

  it('a counter restarts at the tenant’s local midnight, not at UTC midnight', () => {
    const policy = new LimitPolicy(
      { rate: undefined, quota: undefined },
      new Map([
        ['ny', { rate: undefined, quota: { points: 10, period: 'day', timeZone: NY } }],
        ['utc', { rate: undefined, quota: { points: 10, period: 'day', timeZone: 'UTC' } }],
      ]),
    );
    let now = Date.parse('2026-03-08T23:00:00Z'); // 19:00 in New York
    const limiter = new TenantLimiter(policy, { now: () => now });
    for (const tenant of ['ny', 'utc']) expect(limiter.admit(tenant, 10)).toEqual({ admitted: true });
    now = Date.parse('2026-03-09T01:00:00Z'); // a new UTC day; still the 8th in New York
    expect(limiter.admit('utc', 10)).toEqual({ admitted: true });
    const refused = limiter.admit('ny', 1);
    expect(refused.admitted === false && refused.message).toMatch(/resets at 2026-03-09T04:00:00.000Z/);
    expect(limiter.quotaUsage('ny')).toEqual({
      used: 10,
      points: 10,
      period: 'day',
      timeZone: NY,
      periodStartMs: Date.parse('2026-03-08T05:00:00Z'),
      resetsAtMs: Date.parse('2026-03-09T04:00:00Z'),
    });
    now = Date.parse('2026-03-09T04:00:00Z'); // New York midnight
    expect(limiter.admit('ny', 10)).toEqual({ admitted: true });
  });

  it('the limits file names a tenant’s quota time zone; a wrong one is refused naming tenant and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quota-zone-'));
    const file = join(dir, 'limits.json');
    const settings = {
      ratePointsPerSecond: undefined,
      rateBurst: undefined,
      quotaPoints: 100,
      quotaPeriod: 'month' as const,
      limitsFile: file,
    };
    writeFileSync(file, JSON.stringify({ tenants: { acme: { quotaTimeZone: 'america/new_york' } } }));
    const policy = LimitPolicy.fromSettings(settings);
    expect(policy.for('acme').quota).toEqual({ points: 100, period: 'month', timeZone: NY });
    expect(policy.quotaZone('other')).toBe('UTC');
    writeFileSync(file, JSON.stringify({ tenants: { acme: { quotaTimeZone: 'Mars/Olympus' } } }));
    expect(() => LimitPolicy.fromSettings(settings)).toThrow(
      /TALLYHOUSE_LIMITS_FILE.*tenants\["acme"\]\.quotaTimeZone: "Mars\/Olympus" is not an IANA time zone/,
    );
    writeFileSync(
      file,
      JSON.stringify({ tenants: { acme: { quotaPoints: null, quotaTimeZone: 'Europe/Berlin' } } }),
    );
    expect(() => LimitPolicy.fromSettings(settings)).toThrow(/quotaTimeZone: needs a quota/);
  });
});

describe('the tenant limiter', () => {
  it('says how much of the burst is left now, refilling at the rate', () => {
    const policy = new LimitPolicy({ rate: { pointsPerSecond: 500, burst: 5_000 }, quota: undefined });
    let now = Date.parse('2026-06-01T12:00:00Z');
    const limiter = new TenantLimiter(policy, { now: () => now });
    expect(limiter.rateStatus('acme')).toEqual({ pointsPerSecond: 500, burst: 5_000, available: 5_000 });
    expect(limiter.admit('acme', 4_000)).toEqual({ admitted: true });
    expect(limiter.rateStatus('acme')?.available).toBe(1_000);
    now += 1_000; // 500 points paid back
    expect(limiter.rateStatus('acme')?.available).toBe(1_500);
    // What it says is left is what passes: one more point than that is refused.
    expect(limiter.admit('acme', 1_501)).toMatchObject({ admitted: false, reason: 'rate_limited' });
    expect(limiter.admit('acme', 1_500)).toEqual({ admitted: true });
    expect(limiter.rateStatus('acme')?.available).toBe(0);
    now += 60_000;
    expect(limiter.rateStatus('acme')?.available).toBe(5_000);
    expect(
      new TenantLimiter(new LimitPolicy({ rate: undefined, quota: undefined })).rateStatus('acme'),
    ).toBeUndefined();
  });

  it('charges neither limit when one refuses (a quota refusal does not eat rate budget)', () => {
    const policy = new LimitPolicy({
      rate: { pointsPerSecond: 1, burst: 10 },
      quota: { points: 5, period: 'day', timeZone: 'UTC' },
    });
    let now = Date.parse('2025-06-01T12:00:00Z');
    const limiter = new TenantLimiter(policy, { now: () => now });
    expect(limiter.admit('acme', 5)).toEqual({ admitted: true });
    const quota = limiter.admit('acme', 5);
    expect(quota).toMatchObject({ admitted: false, reason: 'quota_exceeded' });
    expect(quota.admitted === false && quota.message).toBe(
      'tenant "acme" exceeded its day quota of 5 data points (5 used; resets at 2025-06-02T00:00:00.000Z)',
    );
    // The rate limit still has 5 points of burst left: the refused request was refunded.
    now += 24 * 3_600_000;
    expect(limiter.admit('acme', 5)).toEqual({ admitted: true });
  });

  it('answers a rate refusal with whole seconds to wait, at least 1', () => {
    const limiter = new TenantLimiter(
      new LimitPolicy({ rate: { pointsPerSecond: 2, burst: 2 }, quota: undefined }),
      {
        now: () => 0,
      },
    );
    expect(limiter.admit('acme', 2).admitted).toBe(true);
    expect(limiter.admit('acme', 1)).toMatchObject({
      admitted: false,
      reason: 'rate_limited',
      retryAfterSeconds: 1,
      message: 'tenant "acme" exceeded its rate limit of 2 data points/s (burst 2); retry after 1s',
    });
  });

  it('keeps quota counters in the data dir across restarts, and ignores those of a past period', async () => {
    const dataDir = join(dir, 'quota-store');
    const policy = new LimitPolicy({
      rate: undefined,
      quota: { points: 100, period: 'month', timeZone: 'UTC' },
    });
    let now = Date.parse('2025-06-10T00:00:00Z');
    const first = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now: () => now });
    first.start();
    first.admit('acme', 60);
    await first.stop();
    const second = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now: () => now });
    second.start();
    expect(second.quotaUsage('acme')).toMatchObject({
      used: 60,
      points: 100,
      period: 'month',
      timeZone: 'UTC',
    });
    expect(second.admit('acme', 41).admitted).toBe(false);
    await second.stop();
    now = Date.parse('2025-07-01T00:00:00Z');
    const third = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now: () => now });
    third.start();
    expect(third.quotaUsage('acme')?.used).toBe(0);
    await third.stop();
  });

  it.each(['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf'])(
    'keeps the quota of a tenant named %s across a restart, like any other name',
    async (tenant) => {
      const dataDir = join(dir, `quota-name-${tenant}`);
      const policy = new LimitPolicy({
        rate: undefined,
        quota: { points: 100, period: 'month', timeZone: 'UTC' },
      });
      const now = () => Date.parse('2025-06-10T00:00:00Z');
      const first = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now });
      first.start();
      expect(first.admit(tenant, 70).admitted).toBe(true);
      expect(first.admit('acme', 5).admitted).toBe(true);
      await first.stop();
      for (let restart = 0; restart < 2; restart++) {
        // Twice: once from the journal, once from the snapshot rewritten at the first restart.
        const again = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now });
        again.start();
        expect(again.quotaUsage(tenant)).toMatchObject({ used: 70, points: 100, period: 'month' });
        expect(again.quotaUsage('acme')?.used).toBe(5);
        expect(again.admit(tenant, 31).admitted).toBe(false);
        await again.stop();
      }
    },
  );

  it('reads the single-file format of earlier versions, a __proto__ tenant included, and replaces it', async () => {
    const dataDir = join(dir, 'quota-legacy');
    mkdirSync(join(dataDir, 'limits'), { recursive: true });
    const legacy = join(dataDir, 'limits', 'quota-usage.json');
    // As JSON text: an object literal would make `__proto__` the prototype, not a tenant.
    writeFileSync(
      legacy,
      '{"version":1,"tenants":{"__proto__":{"period":"day","periodStart":"2025-06-10T00:00:00.000Z","used":7},' +
        '"acme":{"period":"day","periodStart":"2025-06-10T00:00:00.000Z","used":3},' +
        '"old":{"period":"day","periodStart":"2025-06-09T00:00:00.000Z","used":9}}}',
    );
    const policy = new LimitPolicy({
      rate: undefined,
      quota: { points: 10, period: 'day', timeZone: 'UTC' },
    });
    const now = () => Date.parse('2025-06-10T12:00:00Z');
    const limiter = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now });
    limiter.start();
    expect(limiter.quotaUsage('__proto__')?.used).toBe(7);
    expect(limiter.quotaUsage('acme')?.used).toBe(3);
    expect(limiter.quotaUsage('old')?.used).toBe(0);
    await limiter.stop();
    expect(existsSync(legacy)).toBe(false);
    const again = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now });
    again.start();
    expect(again.quotaUsage('__proto__')?.used).toBe(7);
    await again.stop();
  });

  it('loses at most what changed since the last persist when the process dies (under-counts, never over-counts)', async () => {
    const dataDir = join(dir, 'quota-crash');
    const policy = new LimitPolicy({
      rate: undefined,
      quota: { points: 100, period: 'month', timeZone: 'UTC' },
    });
    const now = () => Date.parse('2025-06-10T00:00:00Z');
    // An interval that never comes during the test: persisting happens when the test says.
    const crashing = new TenantLimiter(policy, {
      store: new QuotaStore(dataDir),
      now,
      persistIntervalMs: 1e9,
    });
    crashing.start();
    crashing.admit('acme', 10);
    crashing.admit('globex', 20);
    await crashing.persist();
    crashing.admit('acme', 5);
    // No stop(): the process "dies" here. A torn line, as a crash mid-append leaves it, is skipped too.
    const journal = readdirSync(join(dataDir, 'limits')).find((name) => name.startsWith('quota-journal-'))!;
    appendFileSync(join(dataDir, 'limits', journal), '["acme","month",174');
    const errors: string[] = [];
    const logger = { error: (_: unknown, message: string) => errors.push(message) } as unknown as Logger;
    const restarted = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now, logger });
    restarted.start();
    expect(restarted.quotaUsage('acme')?.used).toBe(10);
    expect(restarted.quotaUsage('globex')?.used).toBe(20);
    expect(errors).toEqual(['saved quota counters partly unreadable; what could be read is kept']);
    await restarted.stop();
  });

  it('writes the counters of a failed write again at the next tick', async () => {
    const dataDir = join(dir, 'quota-retry');
    const policy = new LimitPolicy({
      rate: undefined,
      quota: { points: 100, period: 'month', timeZone: 'UTC' },
    });
    const now = () => Date.parse('2025-06-10T00:00:00Z');
    const errors: string[] = [];
    const logger = { error: (_: unknown, message: string) => errors.push(message) } as unknown as Logger;
    const limiter = new TenantLimiter(policy, {
      store: new QuotaStore(dataDir),
      now,
      logger,
      persistIntervalMs: 1e9,
    });
    limiter.start();
    limiter.admit('acme', 10);
    rmSync(join(dataDir, 'limits'), { recursive: true });
    await limiter.persist();
    expect(errors).toEqual(['cannot save quota counters; retrying next interval']);
    mkdirSync(join(dataDir, 'limits'));
    await limiter.persist();
    await limiter.stop();
    expect(errors).toHaveLength(1);
    const restarted = new TenantLimiter(policy, { store: new QuotaStore(dataDir), now });
    restarted.start();
    expect(restarted.quotaUsage('acme')?.used).toBe(10);
    await restarted.stop();
  });

  it('says Retry-After of at most 2147483 s, however slow the rate (clients wait with a Node-sized timer)', () => {
    const limiter = new TenantLimiter(
      new LimitPolicy({ rate: { pointsPerSecond: 0.000_000_1, burst: 1 }, quota: undefined }),
      { now: () => 0 },
    );
    expect(limiter.admit('acme', 1).admitted).toBe(true);
    expect(limiter.admit('acme', 1)).toMatchObject({
      admitted: false,
      retryAfterSeconds: MAX_RETRY_AFTER_SECONDS,
    });
    expect(MAX_RETRY_AFTER_SECONDS).toBe(2_147_483);
  });
});

describe('limit settings are validated at start, naming the variable', () => {
  const errorOf = (env: Record<string, string>) => {
    try {
      const config = loadCollectorConfig(env);
      LimitPolicy.fromSettings(config.collector);
    } catch (error) {
      return error as ConfigError;
    }
    throw new Error(`expected ${JSON.stringify(env)} to be refused`);
  };

  it.each([
    [{ TALLYHOUSE_RATE_LIMIT_POINTS_PER_S: '0' }, 'TALLYHOUSE_RATE_LIMIT_POINTS_PER_S'],
    [{ TALLYHOUSE_RATE_LIMIT_POINTS_PER_S: 'fast' }, 'TALLYHOUSE_RATE_LIMIT_POINTS_PER_S'],
    [
      { TALLYHOUSE_RATE_LIMIT_POINTS_PER_S: '10', TALLYHOUSE_RATE_LIMIT_BURST: '1.5' },
      'TALLYHOUSE_RATE_LIMIT_BURST',
    ],
    [{ TALLYHOUSE_RATE_LIMIT_BURST: '100' }, 'TALLYHOUSE_RATE_LIMIT_BURST'],
    [{ TALLYHOUSE_QUOTA_POINTS: '-5' }, 'TALLYHOUSE_QUOTA_POINTS'],
    [{ TALLYHOUSE_QUOTA_PERIOD: 'week' }, 'TALLYHOUSE_QUOTA_PERIOD'],
    [{ TALLYHOUSE_LIMITS_FILE: join(dir, 'missing.json') }, 'TALLYHOUSE_LIMITS_FILE'],
  ])('refuses %j', (env, variable) => {
    const error = errorOf(env);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  const fileError = (content: unknown) => {
    const path = join(dir, `limits-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return errorOf({ TALLYHOUSE_LIMITS_FILE: path });
  };

  it.each([
    ['not JSON', '{', 'cannot read'],
    ['an unknown field', { tenants: { acme: { rate: 5 } } }, 'tenants["acme"]: unknown field "rate"'],
    ['a bad rate', { tenants: { acme: { ratePointsPerSecond: -1 } } }, 'tenants["acme"].ratePointsPerSecond'],
    ['a burst without any rate', { tenants: { acme: { burst: 10 } } }, 'tenants["acme"].burst: needs a rate'],
    ['a bad period', { tenants: { acme: { quotaPoints: 5, quotaPeriod: 'year' } } }, '.quotaPeriod'],
    ['an invalid tenant', { tenants: { '': { quotaPoints: 5 } } }, 'tenants[""]'],
    [
      'a per-tenant series cap',
      { tenants: { acme: { maxSeriesPerTenant: 10 } } },
      'TALLYHOUSE_MAX_SERIES_PER_TENANT applies to every tenant',
    ],
  ])('refuses a limits file with %s', (_what, content, message) => {
    const error = fileError(content);
    expect(error.variable).toBe('TALLYHOUSE_LIMITS_FILE');
    expect(error.message).toContain(message);
  });

  it('takes defaults from env and overrides per tenant from the file (null removes a limit)', () => {
    const path = join(dir, 'policy.json');
    writeFileSync(
      path,
      JSON.stringify({
        tenants: {
          big: { ratePointsPerSecond: 1000, burst: 5000, quotaPoints: 1_000_000, quotaPeriod: 'month' },
          free: { quotaPoints: 100 },
          internal: { ratePointsPerSecond: null, quotaPoints: null },
        },
      }),
    );
    const config = loadCollectorConfig({
      TALLYHOUSE_RATE_LIMIT_POINTS_PER_S: '2.5',
      TALLYHOUSE_QUOTA_POINTS: '1000',
      TALLYHOUSE_QUOTA_PERIOD: 'day',
      TALLYHOUSE_LIMITS_FILE: path,
    });
    const policy = LimitPolicy.fromSettings(config.collector);
    expect(policy.for('anyone')).toEqual({
      rate: { pointsPerSecond: 2.5, burst: 3 },
      quota: { points: 1000, period: 'day', timeZone: 'UTC' },
    });
    expect(policy.for('big')).toEqual({
      rate: { pointsPerSecond: 1000, burst: 5000 },
      quota: { points: 1_000_000, period: 'month', timeZone: 'UTC' },
    });
    expect(policy.for('free')).toEqual({
      rate: { pointsPerSecond: 2.5, burst: 3 },
      quota: { points: 100, period: 'day', timeZone: 'UTC' },
    });
    expect(policy.for('internal')).toEqual({ rate: undefined, quota: undefined });
  });

  it('applies overrides to tenants named __proto__ and constructor like any other', () => {
    const path = join(dir, 'policy-names.json');
    // As JSON text: an object literal would make `__proto__` the prototype, not a tenant.
    writeFileSync(path, '{"tenants":{"__proto__":{"quotaPoints":7},"constructor":{"quotaPoints":8}}}');
    const policy = LimitPolicy.fromSettings(
      loadCollectorConfig({ TALLYHOUSE_QUOTA_POINTS: '1000', TALLYHOUSE_LIMITS_FILE: path }).collector,
    );
    expect(policy.for('__proto__').quota?.points).toBe(7);
    expect(policy.for('constructor').quota?.points).toBe(8);
    expect(policy.for('hasOwnProperty').quota?.points).toBe(1000);
  });

  it('has no limits by default', () => {
    const policy = LimitPolicy.fromSettings(loadCollectorConfig({}).collector);
    expect(policy.for('acme')).toEqual({ rate: undefined, quota: undefined });
    expect(policy.hasQuotas).toBe(false);
  });
});

// ---- over a real socket, into chDB ----

describe('limits at the collector edge', () => {
  let collector: Collector;
  let port: number;

  beforeAll(async () => {
    const limitsFile = join(dir, 'edge-limits.json');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      limitsFile,
      JSON.stringify({
        tenants: {
          'rate-1': { ratePointsPerSecond: 0.5, burst: 3 },
          'quota-1': { quotaPoints: 5, quotaPeriod: 'day' },
          unlimited: { quotaPoints: null },
        },
      }),
    );
    ({ collector, port } = await startCollector(join(dir, 'data'), {
      env: {
        TALLYHOUSE_LIMITS_FILE: limitsFile,
        TALLYHOUSE_QUOTA_POINTS: '1000',
        TALLYHOUSE_QUOTA_PERIOD: 'month',
        TALLYHOUSE_FLUSH_INTERVAL_MS: '3600000',
      },
    }));
  });

  afterAll(async () => {
    await collector?.stop();
  });

  /** A request with `n` delta sum points (distinct series), value 1 each. */
  const points = (n: number, metric = 'requests') =>
    otlpRequest([
      sumMetric(
        metric,
        Array.from({ length: n }, (_, i) => ({ value: 1, attributes: { n: String(i) } })),
      ),
    ]);
  const send = (tenant: string, n: number, metric?: string) =>
    postMetrics(port, points(n, metric), 'json', { 'x-tenant-id': tenant });
  const storedTotal = async (tenant: string) =>
    (await storedPoints(collector, tenant)).reduce(
      (sum, p) => sum + ('value' in p.value ? p.value.value : 0),
      0,
    );
  const rejectedMetric = async (reason: string) => {
    const text = (await http(port, { method: 'GET', path: '/metrics' })).body.toString();
    const match = new RegExp(`tallyhouse_data_points_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(
      text,
    );
    return Number(match?.[1] ?? 0);
  };

  it('answers 429 + Retry-After past the burst, stores nothing of the limited request, and counts it', async () => {
    expect((await send('rate-1', 3)).status).toBe(200);
    const limited = await postMetrics(port, points(2), 'protobuf', { 'x-tenant-id': 'rate-1' });
    expect(limited.status).toBe(429);
    // 0.5 points/s: two more points need 4 s of rest.
    expect(limited.headers['retry-after']).toBe('4');
    const status = decodeStatus(limited.body, 'protobuf');
    expect(status.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(status.message).toBe(
      'tenant "rate-1" exceeded its rate limit of 0.5 data points/s (burst 3); retry after 4s',
    );
    expect(await storedTotal('rate-1')).toBe(3);
    expect(await rejectedMetric('rate_limited')).toBe(2);
  });

  it('refuses a request past the quota with 403 and a message naming the quota; nothing of it is stored', async () => {
    expect((await send('quota-1', 4)).status).toBe(200);
    const over = await send('quota-1', 2);
    expect(over.status).toBe(403);
    expect(over.headers['retry-after']).toBeUndefined();
    const status = decodeStatus(over.body, 'json');
    expect(status.message).toMatch(
      /^tenant "quota-1" exceeded its day quota of 5 data points \(4 used; resets at \d{4}-\d{2}-\d{2}T00:00:00\.000Z\)$/,
    );
    // What still fits is accepted.
    expect((await send('quota-1', 1)).status).toBe(200);
    expect((await send('quota-1', 1)).status).toBe(403);
    expect(await storedTotal('quota-1')).toBe(5);
    expect(await rejectedMetric('quota_exceeded')).toBe(3);
    expect(collector.limiter.quotaUsage('quota-1')).toMatchObject({ used: 5, points: 5, period: 'day' });
  });

  it('leaves other tenants alone, and a null override removes the default quota', async () => {
    expect((await send('someone-else', 10)).status).toBe(200);
    expect(collector.limiter.quotaUsage('someone-else')).toMatchObject({ used: 10, points: 1000 });
    expect((await send('unlimited', 50)).status).toBe(200);
    expect(collector.limiter.quotaUsage('unlimited')).toBeUndefined();
  });

  it('counts only the points the pipeline accepted: invalid points do not use quota', async () => {
    const body = otlpRequest([
      sumMetric('requests', [
        { value: 1, attributes: { ok: 'yes' } },
        { value: Number.NaN, attributes: { ok: 'no' } }, // rejected: a non-finite sum
      ]),
    ]);
    const answer = await postMetrics(port, body, 'json', { 'x-tenant-id': 'counted' });
    expect(answer.status).toBe(200);
    expect(collector.limiter.quotaUsage('counted')?.used).toBe(1);
  });
});
