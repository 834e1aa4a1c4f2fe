/**
 * The edge limits of one collector process: a GCRA rate limit and a data-point quota per tenant. `admit` decides
 * before anything of a request is logged or applied, and charges both limits only when both allow it; `settle`
 * gives back what the pipeline did not take (points it rejected, or the whole request when it pushed back).
 *
 * Rate limits are this process's own (exact under tenant affinity). Quotas count what this process admitted —
 * kept in `<dataDir>/limits/` as a cache — plus, when shared, what the other collectors on the store counted
 * (shared-quota-usage.ts); every sync interval the changed counters are saved and the others' re-read.
 */

import { MAX_TIMER_MS } from '@tallyhouse/model';
import type { Logger } from 'pino';
import { GcraRateLimiter } from './gcra.ts';
import type { LimitPolicy } from './limit-policy.ts';
import { nextPeriodStart, periodStart, QuotaCounters, type QuotaPeriod } from './quota.ts';
import type { QuotaStore } from './quota-store.ts';
import type { SharedQuotaUsage } from './shared-quota-usage.ts';

/** A tenant's rate limit and the points it could send at once right now. */
export interface RateStatus {
  readonly pointsPerSecond: number;
  readonly burst: number;
  readonly available: number;
}

/** A tenant's quota and how much of it is used in the running period. */
export interface QuotaStatus {
  readonly used: number;
  readonly points: number;
  readonly period: QuotaPeriod;
  readonly timeZone: string;
  readonly periodStartMs: number;
  readonly resetsAtMs: number;
}

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
  /** Quota counters shared with the other collectors on the store. */
  readonly shared?: SharedQuotaUsage;
  readonly logger?: Logger;
  /** How often changed quota counters are written, and the shared ones read (ms). */
  readonly persistIntervalMs?: number;
  readonly now?: () => number;
}

export class TenantLimiter {
  readonly policy: LimitPolicy;
  private readonly rates = new GcraRateLimiter();
  private readonly quotas: QuotaCounters;
  private readonly store: QuotaStore | undefined;
  private readonly shared: SharedQuotaUsage | undefined;
  /** The shared counters failed last time: logged once per outage, not every interval. */
  private sharedFailing = false;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly persistIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private persisting: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private stopping = false;

  constructor(policy: LimitPolicy, options: TenantLimiterOptions = {}) {
    this.policy = policy;
    this.quotas = new QuotaCounters((tenant) => policy.quotaZone(tenant));
    this.store = policy.hasQuotas ? options.store : undefined;
    this.shared = policy.hasQuotas ? options.shared : undefined;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.persistIntervalMs = options.persistIntervalMs ?? 1_000;
  }

  /**
   * Loads saved quota counters, rewrites them as one snapshot (synchronously: requests are not served yet) and
   * starts the persistence loop.
   */
  start(): void {
    if (this.store !== undefined) this.loadSaved(this.store);
    if (this.store === undefined && this.shared === undefined) return;
    this.timer = setInterval(() => {
      this.persist().catch((error: unknown) => {
        this.logger?.error({ err: (error as Error).message }, 'cannot save quota counters');
      });
    }, this.persistIntervalMs);
    this.timer.unref();
  }

  /**
   * Reads the shared counters once before requests are served, so a tenant's first request here already counts
   * what other collectors admitted this period. Storage unreachable: the quotas start from the local cache, and
   * every sync interval tries again.
   */
  async loadShared(): Promise<void> {
    if (this.shared !== undefined) await this.refreshShared(this.shared);
  }

