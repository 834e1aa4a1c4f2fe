/**
 * The fault switch: what the next requests suffer instead of (or around) a normal answer. Tests set it over the
 * endpoint's control route; each fault applies to `count` requests (default: until cleared), to every statement
 * or only to inserts.
 */
import { ClickHouseError } from './clickhouse-errors.ts';
import type { SqlShape } from './sql-shape.ts';

export type Fault =
  /** A 503 without a ClickHouse body, as a load balancer in front of a down server answers. */
  | { readonly mode: 'unavailable' }
  /** A ClickHouse exception instead of running the statement (e.g. 252 TOO_MANY_PARTS, 241 MEMORY_LIMIT_EXCEEDED). */
  | { readonly mode: 'error'; readonly code: number; readonly type: string; readonly message: string }
  /** The statement waits `ms` (omitted: until the client gives up) before it runs. */
  | { readonly mode: 'stall'; readonly ms?: number }
  /** The statement runs, then the answer waits `ms` (omitted: until the client gives up). */
  | { readonly mode: 'apply-then-stall'; readonly ms?: number };

export interface FaultSetting {
  readonly fault: Fault;
  /** How many matching requests suffer it; omitted: every one until cleared. */
  readonly count?: number;
  readonly statements?: 'all' | 'insert';
}

/** Well-known server errors a test can name by type alone. */
const KNOWN_ERRORS: Readonly<Record<string, { code: number; message: string }>> = {
  TOO_MANY_PARTS: {
    code: 252,
    message: 'Too many parts (3001). Merges are processing significantly slower than inserts',
  },
  MEMORY_LIMIT_EXCEEDED: {
    code: 241,
    message: 'Memory limit (total) exceeded: would use 9.31 GiB, maximum: 9.31 GiB',
  },
  TOO_MANY_SIMULTANEOUS_QUERIES: { code: 202, message: 'Too many simultaneous queries. Maximum: 100' },
  TIMEOUT_EXCEEDED: { code: 159, message: 'Timeout exceeded: elapsed 30.0 seconds, maximum: 30' },
  TABLE_IS_READ_ONLY: {
    code: 242,
    message: 'Table is in readonly mode (replica path: /clickhouse/tables/01/otel_metrics_sum)',
  },
  UNKNOWN_STATUS_OF_INSERT: {
    code: 319,
    message: 'Unknown status, client must retry. Reason: Connection loss',
  },
};

export class FaultSwitch {
  private setting: FaultSetting | undefined;
  private remaining = 0;
  /** Requests that suffered a fault, by mode. */
  readonly applied = new Map<Fault['mode'], number>();

  set(setting: FaultSetting | undefined): void {
    this.setting = setting;
    this.remaining = setting?.count ?? Number.POSITIVE_INFINITY;
  }

  /** The fault this request suffers, if any (counting it against `count`). */
  take(shape: SqlShape): Fault | undefined {
    const setting = this.setting;
    if (setting === undefined) return undefined;
    if (setting.statements === 'insert' && shape.firstKeyword !== 'INSERT') return undefined;
    this.remaining -= 1;
    if (this.remaining <= 0) this.setting = undefined;
    this.applied.set(setting.fault.mode, (this.applied.get(setting.fault.mode) ?? 0) + 1);
    return setting.fault;
  }

  current(): FaultSetting | undefined {
    return this.setting;
  }
}

export function faultError(fault: Extract<Fault, { mode: 'error' }>): ClickHouseError {
  return new ClickHouseError(fault.code, fault.type, fault.message);
}

/** A fault setting from a control request's JSON (`FaultSetting` as JSON), or why it is not one. */
export function readFaultSetting(json: unknown): FaultSetting | string {
  if (typeof json !== 'object' || json === null) return 'the body must be a JSON object';
  const { fault, count, statements } = json as Record<string, unknown>;
  if (typeof fault !== 'object' || fault === null) return 'fault must be an object with a mode';
  const { mode, ms, code, type, message } = fault as Record<string, unknown>;
  if (count !== undefined && !(Number.isSafeInteger(count) && (count as number) > 0)) {
    return `count must be a positive integer, got ${JSON.stringify(count)}`;
  }
  if (statements !== undefined && statements !== 'all' && statements !== 'insert') {
    return `statements must be "all" or "insert", got ${JSON.stringify(statements)}`;
  }
  if (ms !== undefined && !(Number.isSafeInteger(ms) && (ms as number) >= 0)) {
    return `ms must be a non-negative integer, got ${JSON.stringify(ms)}`;
  }
  const scope = {
    ...(count === undefined ? {} : { count: count as number }),
    ...(statements === undefined ? {} : { statements: statements as 'all' | 'insert' }),
  };
  const wait = ms === undefined ? {} : { ms: ms as number };
  switch (mode) {
    case 'unavailable':
      return { fault: { mode }, ...scope };
    case 'stall':
    case 'apply-then-stall':
      return { fault: { mode, ...wait }, ...scope };
    case 'error': {
      if (typeof type !== 'string' || !/^[A-Z0-9_]+$/.test(type))
        return 'an error fault needs a type like "TOO_MANY_PARTS"';
      const known = KNOWN_ERRORS[type];
      const errorCode = code ?? known?.code;
      if (!Number.isSafeInteger(errorCode)) return `an error fault of type ${type} needs a numeric code`;
      const text = typeof message === 'string' ? message : (known?.message ?? `injected ${type}`);
      return { fault: { mode, code: errorCode as number, type, message: text }, ...scope };
    }
    default:
      return `mode must be "unavailable", "error", "stall" or "apply-then-stall", got ${JSON.stringify(mode)}`;
  }
}
