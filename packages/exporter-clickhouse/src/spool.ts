/**
 * On-disk spool of retained table parts under `TALLYHOUSE_DATA_DIR/spool`. A part is written (atomically:
 * temp file, fsync, rename) before the exporter acknowledges it, removed once written or dead-lettered, and
 * replayed at start. Replay is safe because each part keeps its deduplication token.
 *
 * Format v2 records the row layout of the body (`schema/tables.ts`); a v1 record — written before layouts
 * existed — holds layout-1 rows, replayed with layout 1's column list (the columns added since read their defaults).
 * A record naming a layout its table never had (a summary part in layout 1) is unreadable.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@tallyhouse/model';
import { writeFileDurably } from '@tallyhouse/model';
import { isRowLayoutOf, METRIC_TABLE_NAMES, type MetricTableName, type RowLayout } from './schema/tables.ts';
import { type TablePart, tablePartFrom } from './table-part.ts';

interface SpoolRecord {
  readonly format: 'tallyhouse-spool-v2';
  readonly batchId: string;
  readonly table: MetricTableName;
  readonly layout: RowLayout;
  readonly token: string;
  readonly body: string;
  readonly rows: number;
  readonly tenants: readonly string[];
  readonly attempts: number;
}

export class Spool {
  readonly directory: string;
  private readonly logger: Logger;

  constructor(dataDir: string, logger: Logger) {
    this.directory = join(dataDir, 'spool');
    this.logger = logger;
    mkdirSync(this.directory, { recursive: true });
  }

  private fileOf(token: string): string {
    return join(this.directory, `${createHash('sha256').update(token).digest('hex').slice(0, 40)}.json`);
  }

  /** Durable before it returns: a crash after this leaves the part on disk for the next start. */
  write(part: TablePart): void {
    const record: SpoolRecord = {
      format: 'tallyhouse-spool-v2',
      batchId: part.batchId,
      table: part.table,
      layout: part.layout,
      token: part.token,
      body: part.body,
      rows: part.rows,
      tenants: part.tenants,
      attempts: part.attempts,
    };
    writeFileDurably(this.fileOf(part.token), JSON.stringify(record));
  }

  remove(part: Pick<TablePart, 'token'>): void {
    rmSync(this.fileOf(part.token), { force: true });
  }

  /** Every spooled part; unreadable files are moved aside (`.corrupt`) and logged, never deleted. */
  load(): TablePart[] {
    const parts: TablePart[] = [];
    for (const name of readdirSync(this.directory).sort()) {
      const file = join(this.directory, name);
      if (name.endsWith('.tmp')) {
        // An interrupted write: the part was never acknowledged, so upstream still has it.
        rmSync(file, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const record = readRecord(JSON.parse(readFileSync(file, 'utf8')));
        const { format: _format, ...fields } = record;
        parts.push(tablePartFrom({ ...fields, points: undefined }));
      } catch (error) {
        this.logger.error({ error: (error as Error).message }, `unreadable spool file ${file} moved aside`);
        renameSync(file, `${file}.corrupt`);
      }
    }
    return parts;
  }
}

/** A v2 record, or a v1 record read as layout 1; throws for anything else. */
function readRecord(parsed: unknown): SpoolRecord {
  const record = parsed as Omit<SpoolRecord, 'format' | 'layout'> & { format?: unknown; layout?: unknown };
  const layout = record.format === 'tallyhouse-spool-v1' ? 1 : record.layout;
  if (
    (record.format !== 'tallyhouse-spool-v1' && record.format !== 'tallyhouse-spool-v2') ||
    !METRIC_TABLE_NAMES.includes(record.table) ||
    !isRowLayoutOf(record.table, layout) ||
    typeof record.body !== 'string' ||
    typeof record.token !== 'string' ||
    record.rows !== record.tenants.length
  ) {
    throw new Error('not a tallyhouse-spool-v1 or -v2 record');
  }
  return { ...record, format: 'tallyhouse-spool-v2', layout };
}
