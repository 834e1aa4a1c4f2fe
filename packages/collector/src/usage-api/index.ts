export { type CacheCounts, type CacheOutcome, SingleFlightCache } from './query-cache.ts';
export { ReadAccess, type ReadGrant } from './read-access.ts';
export {
  USAGE_LIMIT_VARIABLES,
  UsageAnswerTooLargeError,
  type UsageReadLimits,
  UsageReadsBusyError,
  type UsageRefusal,
  usageReadLimits,
} from './read-limits.ts';
export { formatTime, parseQueryTime } from './time-format.ts';
export { UsageApi, type UsageApiOptions, type UsageReaderSource } from './usage-api.ts';
export {
  cacheKey,
  MAX_BUCKETS,
  parseUsagePath,
  parseUsageQuery,
  type UsageQuery,
  UsageQueryError,
  type UsageView,
} from './usage-query.ts';
