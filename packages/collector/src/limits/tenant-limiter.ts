/**
 * The edge limits of one collector process: a GCRA rate limit and a data-point quota per tenant. `admit` decides
 * before anything of a request is logged or applied, and charges both limits only when both allow it; `settle`
 * gives back what the pipeline did not take (points it rejected, or the whole request when it pushed back).
 */

import { MAX_TIMER_MS } from '@tallyhouse/model';
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

/**
 * Largest Retry-After (seconds) the collector sends: clients (the OpenTelemetry SDK exporters among them) wait
 * it out with a timer, and a longer wait would fire after 1 ms — a retry storm instead of a back-off.
 */
export const MAX_RETRY_AFTER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

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
  private persisting: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private stopping = false;

  constructor(policy: LimitPolicy, options: TenantLimiterOptions = {}) {
    this.policy = policy;
    this.store = policy.hasQuotas ? options.store : undefined;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.persistIntervalMs = options.persistIntervalMs ?? 1_000;
  }

  /**
   * Loads saved quota counters, rewrites them as one snapshot (synchronously: requests are not served yet) and
   * starts the persistence loop.
   */
  start(): void {
    if (this.store === undefined) return;
    const saved = this.store.load();
    for (const problem of saved.problems) {
      this.logger?.error(
        { err: problem },
        'saved quota counters partly unreadable; what could be read is kept',
      );
    }
    this.quotas.restore(saved.usage, this.now());
    try {
      this.store.rewriteSync(this.quotas.current(this.now()));
    } catch (error) {
      this.logger?.error(
        { err: (error as Error).message, dir: this.store.dir },
        'cannot rewrite saved quota counters; changes are still journaled',
      );
    }
    this.timer = setInterval(() => {
      this.persist().catch((error: unknown) => {
        this.logger?.error({ err: (error as Error).message }, 'cannot save quota counters');
      });
    }, this.persistIntervalMs);
    this.timer.unref();
  }

  /** Charges `points` to `tenant`, or says why not (nothing is charged then). */
  admit(tenant: string, points: number): Admission {
    const limits = this.policy.for(tenant);
    const now = this.now();
    if (limits.rate !== undefined) {
      const rate = this.rates.take(tenant, limits.rate, points, now);
      if (!rate.allowed) {
        // Bounded: a tiny rate and a large request could ask for longer than clients' timers can wait.
        const retryAfterSeconds = Math.min(
          MAX_RETRY_AFTER_SECONDS,
          Math.max(1, Math.ceil(rate.retryAfterMs / 1000)),
        );
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

  /**
   * Journals the counters of the tenants changed since the last call — work on the event loop in proportion to
   * them, the writing off it — and now and then starts a background rewrite. One at a time: a tick that finds
   * the previous one still writing waits for it, and what changed meanwhile goes in the next.
   */
  persist(): Promise<void> {
    if (this.store === undefined) return Promise.resolve();
    this.persisting ??= this.journalChanged(this.store).finally(() => {
      this.persisting = undefined;
    });
    return this.persisting;
  }

  /** Stops the loop, journals the last changes and closes the files (a background rewrite is abandoned). */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.store === undefined) return;
    this.stopping = true;
    await this.persisting;
    await this.persist();
    await this.store.close();
    await this.compacting;
  }

  private async journalChanged(store: QuotaStore): Promise<void> {
    const changed = this.quotas.takeChanged();
    if (changed.length > 0) {
      try {
        await store.append(changed);
      } catch (error) {
        this.quotas.markChanged(changed.map(([tenant]) => tenant));
        this.logger?.error(
          { err: (error as Error).message, dir: store.dir },
          'cannot save quota counters; retrying next interval',
        );
      }
    }
    if (this.compacting === undefined && !this.stopping && store.shouldCompact) {
      this.compacting = store
        .compact(this.quotas.current(this.now()))
        .catch((error: unknown) => {
          this.logger?.error(
            { err: (error as Error).message, dir: store.dir },
            'cannot rewrite saved quota counters; changes are still journaled',
          );
        })
        .finally(() => {
          this.compacting = undefined;
        });
    }
  }
}
