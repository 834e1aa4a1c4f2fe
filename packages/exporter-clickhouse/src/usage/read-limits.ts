/**
 * Bounds on one usage read, so that no query — whatever the tenant's data — makes the process compute, hold or
 * answer without limit:
 *
 * - `maxPoints`: lines × buckets of a time series *as answered* (zero-filled). Checked before the big query: the
 *   buckets follow from range and step, the lines are counted first by a `SELECT DISTINCT … LIMIT n + 1` that
 *   stops at the first value too many.
 * - `maxRows`: rows any one statement may return (the engine's `max_result_rows`, `result_overflow_mode = 'throw'`),
 *   so also the most lines of a time series and the largest top-N `limit`.
 * - `maxBytes`: bytes any one statement may return (`max_result_bytes`) — long attribute values make few rows big.
 * - `timeoutMs`: the whole read (every statement of it, and the wait for the engine) — `max_execution_time` of each
 *   statement is what is left of it when the statement is sent, and a statement still waiting for the engine when
 *   the read's time is up is withdrawn before it starts.
 * - `maxMemoryBytes`: the engine's `max_memory_usage` of each statement.
 *
 * The settings go into each statement's own `SETTINGS` clause: query-scoped on a server and in chDB alike (chDB turns
 * client-side settings into session-wide `SET`s, which would leak into the exporter's inserts).
 */

export interface ReadLimits {
  readonly maxPoints: number;
  readonly maxRows: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly maxMemoryBytes: number;
  /** How messages name each limit (the collector: its environment variables). Default: the option's name. */
  readonly names?: Readonly<Partial<Record<ReadLimitName, string>>>;
}

export type ReadLimitName = 'maxPoints' | 'maxRows' | 'maxBytes' | 'timeoutMs' | 'maxMemoryBytes';

/** The collector's defaults too (its README explains each). */
export const DEFAULT_READ_LIMITS: ReadLimits = Object.freeze({
  maxPoints: 200_000,
  maxRows: 10_000,
  maxBytes: 32 * 1024 * 1024,
  timeoutMs: 10_000,
  maxMemoryBytes: 1024 * 1024 * 1024,
});

/** A read that would pass one of its size limits: refused (the collector answers 400). */
export class ReadLimitError extends RangeError {
  readonly code = 'USAGE_READ_LIMIT';
  readonly limit: Exclude<ReadLimitName, 'timeoutMs'>;
  readonly max: number;

  constructor(
    limit: Exclude<ReadLimitName, 'timeoutMs'>,
    max: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ReadLimitError';
    this.limit = limit;
    this.max = max;
  }
}

/** A read that ran out of its time (the collector answers 503 + Retry-After). */
export class ReadTimeoutError extends Error {
  readonly code = 'USAGE_READ_TIMEOUT';
  readonly timeoutMs: number;

  constructor(timeoutMs: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReadTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

function limitName(limits: ReadLimits, limit: ReadLimitName): string {
  return limits.names?.[limit] ?? limit;
}

/** `name = value`, as messages show a limit. */
export function showLimit(limits: ReadLimits, limit: ReadLimitName): string {
  return `${limitName(limits, limit)}=${limits[limit]}`;
}

/** Merges partial limits over a base, refusing values that are not positive safe integers (naming them). */
export function resolveReadLimits(base: ReadLimits, overrides: Partial<ReadLimits> | undefined): ReadLimits {
  if (overrides === undefined) return base;
  const merged: ReadLimits = { ...base, ...stripUndefined(overrides) };
  for (const key of ['maxPoints', 'maxRows', 'maxBytes', 'timeoutMs', 'maxMemoryBytes'] as const) {
    const value = merged[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`read limit ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  return merged;
}

function stripUndefined(value: Partial<ReadLimits>): Partial<ReadLimits> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<ReadLimits>;
}

/** The statement-scoped engine settings of a limited read with `remainingMs` left. */
export function limitSettings(limits: ReadLimits, remainingMs: number): string {
  // Seconds with millisecond precision (ClickHouse takes fractional seconds); never 0, which means "no limit".
  const seconds = (Math.max(1, Math.ceil(remainingMs)) / 1000).toFixed(3);
  return [
    `max_execution_time = ${seconds}`,
    "timeout_overflow_mode = 'throw'",
    // One more row than the limit: a statement bounded with LIMIT n + 1 shows the caller that n was passed.
    `max_result_rows = ${limits.maxRows + 1}`,
    `max_result_bytes = ${limits.maxBytes}`,
    "result_overflow_mode = 'throw'",
    `max_memory_usage = ${limits.maxMemoryBytes}`,
  ].join(', ');
}

/** A streamed statement's SETTINGS: its time and memory bounded, its answer as long as it is. */
export function streamSettings(limits: ReadLimits, remainingMs: number): string {
  const seconds = (Math.max(1, Math.ceil(remainingMs)) / 1000).toFixed(3);
  return [
    `max_execution_time = ${seconds}`,
    "timeout_overflow_mode = 'throw'",
    `max_memory_usage = ${limits.maxMemoryBytes}`,
  ].join(', ');
}

const NARROW = 'narrow the query: a shorter range, a larger step, a filter (attributes, service)';

/**
 * The engine's refusal of a statement as a read-limit error, or undefined when it is another failure. Matches on
 * the ClickHouse error code or name, as both backends report them (`ClickHouseError.code` is the number as text).
 */
export function mapEngineLimit(error: unknown, limits: ReadLimits): Error | undefined {
  const { code, type, message } = (error ?? {}) as { code?: unknown; type?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  const is = (number: string, name: string) =>
    code === number || type === name || new RegExp(`\\b${name}\\b|Code: ${number}\\b`).test(text);
  if (is('159', 'TIMEOUT_EXCEEDED')) return timeoutError(limits, error);
  if (is('396', 'TOO_MANY_ROWS_OR_BYTES')) {
    const bytes = /max bytes/i.test(text);
    const limit = bytes ? 'maxBytes' : 'maxRows';
    return new ReadLimitError(
      limit,
      limits[limit],
      `the answer would hold more than ${showLimit(limits, limit)} ${bytes ? 'bytes' : 'rows'}; ${NARROW}`,
      { cause: error },
    );
  }
  // Only the statement's own limit: the process-wide one ("(total)") is not something the query can narrow.
  if (is('241', 'MEMORY_LIMIT_EXCEEDED') && /query memory limit|memory limit \(for query\)/i.test(text)) {
    return new ReadLimitError(
      'maxMemoryBytes',
      limits.maxMemoryBytes,
      `the read needs more than ${showLimit(limits, 'maxMemoryBytes')} bytes of engine memory; ${NARROW}`,
      { cause: error },
    );
  }
  return undefined;
}

export function timeoutError(limits: ReadLimits, cause?: unknown): ReadTimeoutError {
  return new ReadTimeoutError(
    limits.timeoutMs,
    `the read took longer than ${showLimit(limits, 'timeoutMs')} ms; ${NARROW}, or retry later ` +
      '(other reads may have held the engine)',
    cause === undefined ? undefined : { cause },
  );
}
