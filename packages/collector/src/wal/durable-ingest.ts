import { dirname, join } from 'node:path';
import {
  type ConsumeReport,
  type FlushLog,
  ProcessorShutdownError,
  type RequestTenant,
  type StreamSnapshotEntry,
  type TenantProcessor,
} from '@tallyhouse/processor-tenant';
import type { Logger } from 'pino';
import type { IngestRequest, PendingIngest } from '../ingest/intake.ts';
import { FlushRecords, readCheckpoint } from './flush-records.ts';
import { type ReplaySummary, type ReplayTarget, replayLog } from './log-replay.ts';
import { Quarantine, quarantinedReport } from './quarantine.ts';
import {
  ACK,
  ANSWERED,
  DATA,
  Disposition,
  encodeData,
  encodeLsn,
  encodeQuarantined,
  QUARANTINED,
} from './records.ts';
import { ResendGuard, requestIdentity } from './resends.ts';
import { type RecoveredLog, type WalOptions, WriteAheadLog } from './wal.ts';

export type { IngestRequest, PendingIngest } from '../ingest/intake.ts';
export type { ReplaySummary } from './log-replay.ts';
export type { BodyEncoding } from './records.ts';

/**
 * The collector's durability: every accepted request is in the write-ahead log before its 200, and so is every
 * flush (its start and which batches failed). Replaying the log after a crash rebuilds the same buffer and the
 * same batches under the same ids, so storage deduplicates what it already has: each acknowledged point is
 * counted exactly once.
 *
 * Records (records.ts): DATA (the request body as received, decompressed, with tenant and arrival time), ACK
 * (the request is applied to the buffer and its 200 is being sent), ANSWERED (that 200 was handed to the OS in
 * full), QUARANTINED (applying the request failed; it is set aside), FLUSH_START, FLUSH_SETTLED. A request is
 * applied only once its DATA is durable, in the same tick as its ACK and its 200, so the buffer only ever holds
 * acknowledged data and a replay applies each request at the place of its ACK. A checkpoint (LSN + cumulative
 * stream state) marks everything up to a flush that reached storage; segments holding only older records are
 * deleted (flush-records.ts).
 *
 * No request's content can stop the collector: a request whose apply throws is quarantined (quarantine.ts)
 * and the collector goes on; a replay treats it exactly as the live process did (QUARANTINED), and a record a
 * replay cannot read, or one the process died on while replaying it (replay-marker.ts), is quarantined too
 * (log-replay.ts).
 */

export interface DurableIngestOptions extends WalOptions {
  readonly dedupWindowMs?: number;
  /** Default: `quarantine/` next to the log directory. */
  readonly quarantine?: Quarantine;
}

/** What the log feeds: the processor's intake (checked and reported before it is applied) and its replay API. */
export type DurableTarget = Pick<TenantProcessor, 'reserve' | 'assess' | 'consume' | 'accepting'> &
  ReplayTarget;

export class DurableIngest {
  private readonly wal: WriteAheadLog;
  private readonly quarantine: Quarantine;
  private readonly flushes: FlushRecords;
  private readonly dir: string;
  private readonly recovered: RecoveredLog;
  private readonly checkpointLsn: bigint;
  private readonly checkpointStreams: readonly StreamSnapshotEntry[];
  private processor: DurableTarget | undefined;
  private readonly logger: Logger;
  private readonly resends: ResendGuard;

  constructor(dir: string, options: DurableIngestOptions, logger: Logger) {
    this.dir = dir;
    this.logger = logger;
    const dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    this.resends = new ResendGuard(dedupWindowMs);
    this.quarantine =
      options.quarantine ??
      new Quarantine(join(dirname(dir), 'quarantine'), logger.child({ component: 'quarantine' }));
    const checkpointPath = join(dir, 'checkpoint.json');
    const checkpoint = readCheckpoint(checkpointPath);
    this.checkpointLsn = BigInt(checkpoint?.lsn ?? '0');
    this.checkpointStreams = checkpoint?.streams ?? [];
    const { wal, recovered } = WriteAheadLog.open(join(dir, 'segments'), options, this.checkpointLsn + 1n);
    this.wal = wal;
    this.recovered = recovered;
    if (recovered.damage)
      logger.error({ damage: recovered.damage }, 'write-ahead log damaged: kept the valid prefix');
    this.flushes = new FlushRecords(wal, { checkpointPath, keepSegmentsMs: dedupWindowMs }, logger);
  }

  /** The processor's flush log (its `flushLog` option): flush records and checkpoints. */
  get flushLog(): FlushLog {
    return this.flushes;
  }

  /** The processor this log feeds; before `replay()` and `ingest()`. */
  attach(processor: DurableTarget) {
    this.processor = processor;
  }

  // ---- intake ----

