/**
 * "What was written since I last looked" over a table that several collectors share and whose rows carry the
 * server's write time (`WrittenAt`, DateTime64(6)): the shared stream marks and quota counters both read their
 * changes this way. Times are the server's, never a collector's clock, so collectors with skewed clocks still see
 * each other's writes.
 */
import type { StorageConnection } from './connection.ts';

/** What a table shared by several collectors needs to know about its collector and store. */
export interface SharedTableOptions {
  /** This collector's identity: the owner of the rows it writes. */
  readonly owner: string;
  readonly database: string;
  readonly connect: () => Promise<StorageConnection>;
}

/**
 * Reads overlap this much: a write's time is taken when its insert starts, so a slow insert can land behind a
 * later one's time. A row read twice is applied twice; both readers apply idempotently (the latest value wins).
 */
const OVERLAP_SECONDS = 5;

export class WriteTimeCursor {
  /** Server time (DateTime64(6) text) of the latest write read, or of the first `start`. */
  private since: string | undefined;

  get started(): boolean {
    return this.since !== undefined;
  }

  /** Sets the cursor to the server's time now: the next read starts there. */
  async start(connection: StorageConnection): Promise<void> {
    const [now] = await connection.queryRows<{ now: string }>('SELECT toString(now64(6)) AS now', {});
    this.since = now?.now;
  }

  /** `WrittenAt` past the cursor (less the overlap): the condition and its parameter, `since`. */
  condition(): { readonly sql: string; readonly params: { readonly since: string } } {
    if (this.since === undefined) throw new Error('WriteTimeCursor.condition() before start()');
    return {
      sql: `WrittenAt > {since:DateTime64(6)} - ${OVERLAP_SECONDS}`,
      params: { since: this.since },
    };
  }

  /** Moves the cursor to the latest write among `rows` (their `Written`: `toString(WrittenAt)`). */
  advance(rows: readonly { readonly Written: string }[]): void {
    for (const row of rows)
      if (this.since === undefined || row.Written > this.since) this.since = row.Written;
  }
}
