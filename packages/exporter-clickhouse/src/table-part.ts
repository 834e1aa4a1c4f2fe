/**
 * The unit of writing, retrying, spooling and dead-lettering: the rows of one batch for one table, with the
 * deduplication token that makes every re-send of it a no-op once one attempt has been applied.
 */
import { createHash } from 'node:crypto';
import type { SeriesPoint } from '@tallyhouse/processor-tenant';
import type { MetricTableName } from './tables.ts';

export interface TablePart {
  /** Also the part's identity: at most one part per token is retained. */
  readonly token: string;
  readonly batchId: string;
  readonly table: MetricTableName;
  readonly lines: readonly string[];
  readonly tenants: readonly string[];
  readonly bytes: number;
  /** The points behind the rows; `undefined` for a part replayed from the spool (already accepted). */
  readonly points: readonly SeriesPoint[] | undefined;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | undefined;
}

export function partBody(lines: readonly string[]): string {
  return `${lines.join('\n')}\n`;
}

/**
 * Deterministic per (batch id, table, rows). The content digest guards against an upstream that reuses a
 * batch id for different rows: those get a different token, so ClickHouse never mistakes them for a re-send.
 */
export function deduplicationToken(
  batchId: string,
  table: MetricTableName,
  lines: readonly string[],
): string {
  const hash = createHash('sha256');
  hash.update(batchId);
  hash.update('\u0000');
  hash.update(table);
  for (const line of lines) {
    hash.update('\n');
    hash.update(line);
  }
  return `tallyhouse-v1-${table}-${hash.digest('hex')}`;
}

export function createTablePart(
  batchId: string,
  table: MetricTableName,
  lines: readonly string[],
  tenants: readonly string[],
  points: readonly SeriesPoint[] | undefined,
): TablePart {
  let bytes = 0;
  for (const line of lines) bytes += Buffer.byteLength(line) + 1;
  return {
    batchId,
    table,
    token: deduplicationToken(batchId, table, lines),
    lines,
    tenants,
    bytes,
    points,
    attempts: 0,
    nextAttemptAt: 0,
    lastError: undefined,
  };
}
