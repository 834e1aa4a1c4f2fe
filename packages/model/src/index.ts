export {
  type CalendarPeriod,
  checkTimeZone,
  localDate,
  localDayBoundaries,
  localDayNumber,
  parsePeriod,
  startOfLocalDay,
  startOfLocalHour,
  startOfLocalMonth,
  startOfNextLocalDay,
  startOfNextLocalMonth,
  timeZoneProblem,
  UTC,
} from './calendar.ts';
export {
  canonicalAttributes,
  canonicalJson,
  canonicalValue,
  decodeAttributes,
  decodeValue,
  encodeAttributes,
  encodeAttributesWith,
  encodeValue,
} from './canonical-attributes.ts';
export { fsyncDirectory, writeAll, writeFileDurably } from './durable-file.ts';
export { ConfigError, InvalidTenantError, TallyhouseError } from './errors.ts';
export { mergeExemplars, mostRecentExemplars } from './exemplars.ts';
export { nonFiniteField } from './finite-values.ts';
export { consoleLogger, type Logger, silentLogger } from './logger.ts';
export { fromLosslessJson, toLosslessJson } from './lossless-json.ts';
export {
  type Env,
  envValue,
  type IntegerBounds,
  MAX_TIMER_MS,
  readBoolean,
  readChoice,
  readDurationMs,
  readInteger,
  readList,
  readOptionalInteger,
  readOptionalPositiveNumber,
  readText,
  requireName,
} from './options.ts';
export {
  bucketShapeProblem,
  INT32_MAX,
  INT32_MIN,
  MAX_BUCKETED_TIME_UNIX_NANO,
  MAX_STORABLE_TIME_UNIX_NANO,
  type PointProblem,
  type PointProblemCode,
  pointProblem,
  timeProblem,
} from './point-rules.ts';
export * from './series.ts';
export { settledWithin } from './settled-within.ts';
export { Slicer } from './slicer.ts';
export type { StreamMark, StreamMarks } from './stream-marks.ts';
export {
  DEFAULT_TENANT_ATTRIBUTE,
  isValidTenant,
  MAX_TENANT_LENGTH,
  tenantProblem,
  validateTenant,
} from './tenant.ts';