  private loadSaved(store: QuotaStore): void {
    const saved = store.load();
    for (const problem of saved.problems) {
      this.logger?.error(
        { err: problem },
        'saved quota counters partly unreadable; what could be read is kept',
      );
    }
    this.quotas.restore(saved.usage, this.now());
    try {
      store.rewriteSync(this.quotas.current(this.now()));
    } catch (error) {
      this.logger?.error(
        { err: (error as Error).message, dir: store.dir },
        'cannot rewrite saved quota counters; changes are still journaled',
      );
    }
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
      const elsewhere = this.shared?.usedElsewhere(tenant, limits.quota.period, now) ?? 0;
      const quota = this.quotas.take(tenant, limits.quota, points, now, elsewhere);
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

  /** The tenant's rate limit and how many points it could send right now, if it has one (this collector's). */
  rateStatus(tenant: string): RateStatus | undefined {
    const rate = this.policy.for(tenant).rate;
    if (rate === undefined) return undefined;
    return { ...rate, available: this.rates.available(tenant, rate, this.now()) };
  }

  /**
   * The tenant's usage of its quota in the current period, if it has one: what this collector admitted plus,
   * when shared, what the others counted as of the last sync.
   */
  quotaUsage(tenant: string): QuotaStatus | undefined {
    const quota = this.policy.for(tenant).quota;
    if (quota === undefined) return undefined;
    const now = this.now();
    const used =
      this.quotas.used(tenant, quota, now) + (this.shared?.usedElsewhere(tenant, quota.period, now) ?? 0);
    return {
      used,
      points: quota.points,
      period: quota.period,
      timeZone: quota.timeZone,
      periodStartMs: periodStart(quota.period, now, quota.timeZone),
      resetsAtMs: nextPeriodStart(quota.period, now, quota.timeZone),
    };
  }

  /**
   * Journals the counters of the tenants changed since the last call — work on the event loop in proportion to
   * them, the writing off it — and now and then starts a background rewrite. One at a time: a tick that finds
   * the previous one still writing waits for it, and what changed meanwhile goes in the next.
   */
  persist(): Promise<void> {
    if (this.store === undefined && this.shared === undefined) return Promise.resolve();
    this.persisting ??= this.saveChanged().finally(() => {
      this.persisting = undefined;
    });
    return this.persisting;
  }

  /** Stops the loop, journals the last changes and closes the files (a background rewrite is abandoned). */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.store === undefined && this.shared === undefined) return;
    this.stopping = true;
    await this.persisting;
    await this.persist();
    await this.store?.close();
    await this.compacting;
  }

  private async saveChanged(): Promise<void> {
    const store = this.store;
    const changed = this.quotas.takeChanged();
    if (changed.length > 0) {
      let saved = true;
      if (store !== undefined) {
        try {
          await store.append(changed);
        } catch (error) {
          saved = false;
          this.logger?.error(
            { err: (error as Error).message, dir: store.dir },
            'cannot save quota counters; retrying next interval',
          );
        }
      }
      if (this.shared !== undefined) {
        try {
          await this.shared.write(changed);
        } catch (error) {
          saved = false;
          this.sharedFailed(error);
        }
      }
      // Whole counters, not increments: writing one again next interval is harmless.
      if (!saved) this.quotas.markChanged(changed.map(([tenant]) => tenant));
    }
    if (this.shared !== undefined && !this.stopping) await this.refreshShared(this.shared);
    if (store === undefined) return;
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

  private async refreshShared(shared: SharedQuotaUsage): Promise<void> {
    const now = this.now();
    try {
      const own = await shared.refresh(now);
      this.quotas.raiseTo(
        own.map((row) => [
          row.tenant,
          { period: row.period, periodStartMs: row.periodStartMs, used: row.used },
        ]),
        now,
      );
      if (this.sharedFailing) this.logger?.info('shared quota counters reachable again');
      this.sharedFailing = false;
    } catch (error) {
      this.sharedFailed(error);
    }
  }

  private sharedFailed(error: unknown) {
    if (!this.sharedFailing)
      this.logger?.warn(
        { err: (error as Error).message },
        'shared quota counters unavailable: quotas count what this collector admitted plus what it last read; retrying every interval',
      );
    this.sharedFailing = true;
  }
}
