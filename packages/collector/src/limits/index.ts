export { GcraRateLimiter, gcraDecide, type RateDecision, type RateLimit } from './gcra.ts';
export { defaultBurst, type LimitDefaults, LimitPolicy, type TenantLimits } from './limit-policy.ts';
export {
  nextPeriodStart,
  periodStart,
  QUOTA_PERIODS,
  type Quota,
  QuotaCounters,
  type QuotaDecision,
  type QuotaPeriod,
  type QuotaUsage,
} from './quota.ts';
export { type LoadedQuotas, QuotaStore } from './quota-store.ts';
export {
  type Admission,
  MAX_RETRY_AFTER_SECONDS,
  TenantLimiter,
  type TenantLimiterOptions,
} from './tenant-limiter.ts';
