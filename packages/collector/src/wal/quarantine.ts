import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fsyncDirectory, writeFileDurably } from '@tallyhouse/model';
import type { ConsumeReport } from '@tallyhouse/processor-tenant';
import type { Logger } from 'pino';
import { describeData } from './records.ts';

/**
 * Where acknowledged requests go that the collector cannot apply: a request whose apply throws (a bug the
 * request's content triggers), or a logged record a replay cannot read. Each is written whole — the DATA
 * record body exactly as in the log — next to a JSON note (tenant, LSN, arrival, stage, error and stack),
 * durably, then logged and counted; the collector goes on. Nothing ever reads these files back by itself: an
 * operator inspects them, and can re-send a request once the fault is fixed (see DURABILITY.md).
 *
 * Files: `<dataDir>/quarantine/<id>.bin` and `<id>.json`, `id` = `wal-<lsn>` (with the write-ahead log) or
 * `nowal-<arrival ms>-<pid>-<n>` (without). The note is written last: a `.bin` without a `.json` is a write
 * the process did not finish, and the next quarantine of that id writes both again.
 */

export type QuarantineStage = 'apply' | 'replay';

export interface QuarantineEntry {
  readonly id: string;
  readonly lsn?: bigint;
  /** The DATA record body (same format with and without the log). */
  readonly record: Uint8Array;
  readonly stage: QuarantineStage;
  readonly error: unknown;
  /** The throw came while applying: points applied before it stay counted (see DURABILITY.md). */
  readonly mayBePartlyApplied: boolean;
}

const DATA_FORMAT =
  'DATA record body: u8 encoding (0 protobuf, 1 json) | u8 flags (1: tenant attribute may override) | ' +
  'u64 LE arrival ms | u16 LE tenant byte length | tenant (UTF-8) | request body (decompressed)';

export class Quarantine {
  readonly dir: string;
  private readonly logger: Logger;
  private readonly onQuarantined: (stage: QuarantineStage) => void;
  private sequence = 0;

  constructor(dir: string, logger: Logger, onQuarantined: (stage: QuarantineStage) => void = () => {}) {
    this.dir = dir;
    this.logger = logger;
    this.onQuarantined = onQuarantined;
  }

  static walId(lsn: bigint): string {
    return `wal-${lsn}`;
  }

  /** An id for a request without a log record (TALLYHOUSE_WAL=false). */
  unloggedId(arrivalMs: number): string {
    return `nowal-${arrivalMs}-${process.pid}-${++this.sequence}`;
  }

  /** True once `id` is quarantined (its note is written). */
  has(id: string): boolean {
    return existsSync(join(this.dir, `${id}.json`));
  }

  /**
   * Sets `entry` aside durably, logs and counts it; false (and nothing written or counted) when `id` is
   * quarantined already. Never throws: if the files cannot be written, the failure is logged — with the
   * log on, the record stays in the log and its QUARANTINED record decides what replays do.
   */
  keep(entry: QuarantineEntry): boolean {
    const error = entry.error as (Error & { code?: unknown }) | undefined;
    const about = describeData(
      Buffer.from(entry.record.buffer, entry.record.byteOffset, entry.record.byteLength),
    );
    const fields = {
      tenant: about.tenant,
      lsn: entry.lsn === undefined ? undefined : String(entry.lsn),
      stage: entry.stage,
      mayBePartlyApplied: entry.mayBePartlyApplied,
      err: error instanceof Error ? error.message : String(error),
    };
    if (this.has(entry.id)) {
      this.logger.warn({ ...fields, file: this.path(entry.id) }, 'request already quarantined');
      return false;
    }
    const note = {
      id: entry.id,
      lsn: fields.lsn,
      tenant: about.tenant,
      encoding: about.encoding,
      arrivalMs: about.arrivalMs,
      arrival: about.arrivalMs === undefined ? undefined : new Date(about.arrivalMs).toISOString(),
      quarantinedAt: new Date().toISOString(),
      stage: entry.stage,
      mayBePartlyApplied: entry.mayBePartlyApplied,
      error: {
        name: error instanceof Error ? error.name : typeof error,
        message: fields.err,
        code: typeof error?.code === 'string' ? error.code : undefined,
        stack: error instanceof Error ? error.stack : undefined,
      },
      bytes: entry.record.byteLength,
      sha256: createHash('sha256').update(entry.record).digest('hex'),
      format: DATA_FORMAT,
    };
    try {
      this.ensureDir();
      writeFileDurably(join(this.dir, `${entry.id}.bin`), entry.record);
      writeFileDurably(this.path(entry.id), `${JSON.stringify(note, null, 2)}\n`);
    } catch (writeError) {
      this.logger.error(
        { ...fields, writeErr: (writeError as Error).message },
        'cannot write a quarantined request to the quarantine directory',
      );
    }
    this.onQuarantined(entry.stage);
    this.logger.error(
      { ...fields, stack: note.error.stack, file: join(this.dir, `${entry.id}.bin`) },
      entry.mayBePartlyApplied
        ? 'request quarantined: applying it threw; points applied before the throw stay counted, the rest is set aside; the collector goes on'
        : 'request quarantined: it could not be applied and is set aside; the collector goes on',
    );
    return true;
  }

  /** Adds fields to a note (e.g. that a later replay applied the request after all). */
  annotate(id: string, fields: Record<string, unknown>) {
    try {
      const note = JSON.parse(readFileSync(this.path(id), 'utf8')) as Record<string, unknown>;
      writeFileDurably(this.path(id), `${JSON.stringify({ ...note, ...fields }, null, 2)}\n`);
    } catch (error) {
      this.logger.warn({ id, err: (error as Error).message }, 'cannot update a quarantine note');
    }
  }

  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  private ensureDir() {
    if (existsSync(this.dir)) return;
    mkdirSync(this.dir, { recursive: true });
    // The new directory's own entry must survive a power loss too.
    fsyncDirectory(dirname(this.dir));
  }
}

/** What a quarantined request reports: none of its points accepted, all of them rejected as `quarantined`. */
export function quarantinedReport(points: number, message: string): ConsumeReport {
  return {
    acceptedPoints: 0,
    rejectedPoints: points,
    // The processor's reasons are a closed union; this one is the collector's own (a metric label, a message).
    rejectedByReason: { quarantined: points } as ConsumeReport['rejectedByReason'],
    rejectionMessages: [message],
  };
}
