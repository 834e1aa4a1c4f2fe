/**
 * How a tenant read reaches storage: `runScoped` is the only way, and it re-checks every statement's text
 * (`assertTenantScoped`) before sending it. A bounded read (`beginRead`) carries its limits in each statement's
 * own SETTINGS, with what is left of the read's time as `max_execution_time`.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { Slicer } from '@tallyhouse/model';
import type { StorageConnection } from '../connection.ts';
import {
  limitSettings,
  mapEngineLimit,
  type ReadLimits,
  resolveReadLimits,
  streamSettings,
  timeoutError,
} from './read-limits.ts';
import { type AdminQuery, assertTenantScoped, type TenantScopedQuery } from './tenant-scope.ts';

/**
 * What the reader needs of a connection (tests wrap it to capture SQL). With the `client` (a `StorageConnection`
 * has it) a bounded read can withdraw a statement still waiting for the engine once the read's time is up.
 */
export type QueryConnection = Pick<StorageConnection, 'queryRows'> & {
  readonly client?: Pick<ClickHouseClient, 'query'>;
};

/** One bounded read: its limits, the moment its time is up (`performance.now()` ms), its slicer. */
export interface ReadContext {
  readonly limits: ReadLimits;
  readonly deadline: number;
  readonly slicer: Slicer;
}

/** The statement's JS-side abort comes this long after its engine time limit, which should fire first. */
const ABORT_GRACE_MS = 1_000;

/** A bounded read starts now: its limits (the reader's, overridden by the call's) and its deadline. */
export function beginRead(base: ReadLimits, overrides: Partial<ReadLimits> | undefined): ReadContext {
  const limits = resolveReadLimits(base, overrides);
  return { limits, deadline: performance.now() + limits.timeoutMs, slicer: new Slicer() };
}

/**
 * Sends one tenant statement: its text re-checked for the tenant predicate (`assertTenantScoped`), then sent as
 * `runBounded` does — or unbounded without `read` (`points`, for export and tests, never behind a request).
 */
export async function runScoped<T>(
  connection: QueryConnection,
  q: TenantScopedQuery,
  sql: string,
  read?: ReadContext,
): Promise<T[]> {
  assertTenantScoped(sql);
  if (read === undefined) return connection.queryRows<T>(sql, q.params);
  const rows: T[] = [];
  for await (const row of streamBounded<T>(connection, sql, q.params, read, 'answer')) rows.push(row);
  return rows;
}

/** A cross-tenant statement (an `AdminQuery`'s) with the same bounds as a tenant read. */
export async function runBounded<T>(
  connection: QueryConnection,
  q: AdminQuery,
  sql: string,
  read: ReadContext,
): Promise<T[]> {
  const rows: T[] = [];
  for await (const row of streamBounded<T>(connection, sql, q.params, read, 'answer')) rows.push(row);
  return rows;
}

/**
 * A statement's rows as they arrive. Its limits go in its own SETTINGS with what is left of the read's time as
 * `max_execution_time`; with the client at hand the statement is also withdrawn once that time (plus a grace) is
 * up — chDB runs parameterized statements one at a time, and one still queued then never starts — and engine
 * refusals become `ReadLimitError` / `ReadTimeoutError`. `stream` (a streamed export) drops the answer-size
 * limits: rows leave as they come, so memory holds a batch, whatever the answer's size.
 */
export async function* streamBounded<T>(
  connection: QueryConnection,
  sql: string,
  params: Record<string, unknown>,
  read: ReadContext,
  shape: 'answer' | 'stream',
): AsyncGenerator<T> {
  const remaining = read.deadline - performance.now();
  if (remaining <= 0) throw timeoutError(read.limits);
  const settings =
    shape === 'answer' ? limitSettings(read.limits, remaining) : streamSettings(read.limits, remaining);
  const bounded = `${sql} SETTINGS ${settings}`;
  const client = connection.client;
  const signal =
    client === undefined ? undefined : AbortSignal.timeout(Math.ceil(remaining) + ABORT_GRACE_MS);
  try {
    if (client === undefined || signal === undefined) {
      yield* await connection.queryRows<T>(bounded, params);
      return;
    }
    const result = await client.query({
      query: bounded,
      format: 'JSONEachRow',
      query_params: params,
      // The same output settings as `queryRows` (chDB applies them session-wide; every read states them).
      clickhouse_settings: {
        output_format_json_quote_64bit_integers: 1,
        output_format_json_quote_denormals: 1,
      },
      abort_signal: signal,
    });
    // Row by row, handing the event loop back between slices (a bounded answer is still up to maxBytes).
    for await (const batch of result.stream()) {
      for (const row of batch) {
        yield row.json<T>();
        await read.slicer.tick();
      }
    }
  } catch (error) {
    if (signal?.aborted === true) throw timeoutError(read.limits, error);
    throw mapEngineLimit(error, read.limits) ?? error;
  }
}
