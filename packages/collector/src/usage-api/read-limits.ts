/** The bounds of usage reads, the variables that set them, and the errors of a read refused by one. */
import type { UsageReaderOptions } from '@tallyhouse/exporter-clickhouse';
import type { CollectorSettings } from '../config.ts';

/** Bounds of usage reads (TALLYHOUSE_USAGE_*; defaults and reasons in the collector README). */
export interface UsageReadLimits {
  /** Lines × buckets of a time series answer, zero-filled. */
  readonly maxPoints: number;
  /** Rows one storage statement may return: also the most lines of a time series and the largest top `limit`. */
  readonly maxRows: number;
  /** Bytes of an answer (its JSON), and of what one storage statement may return. */
  readonly maxBytes: number;
  /** Time of one read, every statement of it and the wait for the engine included. */
  readonly queryTimeoutMs: number;
  /** Engine memory of one statement. */
  readonly queryMemoryBytes: number;
  /** Reads running at once (cache hits and requests sharing a running read do not count). */
  readonly maxConcurrent: number;
}

/** The variable that sets each limit, for messages. */
export const USAGE_LIMIT_VARIABLES = {
  maxPoints: 'TALLYHOUSE_USAGE_MAX_POINTS',
  maxRows: 'TALLYHOUSE_USAGE_MAX_ROWS',
  maxBytes: 'TALLYHOUSE_USAGE_MAX_BYTES',
  timeoutMs: 'TALLYHOUSE_USAGE_QUERY_TIMEOUT_MS',
  maxMemoryBytes: 'TALLYHOUSE_USAGE_QUERY_MEMORY_MIB',
  maxConcurrent: 'TALLYHOUSE_USAGE_MAX_CONCURRENT',
} as const;

export type UsageRefusal = 'too_large' | 'timeout' | 'busy';

/** The collector's usage read limits from its settings. */
export function usageReadLimits(
  settings: Pick<
    CollectorSettings,
    | 'usageMaxPoints'
    | 'usageMaxRows'
    | 'usageMaxBytes'
    | 'usageQueryTimeoutMs'
    | 'usageQueryMemoryMib'
    | 'usageMaxConcurrent'
  >,
): UsageReadLimits {
  return {
    maxPoints: settings.usageMaxPoints,
    maxRows: settings.usageMaxRows,
    maxBytes: settings.usageMaxBytes,
    queryTimeoutMs: settings.usageQueryTimeoutMs,
    queryMemoryBytes: settings.usageQueryMemoryMib * 1024 * 1024,
    maxConcurrent: settings.usageMaxConcurrent,
  };
}

/** Past TALLYHOUSE_USAGE_MAX_CONCURRENT: 503 + Retry-After. */
export class UsageReadsBusyError extends Error {
  readonly code = 'USAGE_READS_BUSY';
}

/** An answer past TALLYHOUSE_USAGE_MAX_BYTES while being serialised: 400. */
export class UsageAnswerTooLargeError extends RangeError {
  readonly code = 'USAGE_ANSWER_TOO_LARGE';
}

/** The limits as the exporter's `UsageReader` takes them, naming the collector's variables in its messages. */
export function readerLimits(limits: UsageReadLimits): NonNullable<UsageReaderOptions['limits']> {
  return {
    maxPoints: limits.maxPoints,
    maxRows: limits.maxRows,
    maxBytes: limits.maxBytes,
    timeoutMs: limits.queryTimeoutMs,
    maxMemoryBytes: limits.queryMemoryBytes,
    names: USAGE_LIMIT_VARIABLES,
  };
}
