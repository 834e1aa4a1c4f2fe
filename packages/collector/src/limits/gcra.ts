/**
 * Generic cell rate algorithm per tenant, in data points. One number per tenant — the theoretical arrival time
 * (TAT) — so a decision is O(1). Emission interval `T = 1000 / rate` ms per point; tolerance `τ = burst · T`:
 * from rest a tenant may send `burst` points at once, then `rate` points per second.
 *
 * A request larger than the whole burst could never pass and would be retried forever, so it is admitted when
 * the tenant is fully rested and charged in full: the tenant then waits `points · T` before its next request.
 * The long-run rate holds either way.
 */

export interface RateLimit {
  /** Data points per second, > 0. */
  readonly pointsPerSecond: number;
  /** Points that may arrive at once after a rest, ≥ 1. */
  readonly burst: number;
}

export type RateDecision =
  | { readonly allowed: true; readonly tat: number }
  | { readonly allowed: false; readonly retryAfterMs: number };

/** The pure GCRA step: is `points` allowed at `nowMs` given the tenant's TAT (undefined = rested)? */
export function gcraDecide(
  limit: RateLimit,
  tat: number | undefined,
  points: number,
  nowMs: number,
): RateDecision {
  const interval = 1000 / limit.pointsPerSecond;
  const tolerance = limit.burst * interval;
  const base = tat === undefined || tat < nowMs ? nowMs : tat;
  const next = base + points * interval;
  if (next - nowMs <= tolerance) return { allowed: true, tat: next };
  // Oversized request (more than the whole burst): admitted only from rest.
  if (points > limit.burst) {
    if (base === nowMs) return { allowed: true, tat: next };
    return { allowed: false, retryAfterMs: base - nowMs };
  }
  return { allowed: false, retryAfterMs: next - nowMs - tolerance };
}

/**
 * The TATs of the tenants that are not rested. A rested tenant (TAT in the past) is the same as an absent one,
 * so entries are dropped as they come to rest: each call looks at the two oldest entries, drops them if rested
 * and otherwise moves them to the back, so the map sweeps itself at O(1) per call and stays bounded by the
 * tenants active within the last burst window.
 */
export class GcraRateLimiter {
  private readonly tats = new Map<string, number>();

  /** Charges `points` to `tenant` if the limit allows it. */
  take(tenant: string, limit: RateLimit, points: number, nowMs: number): RateDecision {
    this.evictRested(nowMs);
    const decision = gcraDecide(limit, this.tats.get(tenant), points, nowMs);
    if (decision.allowed) {
      // Re-inserted so the map stays ordered by last charge (oldest first).
      this.tats.delete(tenant);
      this.tats.set(tenant, decision.tat);
    }
    return decision;
  }

  /** Gives back points charged for a request that was not applied after all. */
  refund(tenant: string, limit: RateLimit, points: number): void {
    const tat = this.tats.get(tenant);
    if (tat !== undefined) this.tats.set(tenant, tat - points * (1000 / limit.pointsPerSecond));
  }

  /** Points `tenant` could send at `nowMs` without being refused: the burst less what is not yet paid back. */
  available(tenant: string, limit: RateLimit, nowMs: number): number {
    const tat = this.tats.get(tenant);
    if (tat === undefined || tat <= nowMs) return limit.burst;
    const owed = (tat - nowMs) / (1000 / limit.pointsPerSecond);
    return Math.max(0, Math.floor(limit.burst - owed));
  }

  /** Tenants currently tracked (for tests and stats). */
  get size(): number {
    return this.tats.size;
  }

  private evictRested(nowMs: number) {
    for (let looked = 0; looked < 2; looked++) {
      const oldest = this.tats.entries().next();
      if (oldest.done === true) return;
      const [tenant, tat] = oldest.value;
      this.tats.delete(tenant);
      if (tat > nowMs) this.tats.set(tenant, tat);
    }
  }
}
