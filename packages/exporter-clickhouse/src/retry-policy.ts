/**
 * Which insert failures are retried and which are permanent, and how long to wait between attempts.
 *
 * The rule: an error about the *environment* (network, load, timeouts, replication, credentials, a table that
 * schema creation will bring back) is retryable — the data is fine and will be written later. An error about
 * the *data or the statement* (cannot parse, type mismatch, incorrect data, unknown table/column that nobody
 * will create) is permanent: retrying cannot succeed, so the rows go to the dead letters. Anything
 * unrecognised is retried: holding data (bounded, with push-back upstream) is always safer than dropping it.
 */

export type FailureKind = 'retryable' | 'permanent';

export interface FailureClassification {
  readonly kind: FailureKind;
  /** A stable short name: the ClickHouse error name, the Node error code, `HTTP_503`, … */
  readonly code: string;
  readonly reason: string;
}

export interface ClassificationContext {
  /** With schema creation on, a missing table is recreated and the insert retried. */
  readonly createSchema: boolean;
}

/** ClickHouse errors that say "not now": load, limits, timeouts, replication and coordination trouble. */
const RETRYABLE_CLICKHOUSE = new Set([
  'TIMEOUT_EXCEEDED', // 159
  'TOO_SLOW', // 160
  'READONLY', // 164: user or server temporarily read-only
  'CANNOT_ALLOCATE_MEMORY', // 173
  'TOO_MANY_SIMULTANEOUS_QUERIES', // 202
  'NO_FREE_CONNECTION', // 203
  'SOCKET_TIMEOUT', // 209
  'NETWORK_ERROR', // 210
  'NO_ZOOKEEPER', // 225
  'ABORTED', // 236
  'MEMORY_LIMIT_EXCEEDED', // 241
  'TABLE_IS_READ_ONLY', // 242
  'UNEXPECTED_ZOOKEEPER_ERROR', // 244
  'TOO_MANY_PARTS', // 252
  'NO_ACTIVE_REPLICAS', // 254
  'NO_AVAILABLE_REPLICA', // 265
  'ALL_CONNECTION_TRIES_FAILED', // 279
  'TOO_FEW_LIVE_REPLICAS', // 285
  'REPLICA_IS_NOT_IN_QUORUM', // 289
  'UNKNOWN_STATUS_OF_INSERT', // 319: may or may not be applied — the dedup token makes the retry safe
  'ALL_REPLICAS_ARE_STALE', // 369
  'QUERY_WAS_CANCELLED', // 394
  'SYSTEM_ERROR', // 425
  'CANNOT_SCHEDULE_TASK', // 439
  'DEADLOCK_AVOIDED', // 473
  'ACCESS_DENIED', // 497: a grant can be fixed without touching the data
  'AUTHENTICATION_FAILED', // 516
  'UNKNOWN_USER', // 192
  'TABLE_IS_BEING_RESTARTED', // 733
  'QUERY_WAS_CANCELLED_BY_CLIENT', // 735
  'SERVER_OVERLOADED', // 745
  'TCP_CONNECTION_LIMIT_REACHED', // 749
  'HTTP_CONNECTION_LIMIT_REACHED', // 762
  'RESOURCE_LIMIT_EXCEEDED', // 776
  'KEEPER_EXCEPTION', // 999
  'POCO_EXCEPTION', // 1000
]);

/** ClickHouse errors that say "this data or statement can never be accepted". */
const PERMANENT_CLICKHOUSE = new Set([
  'CANNOT_PARSE_TEXT', // 6
  'THERE_IS_NO_COLUMN', // 8
  'NO_SUCH_COLUMN_IN_TABLE', // 16
  'CANNOT_PARSE_ESCAPE_SEQUENCE', // 25
  'CANNOT_PARSE_QUOTED_STRING', // 26
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED', // 27
  'BAD_ARGUMENTS', // 36
  'CANNOT_PARSE_DATE', // 38
  'CANNOT_PARSE_DATETIME', // 41
  'ILLEGAL_TYPE_OF_ARGUMENT', // 43
  'UNKNOWN_IDENTIFIER', // 47
  'TYPE_MISMATCH', // 53
  'SYNTAX_ERROR', // 62
  'ARGUMENT_OUT_OF_BOUND', // 69
  'CANNOT_CONVERT_TYPE', // 70
  'CANNOT_PARSE_NUMBER', // 72
  'UNKNOWN_FORMAT', // 73
  'INCORRECT_DATA', // 117
  'TOO_LARGE_STRING_SIZE', // 131
  'CANNOT_PARSE_BOOL', // 467
  'DECIMAL_OVERFLOW', // 407
  'CANNOT_SKIP_UNKNOWN_FIELD', // 626
  'UNEXPECTED_DATA_AFTER_PARSED_VALUE', // 632
  'UNKNOWN_SETTING', // 115
]);