  /**
   * Logs one request; resolves once the log record is durable. Throws `BufferFullError` (nothing logged) when
   * it does not fit, or a `WalWriteError` when it cannot be made durable. See `PendingIngest` for the rest.
   */
  async ingest(request: IngestRequest): Promise<PendingIngest> {
    if (this.flushes.stopped) throw this.flushes.stopped;
    const processor = this.processor!;
    const tenantRequest = { tenant: request.tenant, allowAttributeOverride: request.allowAttributeOverride };
    processor.reserve(request.decoded.batch, tenantRequest);
    const arrivalMs = Date.now();
    const record = encodeData(request, arrivalMs);
    // Request data may not eat the reserve: flush records and checkpoints need it to free space again.
    this.wal.ensureRoom(record.length);
    const lsn = this.wal.append(DATA, record);
    const identity = requestIdentity(record);
    // Until its fate is known, the request's DATA record must outlive checkpoints (a replay needs it).
    this.flushes.holdData(lsn);
    try {
      await this.wal.sync();
    } catch (error) {
      // Refused before its ACK: a replay drops it, and checkpoints need not keep it.
      this.flushes.settleData(lsn);
      throw error;
    }
    let assessment: ConsumeReport | undefined;
    /** The acknowledged request the 200 answers: this one, or the one this request is a resend of. */
    let answers: bigint | undefined;
    const assessOnce = () => {
      assessment ??= processor.assess(request.decoded.batch, tenantRequest);
      return assessment;
    };
    return {
      assess: () => {
        try {
          return assessOnce();
        } catch (error) {
          this.flushes.settleData(lsn);
          throw error;
        }
      },
      acknowledge: () => {
        try {
          if (this.flushes.stopped) throw this.flushes.stopped;
          // Shutting down: `apply` would be refused, so the request is refused (503) instead of acknowledged.
          if (!processor.accepting) throw new ProcessorShutdownError();
          // A resend of a request whose 200 may have been lost: answer it, count it once.
          answers = this.resends.resendOf(identity, arrivalMs);
          if (answers !== undefined) return false;
          this.wal.append(ACK, encodeLsn(lsn));
          this.resends.remember(identity, lsn, arrivalMs);
          answers = lsn;
          return true;
        } finally {
          this.flushes.settleData(lsn);
        }
      },
      apply: () => this.applyLive(lsn, record, request, tenantRequest, arrivalMs, assessOnce()),
      answered: () => {
        if (answers !== undefined) this.answered(identity, answers);
      },
    };
  }

  /** Room was reserved before logging; requests applied meanwhile may overshoot the cap by their size. */
  private applyLive(
    lsn: bigint,
    record: Buffer,
    request: IngestRequest,
    tenantRequest: RequestTenant,
    arrivalMs: number,
    assessment: ConsumeReport,
  ): ConsumeReport {
    try {
      return this.processor!.consume(request.decoded.batch, tenantRequest, { force: true, nowMs: arrivalMs });
    } catch (error) {
      // Logged before anything else (same synchronous block as the ACK, so no flush comes between): every
      // replay then applies this request as this process did — again, up to the same throw — and rebuilds the
      // buffer this process flushes, batch for batch (storage deduplicates batches by id and content).
      this.logQuarantined(lsn, Disposition.THREW);
      this.quarantine.keep({
        id: Quarantine.walId(lsn),
        lsn,
        record,
        stage: 'apply',
        error,
        mayBePartlyApplied: true,
      });
      return quarantinedReport(
        assessment.acceptedPoints,
        `request quarantined: applying it failed (${(error as Error).message}); points applied before the failure may be counted`,
      );
    }
  }

  /** A 200 went out whole: an identical body from now on is new data, not a resend (not fsynced: see below). */
  private answered(identity: string, lsn: bigint) {
    if (!this.resends.answered(identity, lsn) || this.flushes.stopped) return;
    try {
      // Rides the next group commit. Lost (power loss, or a full disk), the identity stays remembered after a
      // restart and an identical body within the window counts as a resend: the safe side.
      this.wal.append(ANSWERED, encodeLsn(lsn));
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'cannot log that a request was answered');
    }
  }

  /** Best effort: the replay decides from the log, and without this record it applies the request again. */
  private logQuarantined(lsn: bigint, how: Disposition) {
    if (this.flushes.stopped) return;
    try {
      this.wal.append(QUARANTINED, encodeQuarantined(lsn, how));
    } catch (error) {
      this.logger.error(
        { lsn: String(lsn), err: (error as Error).message },
        'cannot log a quarantine in the write-ahead log; the next start replays that request and quarantines it then',
      );
    }
  }

  // ---- checkpoints and replay ----

  /**
   * Records that everything up to the last fully handed-off flush is in storage, once the exporter holds
   * nothing for retry, and deletes the log segments that only hold older records.
   */
  checkpoint(exporterHoldsNothing: boolean): boolean {
    return this.flushes.checkpoint(exporterHoldsNothing);
  }

  /** Rebuilds the processor's state at the crash from the checkpoint and the log (log-replay.ts). */
  async replay(): Promise<ReplaySummary> {
    const summary = await replayLog({
      processor: this.processor!,
      recovered: this.recovered,
      checkpointLsn: this.checkpointLsn,
      checkpointStreams: this.checkpointStreams,
      markerPath: join(this.dir, 'replaying'),
      quarantine: this.quarantine,
      resends: this.resends,
      logQuarantined: (lsn, how) => this.logQuarantined(lsn, how),
      logger: this.logger,
    });
    // Quarantines logged by this replay are durable before the collector serves.
    await this.wal.sync();
    return summary;
  }

  close() {
    this.wal.close();
  }
}

const DEFAULT_DEDUP_WINDOW_MS = 120_000;
