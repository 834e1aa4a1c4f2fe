/**
 * The edge limits of one collector process: a GCRA rate limit and a data-point quota per tenant. `admit` decides
 * before anything of a request is logged or applied, and charges both limits only when both allow it; `settle`
 * gives back what the pipeline did not take (points it rejected, or the whole request when it pushed back).
 */
import type { Logger } from 'pino';
import { GcraRateLimiter } from './gcra.ts';
import type { LimitPolicy } from './limit-policy.ts';
import { QuotaCounters, type QuotaPeriod } from './quota.ts';
import type { QuotaStore } from './quota-store.ts';

export type Admission =
  | { readonly admitted: true }
  | {
      readonly admitted: false;
      readonly reason: 'rate_limited';
      readonly retryAfterSeconds: number;
      readonly message: string;
    }
  | { readonly admitted: false; readonly reason: 'quota_exceeded'; readonly message: string };

export interface TenantLimiterOptions {
  readonly store?: QuotaStore;
  readonly logger?: Logger;
  /** How often changed quota counters are written (ms). */
  readonly persistIntervalMs?: number;
  readonly now?: () => number;
}

export class TenantLimiter {
  readonly policy: LimitPolicy;
  private readonly rates = new GcraRateLimiter();
  private readonly quotas = new QuotaCounters();
  private readonly store: QuotaStore | undefined;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly persistIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(policy: LimitPolicy, options: TenantLimiterOptions = {}) {
    this.policy = policy;
    this.store = policy.hasQuotas ? options.store : undefined;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.persistIntervalMs = options.persistIntervalMs ?? 1_000;
  }

  /** Loads saved quota counters and starts the persistence loop. */
  start(): void {
    if (this.store === undefined) return;
    const saved = this.store.load((message) =>
      this.logger?.error({ err: message }, 'cannot read saved quota counters; starting from zero'),
    );
    this.quotas.restore(saved, this.now());
    this.timer = setInterval(() => this.persist(), this.persistIntervalMs);
    this.timer.unref();
  }

  /** Charges `points` to `tenant`, or says why not (nothing is charged then). */
  admit(tenant: string, points: number): Admission {
    const limits = this.policy.for(tenant);
    const now = this.now();
    if (limits.rate !== undefined) {
      const rate = this.rates.take(tenant, limits.rate, points, now);
      if (!rate.allowed) {
        const retryAfterSeconds = Math.max(1, Math.ceil(rate.retryAfterMs / 1000));
        return {
          admitted: false,
          reason: 'rate_limited',
          retryAfterSeconds,
          message: `tenant ${JSON.stringify(tenant)} exceeded its rate limit of ${limits.rate.pointsPerSecond} data points/s (burst ${limits.rate.burst}); retry after ${retryAfterSeconds}s`,
        };
      }
    }
    if (limits.quota !== undefined) {
      const quota = this.quotas.take(tenant, limits.quota, points, now);
      if (!quota.allowed) {
        if (limits.rate !== undefined) this.rates.refund(tenant, limits.rate, points);
        return {
          admitted: false,
          reason: 'quota_exceeded',
          message: `tenant ${JSON.stringify(tenant)} exceeded its ${limits.quota.period} quota of ${limits.quota.points} data points (${quota.used} used; resets at ${new Date(quota.resetsAtMs).toISOString()})`,
        };
      }
    }
    return { admitted: true };
  }

  /** After the pipeline answered: gives back the admitted points it did not accept. */
  settle(tenant: string, admittedPoints: number, acceptedPoints: number): void {
    const unused = admittedPoints - acceptedPoints;
    if (unused <= 0) return;
    const limits = this.policy.for(tenant);
    if (limits.rate !== undefined) this.rates.refund(tenant, limits.rate, unused);
    if (limits.quota !== undefined) this.quotas.refund(tenant, unused);
  }

  /** The tenant's usage of its quota in the current period, if it has one. */
  quotaUsage(tenant: string): { used: number; points: number; period: QuotaPeriod } | undefined {
    const quota = this.policy.for(tenant).quota;
    if (quota === undefined) return undefined;
    return { used: this.quotas.used(tenant, quota, this.now()), points: quota.points, period: quota.period };
  }

  /** Writes the quota counters if they changed. */
  persist(): void {
    if (this.store === undefined) return;
    const snapshot = this.quotas.snapshot(this.now());
    if (!this.quotas.takeChanged()) return;
    try {
      this.store.save(snapshot);
    } catch (error) {
      this.logger?.error(
        { err: (error as Error).message, path: this.store.path },
        'cannot save quota counters',
      );
    }
  }

  /** Stops the loop and writes the counters one last time. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.persist();
  }
}