/** Missing storage objects: retried (and recreated) when the exporter manages the schema, else permanent. */
const MISSING_STORAGE = new Set(['UNKNOWN_TABLE', 'UNKNOWN_DATABASE']); // 60, 81

/** Node/undici socket and DNS errors: the request did not (certainly) reach ClickHouse. */
const RETRYABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'CHDB_TIMEOUT',
  'CHDB_CONNECTION',
]);

const RETRYABLE_HTTP_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
/** Statuses that mean the request itself is wrong. */
const PERMANENT_HTTP_STATUS = new Set([400, 404, 405, 411, 413, 414, 415, 422, 431]);

/** Bodies of non-ClickHouse error responses (proxies, load balancers) carry the status text, not a code. */
const HTTP_STATUS_TEXT: ReadonlyArray<[RegExp, number]> = [
  [/\b502\b|bad gateway/i, 502],
  [/\b503\b|service unavailable/i, 503],
  [/\b504\b|gateway time-?out/i, 504],
  [/\b429\b|too many requests/i, 429],
  [/\b500\b|internal server error/i, 500],
];

export function classifyFailure(error: unknown, context: ClassificationContext): FailureClassification {
  const err = error as
    | {
        code?: unknown;
        type?: unknown;
        message?: unknown;
        status?: unknown;
        statusCode?: unknown;
        clickhouseCode?: unknown;
        cause?: unknown;
      }
    | null
    | undefined;
  if (err === null || err === undefined || typeof err !== 'object') {
    return { kind: 'retryable', code: 'UNKNOWN', reason: `unrecognised failure ${String(error)}; retried` };
  }
  const message = typeof err.message === 'string' ? err.message : '';

  // ClickHouse server or chDB error: `type` is the error name (e.g. TOO_MANY_PARTS), `code` its number.
  const type = typeof err.type === 'string' ? err.type : undefined;
  if (type !== undefined && /^[A-Z0-9_]+$/.test(type)) {
    if (RETRYABLE_CLICKHOUSE.has(type)) return { kind: 'retryable', code: type, reason: message };
    if (PERMANENT_CLICKHOUSE.has(type)) return { kind: 'permanent', code: type, reason: message };
    if (MISSING_STORAGE.has(type)) {
      return context.createSchema
        ? { kind: 'retryable', code: type, reason: `${message} (schema will be recreated)` }
        : { kind: 'permanent', code: type, reason: `${message} (schema creation is off)` };
    }
    return { kind: 'retryable', code: type, reason: `unrecognised ClickHouse error; retried: ${message}` };
  }

  // HTTP status, when the transport exposes it.
  const status =
    typeof err.statusCode === 'number'
      ? err.statusCode
      : typeof err.status === 'number'
        ? err.status
        : undefined;
  if (status !== undefined) return classifyStatus(status, message);

  const code = typeof err.code === 'string' ? err.code : undefined;
  if (code !== undefined && RETRYABLE_NODE_CODES.has(code))
    return { kind: 'retryable', code, reason: message };

  // @clickhouse/client request timeout, an aborted socket, or a proxy's plain-text error page.
  if (/^timeout error\.?$/i.test(message.trim()) || /\btime(d)? ?out\b/i.test(message)) {
    return { kind: 'retryable', code: 'TIMEOUT', reason: message };
  }
  if (/socket hang up|other side closed|connection (refused|reset|closed)/i.test(message)) {
    return { kind: 'retryable', code: 'NETWORK', reason: message };
  }
  for (const [pattern, httpStatus] of HTTP_STATUS_TEXT) {
    if (pattern.test(message)) return classifyStatus(httpStatus, message);
  }

  // A wrapped cause (e.g. chDB error inside a client error) decides if we have nothing better.
  if (err.cause !== undefined && err.cause !== error) {
    const inner = classifyFailure(err.cause, context);
    if (inner.code !== 'UNKNOWN') return inner;
  }
  return { kind: 'retryable', code: code ?? 'UNKNOWN', reason: `unrecognised failure; retried: ${message}` };
}

function classifyStatus(status: number, message: string): FailureClassification {
  const code = `HTTP_${status}`;
  if (RETRYABLE_HTTP_STATUS.has(status) || status >= 500) return { kind: 'retryable', code, reason: message };
  if (PERMANENT_HTTP_STATUS.has(status)) return { kind: 'permanent', code, reason: message };
  // 401/403 and the rest: configuration, not data — keep the data and retry.
  return { kind: 'retryable', code, reason: message };
}

/** "Full jitter": a uniformly random delay in [0, min(max, initial·2^(attempt-1))). `attempt` starts at 1. */
export function backoffDelayMs(
  attempt: number,
  { initialMs, maxMs }: { initialMs: number; maxMs: number },
  random: () => number,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const cap = Math.min(maxMs, initialMs * 2 ** exponent);
  return Math.floor(random() * cap);
}
