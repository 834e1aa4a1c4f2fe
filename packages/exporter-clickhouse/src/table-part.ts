/**
 * The unit of writing, retrying, spooling and dead-lettering: the rows of one batch for one table, with the
 * deduplication token that makes every re-send of it a no-op once one attempt has been applied.
 */
import { createHash } from 'node:crypto';
import type { SeriesPoint } from '@tallyhouse/model';
import { CURRENT_ROW_LAYOUT, type MetricTableName, type RowLayout } from './schema/tables.ts';

export interface TablePart {
  /** Also the part's identity: at most one part per token is retained. */
  readonly token: string;
  readonly batchId: string;
  readonly table: MetricTableName;
  /** The column list the rows are in: the current one, or an older one for a part spooled before an upgrade. */
  readonly layout: RowLayout;
  /** The JSONCompactEachRow payload: one line per row, each ending in `\n` (JSON never has raw newlines). */
  readonly body: string;
  readonly rows: number;
  readonly tenants: readonly string[];
  readonly bytes: number;
  /** The points behind the rows; `undefined` for a part replayed from the spool (already accepted). */
  readonly points: readonly SeriesPoint[] | undefined;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | undefined;
}

/** JSONCompactEachRow lines as one body: each line ends in `\n`. */
function bodyOf(lines: readonly string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** The rows of a part, one JSONCompactEachRow line each (for dead letters). */
export function partLines(part: Pick<TablePart, 'body'>): string[] {
  return part.body.length === 0 ? [] : part.body.slice(0, -1).split('\n');
}

/**
 * Deterministic per (batch id, table, rows). The content digest guards against an upstream that reuses a
 * batch id for different rows: those get a different token, so ClickHouse never mistakes them for a re-send.
 * `body` is the rows in their table's first row layout (`deduplicationLines` of the encoder), whatever layout is
 * written, so the token of a batch does not change when a release adds columns.
 */
export function deduplicationToken(batchId: string, table: MetricTableName, body: string): string {
  const hash = createHash('sha256');
  hash.update(batchId);
  hash.update('\u0000');
  hash.update(table);
  hash.update('\u0000');
  hash.update(body);
  return `tallyhouse-v1-${table}-${hash.digest('hex')}`;
}

export function createTablePart(
  batchId: string,
  table: MetricTableName,
  rows: { readonly lines: readonly string[]; readonly deduplicationLines: readonly string[] },
  tenants: readonly string[],
  points: readonly SeriesPoint[] | undefined,
): TablePart {
  const body = bodyOf(rows.lines);
  const token = deduplicationToken(batchId, table, bodyOf(rows.deduplicationLines));
  return tablePartFrom({
    batchId,
    table,
    layout: CURRENT_ROW_LAYOUT,
    token,
    body,
    rows: rows.lines.length,
    tenants,
    points,
    attempts: 0,
  });
}

/** A part from its stored fields (a new one, or one read back from the spool): not scheduled, no error yet. */
export function tablePartFrom(
  fields: Pick<
    TablePart,
    'batchId' | 'table' | 'layout' | 'token' | 'body' | 'rows' | 'tenants' | 'points' | 'attempts'
  >,
): TablePart {
  return { ...fields, bytes: Buffer.byteLength(fields.body), nextAttemptAt: 0, lastError: undefined };
}
