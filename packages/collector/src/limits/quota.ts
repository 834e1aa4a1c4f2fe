/**
 * Data-point quotas per calendar period — hour, day or month — in the tenant's time zone (UTC unless its limits
 * name one): a customer in New York is counted on New York days, 23 or 25 hours long across DST changes. A
 * tenant's counter belongs to one period (its start, Unix ms) and restarts at zero when a request arrives in a
 * later period. Counted: points accepted into the buffer (a request's valid points, less any the processor then
 * rejected).
 */
import {
  startOfLocalDay,
  startOfLocalHour,
  startOfLocalMonth,
  startOfNextLocalDay,
  startOfNextLocalMonth,
  UTC,
} from '@tallyhouse/model';

export type QuotaPeriod = 'hour' | 'day' | 'month';

export const QUOTA_PERIODS: readonly QuotaPeriod[] = ['hour', 'day', 'month'];

export interface Quota {
  /** Data points per period, ≥ 1. */
  readonly points: number;
  readonly period: QuotaPeriod;
  /** IANA time zone whose calendar the periods follow. */
  readonly timeZone: string;
}

/** The time zone of a tenant's quota periods (UTC when it has none). */
export type ZoneOf = (tenant: string) => string;

/** Start (Unix ms) of the period holding `nowMs` in `zone`. */
export function periodStart(period: QuotaPeriod, nowMs: number, zone: string = UTC): number {
  if (zone !== UTC) {
    if (period === 'hour') return startOfLocalHour(nowMs, zone);
    return period === 'day' ? startOfLocalDay(nowMs, zone) : startOfLocalMonth(nowMs, zone);
  }
  const d = new Date(nowMs);
  switch (period) {
    case 'hour':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

/** Start (Unix ms) of the period after the one holding `nowMs` in `zone`. */
export function nextPeriodStart(period: QuotaPeriod, nowMs: number, zone: string = UTC): number {
  if (zone !== UTC) {
    if (period === 'hour') return startOfLocalHour(nowMs, zone) + 3_600_000;
    return period === 'day' ? startOfNextLocalDay(nowMs, zone) : startOfNextLocalMonth(nowMs, zone);
  }
  const d = new Date(periodStart(period, nowMs));
  switch (period) {
    case 'hour':
      return d.getTime() + 3_600_000;
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
}

/** One tenant's usage in one period. */
export interface QuotaUsage {
  readonly period: QuotaPeriod;
  readonly periodStartMs: number;
  readonly used: number;
}

export type QuotaDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly used: number; readonly resetsAtMs: number };

/**
 * Counters of the current period, per tenant that has a quota. Keyed by a `Map`: tenant names are user data, and
 * on a plain object `__proto__` or `constructor` would not be ordinary keys. The tenants changed since the last
 * `takeChanged()` are tracked, so persisting costs what changed, not what exists.
 */
export class QuotaCounters {
  // Entries are replaced, never mutated: an entry read earlier is a consistent value of that moment.
  private readonly usage = new Map<string, QuotaUsage>();
  private readonly changed = new Set<string>();
  private readonly zoneOf: ZoneOf;

  /** `zoneOf`: each tenant's quota time zone, by which a kept counter's period is known to be over. */
  constructor(zoneOf: ZoneOf = () => UTC) {
    this.zoneOf = zoneOf;
  }

  /**
   * Charges `points` unless that would take the tenant past its quota (then nothing is charged). `elsewhere` is
   * what other collectors counted for the tenant in this period: it counts toward the quota, this counter holds
   * only what this collector admitted.
   */
  take(tenant: string, quota: Quota, points: number, nowMs: number, elsewhere = 0): QuotaDecision {
    const start = periodStart(quota.period, nowMs, quota.timeZone);
    const current = this.usage.get(tenant);
    const used =
      current !== undefined && current.period === quota.period && current.periodStartMs === start
        ? current.used
        : 0;
    if (used + elsewhere + points > quota.points) {
      return {
        allowed: false,
        used: used + elsewhere,
        resetsAtMs: nextPeriodStart(quota.period, nowMs, quota.timeZone),
      };
    }
    if (points > 0 || current === undefined) {
      this.usage.set(tenant, { period: quota.period, periodStartMs: start, used: used + points });
      this.changed.add(tenant);
    }
    return { allowed: true };
  }

  /** Gives back points charged for a request that was not (or not entirely) applied. */
  refund(tenant: string, points: number): void {
    const current = this.usage.get(tenant);
    if (current === undefined || points <= 0) return;
    this.usage.set(tenant, { ...current, used: Math.max(0, current.used - points) });
    this.changed.add(tenant);
  }

  /** The tenant's usage in the current period (0 when none recorded). */
  used(tenant: string, quota: Quota, nowMs: number): number {
    const current = this.usage.get(tenant);
    return current !== undefined &&
      current.period === quota.period &&
      current.periodStartMs === periodStart(quota.period, nowMs, quota.timeZone)
      ? current.used
      : 0;
  }

  /**
   * Every current entry, for a full rewrite; entries of periods that are over are dropped on the way. Lazy and
   * live (a `Map` iterator), so a rewrite can walk it in slices between which requests are served.
   */
  *current(nowMs: number): Generator<[string, QuotaUsage]> {
    for (const [tenant, entry] of this.usage) {
      if (!this.running(tenant, entry, nowMs)) this.usage.delete(tenant);
      else yield [tenant, entry];
    }
  }

  /**
   * Raises counters to what this collector's shared counters say (a crash may have lost the local cache's last
   * lines, or the whole data dir but its identity); never lowers one. Entries of a period that is over are ignored.
   */
  raiseTo(entries: Iterable<readonly [string, QuotaUsage]>, nowMs: number): void {
    for (const [tenant, entry] of entries) {
      if (!this.running(tenant, entry, nowMs)) continue;
      const current = this.usage.get(tenant);
      const same =
        current !== undefined &&
        current.period === entry.period &&
        current.periodStartMs === entry.periodStartMs;
      if (!same || current.used < entry.used) {
        this.usage.set(tenant, entry);
        this.changed.add(tenant);
      }
    }
  }

  /** Loads persisted usage; entries of a period that is over are ignored. */
  restore(entries: Iterable<readonly [string, QuotaUsage]>, nowMs: number): void {
    for (const [tenant, entry] of entries) {
      if (this.running(tenant, entry, nowMs)) this.usage.set(tenant, entry);
    }
  }

  /** The entries of the tenants changed since the last call (O(changed)); they count as unchanged from now. */
  takeChanged(): [string, QuotaUsage][] {
    const out: [string, QuotaUsage][] = [];
    for (const tenant of this.changed) {
      const entry = this.usage.get(tenant);
      if (entry !== undefined) out.push([tenant, entry]);
    }
    this.changed.clear();
    return out;
  }

  /** Marks tenants changed again (their write failed). */
  markChanged(tenants: Iterable<string>): void {
    for (const tenant of tenants) if (this.usage.has(tenant)) this.changed.add(tenant);
  }

  /** The entry's period is the one running now (in the tenant's zone). */
  private running(tenant: string, entry: QuotaUsage, nowMs: number): boolean {
    return entry.periodStartMs === periodStart(entry.period, nowMs, this.zoneOf(tenant));
  }

  /** Tenants with a counter (tests and stats). */
  get size(): number {
    return this.usage.size;
  }
}
