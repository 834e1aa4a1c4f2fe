/**
 * Rows that can never be written go here, never nowhere: first the `tallyhouse_dead_letters` table (payload,
 * error, time, tenant), and when ClickHouse cannot take them either, an append-only NDJSON file under
 * `TALLYHOUSE_DATA_DIR/dead-letters/`.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@tallyhouse/model';
import type { StorageConnection } from './connection.ts';
import { pointToJson, type RejectedPoint } from './row-encoding.ts';
import { columnNames, DEAD_LETTER_COLUMNS, DEAD_LETTER_TABLE } from './schema/tables.ts';
import { partLines, type TablePart } from './table-part.ts';

export interface DeadLetter {
  readonly tenant: string;
  readonly table: string;
  readonly batchId: string;
  readonly errorCode: string;
  readonly error: string;
  /** The row as it would have been inserted (JSONCompactEachRow), or the point's JSON if it never became a row. */
  readonly payload: string;
}

export type DeadLetterDestination = 'table' | 'file';

/** Every row of a part that can never be written (or was not by the shutdown deadline), as it was encoded. */
export function partDeadLetters(
  part: Pick<TablePart, 'batchId' | 'table' | 'body' | 'tenants'>,
  errorCode: string,
  error: string,
): DeadLetter[] {
  return partLines(part).map((line, index) => ({
    tenant: part.tenants[index] ?? '',
    table: part.table,
    batchId: part.batchId,
    errorCode,
    error,
    payload: line,
  }));
}

/** Points the encoder refused: they never became rows, so the payload is the point's JSON. */
export function rejectedDeadLetters(batchId: string, rejected: readonly RejectedPoint[]): DeadLetter[] {
  return rejected.map((entry) => ({
    tenant: entry.point.tenant,
    table: entry.table,
    batchId,
    errorCode: entry.code,
    error: entry.message,
    payload: pointToJson(entry.point),
  }));
}

export class DeadLetterSink {
  readonly file: string;
  private readonly database: string;
  private readonly logger: Logger;

  constructor(options: { database: string; dataDir: string; logger: Logger }) {
    this.database = options.database;
    this.file = join(options.dataDir, 'dead-letters', 'dead-letters.ndjson');
    this.logger = options.logger;
  }

  /**
   * Stores `letters` in the table (deduplicated by `token`, so a repeated dead-lettering adds nothing), or in
   * the file when the table insert fails. Throws only if both fail.
   */
  async write(
    connection: StorageConnection | undefined,
    letters: readonly DeadLetter[],
    token: string,
  ): Promise<DeadLetterDestination> {
    if (letters.length === 0) return 'table';
    if (connection !== undefined) {
      const now = BigInt(Date.now()) * 1_000_000n;
      const body = letters
        .map(
          (letter) =>
            `[${now},${JSON.stringify(letter.tenant)},${JSON.stringify(letter.table)},` +
            `${JSON.stringify(letter.batchId)},${JSON.stringify(letter.errorCode)},` +
            `${JSON.stringify(letter.error.slice(0, 4096))},${JSON.stringify(letter.payload)}]`,
        )
        .join('\n');
      try {
        await connection.insertEncoded({
          database: this.database,
          table: DEAD_LETTER_TABLE,
          columns: columnNames(DEAD_LETTER_COLUMNS),
          format: 'JSONCompactEachRow',
          body: `${body}\n`,
          settings: {
            insert_deduplicate: 1,
            insert_deduplication_token: `${token}-dead-letter`,
            async_insert: 0,
            wait_for_async_insert: 1,
            async_insert_deduplicate: 1,
          },
        });
        this.logger.warn(
          { table: letters[0]?.table, errorCode: letters[0]?.errorCode, error: letters[0]?.error },
          `dead-lettered ${letters.length} row(s) into ${this.database}.${DEAD_LETTER_TABLE}`,
        );
        return 'table';
      } catch (error) {
        this.logger.error(
          { error: (error as Error).message },
          `dead-letter table unavailable, writing ${letters.length} row(s) to ${this.file}`,
        );
      }
    }
    this.writeFile(letters, token);
    return 'file';
  }

  /** Synchronous append (one JSON object per line), used directly at shutdown. */
  writeFile(letters: readonly DeadLetter[], token: string): void {
    if (letters.length === 0) return;
    mkdirSync(join(this.file, '..'), { recursive: true });
    const time = new Date().toISOString();
    appendFileSync(
      this.file,
      letters.map((letter) => `${JSON.stringify({ time, token, ...letter })}\n`).join(''),
    );
    this.logger.warn(
      { table: letters[0]?.table, errorCode: letters[0]?.errorCode },
      `dead-lettered ${letters.length} row(s) into ${this.file}`,
    );
  }
}
