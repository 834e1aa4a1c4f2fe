import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileDurably } from '@tallyhouse/exporter-clickhouse';
import {
  type BatchFailure,
  type ConsumeReport,
  type FlushJournal,
  ProcessorShutdownError,
  type ReplayedFlush,
  type RequestTenant,
  type StreamSnapshotEntry,
  type TenantProcessor,
} from '@tallyhouse/processor-tenant';
import type { Logger } from 'pino';
import {
  decodeExportMetricsServiceRequestJsonBody,
  decodeExportMetricsServiceRequestProtobuf,
  type OtlpDecodeResult,
} from '../otlp/index.ts';
import { Quarantine, quarantinedReport } from './quarantine.ts';
import {
  ACK,
  ANSWERED,
  type BodyEncoding,
  DATA,
  Disposition,
  decodeData,
  decodeJson,
  decodeLsn,
  decodeQuarantined,
  encodeData,
  encodeLsn,
  encodeQuarantined,
  FLUSH_SETTLED,
  FLUSH_START,
  MalformedRecordError,
  QUARANTINED,
} from './records.ts';
import { ReplayMarker } from './replay-marker.ts';
import { type RecoveredLog, type WalOptions, type WalRecord, WalWriteError, WriteAheadLog } from './wal.ts';

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
 * deleted.
 *
 * No request's content can stop the collector: a request whose apply throws is quarantined (quarantine.ts)
 * and the collector goes on; a replay treats it exactly as the live process did (QUARANTINED), and a record a
 * replay cannot read, or one the process died on while replaying it (replay-marker.ts), is quarantined too.
 */

/**
 * A request that is durable but not yet acknowledged. The receiver calls `acknowledge()` (logs the ACK: from now
 * on the request counts, crash or not), writes the 200, then calls `apply()` — all in one synchronous block, and
 * a replay applies the request exactly where its ACK is — and `answered()` once the 200 was handed to the OS.
 *
 * Resends: a crash between the ACK and the 200 leaves a counted request whose client resends it. OTLP has no
 * idempotency key, but a resend is byte-identical, so a request identical (tenant, encoding, body) to one
 * acknowledged within the dedup window *whose 200 may not have reached its client* is answered and not counted
 * again — `acknowledge()` returns false and the caller must not `apply()` it. Once a 200 was written out in
 * full, an identical body is new data (two clients can send the same bytes).
 */
export interface PendingIngest {
  /**
   * What the request's partial_success reports (rejected points), known before anything is applied. Called in
   * the same synchronous block as `acknowledge()` and `apply()`: another request applied in between could change
   * the verdict (a tenant's stream share, say), and a replay, which applies at the ACK, would then decide
   * differently from the answer.
   */
  assess(): ConsumeReport;
  acknowledge(): boolean;
  /** Never throws: a request that cannot be applied is quarantined, and reported as such. */
  apply(): ConsumeReport;
  /** The response's 'finish': its 200 left the process whole, so its client will not resend it. */
  answered(): void;
}

export interface IngestRequest {
  readonly tenant: string;
  readonly allowAttributeOverride: boolean;
  readonly encoding: BodyEncoding;
  /** The request body after decompression, exactly as decoded. */
  readonly body: Uint8Array;
  readonly decoded: OtlpDecodeResult;
}

interface Checkpoint {
  readonly lsn: string;
  readonly streams: readonly StreamSnapshotEntry[];
}

export interface ReplaySummary {
  readonly requests: number;
  readonly unacknowledgedDropped: number;
  readonly flushes: number;
  /** Requests this start set aside (they failed to apply or read now, or the last start died on them). */
  readonly quarantined: number;
  /** Requests quarantined before, treated again as the process that quarantined them did. */
  readonly quarantinedEarlier: number;
  readonly fromLsn: bigint;
  readonly damage: RecoveredLog['damage'];
}

export interface DurableIngestOptions extends WalOptions {
  readonly dedupWindowMs?: number;
  /** Default: `quarantine/` next to the log directory. */
  readonly quarantine?: Quarantine;
}

interface Unanswered {
  /** The DATA record of the acknowledged request. */
  readonly lsn: bigint;
  readonly atMs: number;
}

type ReplayOutcome = 'applied' | 'quarantined' | 'quarantinedEarlier';

export class DurableIngest implements FlushJournal {
  readonly wal: WriteAheadLog;
  readonly quarantine: Quarantine;
  private readonly dir: string;
  private readonly recovered: RecoveredLog;
  private readonly checkpointPath: string;
  private readonly checkpointLsn: bigint;
  private readonly checkpointStreams: readonly StreamSnapshotEntry[];
  private processor: TenantProcessor | undefined;
  private readonly logger: Logger;
  /** Stream state as of each flush start, until that flush can be checkpointed. */
  private readonly pendingCheckpoints = new Map<string, { lsn: bigint; streams: string }>();
  private committable: { lsn: bigint; streams: string } | undefined;
  /** Set when a flush outcome could not be logged: intake and flushes stop until a restart replays the log. */
  private stopped: WalWriteError | undefined;
  /**
   * Identities (digest of tenant, encoding, body) of requests acknowledged within the dedup window whose 200
   * may not have reached the client, oldest first: an identical request is a resend of one of these.
   */
  private readonly unanswered = new Map<string, Unanswered>();
  private readonly dedupWindowMs: number;
  /** DATA records logged whose fate (applied or refused) is not known yet: their segments must stay. */
  private readonly unacknowledged = new Set<bigint>();

  constructor(dir: string, options: DurableIngestOptions, logger: Logger) {
    this.dir = dir;
    this.logger = logger;
    this.dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    this.quarantine =
      options.quarantine ??
      new Quarantine(join(dirname(dir), 'quarantine'), logger.child({ component: 'quarantine' }));
    this.checkpointPath = join(dir, 'checkpoint.json');
    const checkpoint = readCheckpoint(this.checkpointPath);
    this.checkpointLsn = BigInt(checkpoint?.lsn ?? '0');
    this.checkpointStreams = checkpoint?.streams ?? [];
    const { wal, recovered } = WriteAheadLog.open(join(dir, 'segments'), options, this.checkpointLsn + 1n);
    this.wal = wal;
    this.recovered = recovered;
    if (recovered.damage)
      logger.error({ damage: recovered.damage }, 'write-ahead log damaged: kept the valid prefix');
  }

  attach(processor: TenantProcessor) {
    this.processor = processor;
  }

  // ---- intake ----

  /**
   * Logs one request; resolves once the log record is durable. Throws `BufferFullError` (nothing logged) when
   * it does not fit, or a `WalWriteError` when it cannot be made durable. See `PendingIngest` for the rest.
   */
  async ingest(request: IngestRequest): Promise<PendingIngest> {
    if (this.stopped) throw this.stopped;
    const processor = this.processor!;
    const tenantRequest = { tenant: request.tenant, allowAttributeOverride: request.allowAttributeOverride };
    processor.accumulator.reserve(request.decoded.batch, tenantRequest);
    const arrivalMs = Date.now();
    const record = encodeData(request, arrivalMs);
    // Request data may not eat the reserve: flush records and checkpoints need it to free space again.
    this.wal.ensureRoom(record.length);
    const lsn = this.wal.append(DATA, record);
    const identity = requestIdentity(record);
    // Until its fate is known, the request's DATA record must outlive checkpoints (a replay needs it).
    this.unacknowledged.add(lsn);
    try {
      await this.wal.sync();
    } catch (error) {
      // Refused before its ACK: a replay drops it, and checkpoints need not keep it.
      this.unacknowledged.delete(lsn);
      throw error;
    }
    let assessment: ConsumeReport | undefined;
    /** The acknowledged request the 200 answers: this one, or the one this request is a resend of. */
    let answers: bigint | undefined;
    const assessOnce = () => {
      assessment ??= processor.accumulator.assess(request.decoded.batch, tenantRequest);
      return assessment;
    };
    return {
      assess: () => {
        try {
          return assessOnce();
        } catch (error) {
          this.unacknowledged.delete(lsn);
          throw error;
        }
      },
      acknowledge: () => {
        try {
          if (this.stopped) throw this.stopped;
          // Shutting down: `apply` would be refused, so the request is refused (503) instead of acknowledged.
          if (!processor.accepting) throw new ProcessorShutdownError();
          // A resend of a request whose 200 may have been lost: answer it, count it once.
          answers = this.unansweredLsn(identity, arrivalMs);
          if (answers !== undefined) return false;
          this.wal.append(ACK, encodeLsn(lsn));
          this.remember(identity, lsn, arrivalMs);
          answers = lsn;
          return true;
        } finally {
          this.unacknowledged.delete(lsn);
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
    const entry = this.unanswered.get(identity);
    if (entry === undefined || entry.lsn !== lsn) return;
    this.unanswered.delete(identity);
    if (this.stopped) return;
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
    if (this.stopped) return;
    try {
      this.wal.append(QUARANTINED, encodeQuarantined(lsn, how));
    } catch (error) {
      this.logger.error(
        { lsn: String(lsn), err: (error as Error).message },
        'cannot log a quarantine in the write-ahead log; the next start replays that request and quarantines it then',
      );
    }
  }

  // ---- FlushJournal ----

  clock(): number {
    return Date.now();
  }

  flushStarted(nowMs: number): string {
    if (this.stopped) throw this.stopped;
    const lsn = this.wal.append(FLUSH_START, Buffer.from(JSON.stringify({ nowMs })));
    const label = `wal-${lsn}`;
    this.pendingCheckpoints.set(label, { lsn, streams: '[]' });
    return label;
  }

  /** The stream state right after the take is what a replay from this flush's checkpoint starts from. */
  flushTaken(label: string): void {
    const pending = this.pendingCheckpoints.get(label);
    if (pending) pending.streams = JSON.stringify(this.processor!.accumulator.snapshotStreams());
  }

  beforeHandOff(): Promise<void> {
    return this.wal.sync();
  }

  flushSettled(label: string, failures: readonly BatchFailure[]): void {
    try {
      this.wal.append(FLUSH_SETTLED, Buffer.from(JSON.stringify({ label, failures })));
    } catch (error) {
      // Without this record a replay would hand off the failed batches instead of merging them back, and later
      // flushes would differ from the live ones. Stop: no more flushes or intake until a restart replays the log.
      this.stopped = new WalWriteError(
        `cannot record the outcome of flush ${label}: ${(error as Error).message}`,
      );
      this.logger.fatal(
        { err: this.stopped.message },
        'write-ahead log stopped: restart the collector to replay it',
      );
      return;
    }
    const pending = this.pendingCheckpoints.get(label);
    this.pendingCheckpoints.delete(label);
    if (pending !== undefined && failures.length === 0) this.committable = pending;
  }

  /**
   * Records that everything up to the last fully handed-off flush is in storage, once the exporter holds
   * nothing for retry, and deletes the log segments that only hold older records.
   */
  checkpoint(exporterHoldsNothing: boolean): boolean {
    const candidate = this.committable;
    if (candidate === undefined || !exporterHoldsNothing) return false;
    writeFileDurably(this.checkpointPath, `{"lsn":"${candidate.lsn}","streams":${candidate.streams}}`);
    this.committable = undefined;
    // A request logged before the checkpoint but applied after it is replayed from its DATA record.
    let keepFrom = candidate.lsn + 1n;
    for (const lsn of this.unacknowledged) if (lsn < keepFrom) keepFrom = lsn;
    // Segments younger than the dedup window keep the ACKs that let a restart recognise resends.
    const deleted = this.wal.truncateThrough(keepFrom - 1n, Date.now() - this.dedupWindowMs);
    this.logger.debug({ lsn: String(candidate.lsn), segmentsDeleted: deleted }, 'checkpoint written');
    return true;
  }

  /** The DATA LSN of an unanswered request with this identity within the window, if any. */
  private unansweredLsn(identity: string, nowMs: number): bigint | undefined {
    const cutoffMs = nowMs - this.dedupWindowMs;
    this.forgetUnansweredBefore(cutoffMs);
    const entry = this.unanswered.get(identity);
    return entry !== undefined && entry.atMs >= cutoffMs ? entry.lsn : undefined;
  }

  private remember(identity: string, lsn: bigint, atMs: number) {
    // Re-inserted at the end, so the map stays (roughly) oldest first.
    this.unanswered.delete(identity);
    this.unanswered.set(identity, { lsn, atMs });
    // Bounded: at the cap the oldest identities go first (a resend arrives within seconds, not minutes).
    if (this.unanswered.size > MAX_REMEMBERED_REQUESTS) {
      this.unanswered.delete(this.unanswered.keys().next().value as string);
    }
  }

  private forgetUnansweredBefore(cutoffMs: number) {
    for (const [identity, entry] of this.unanswered) {
      if (entry.atMs >= cutoffMs) break;
      this.unanswered.delete(identity);
    }
  }

  // ---- replay ----

  /**
   * Rebuilds the state at the crash: cumulative streams from the checkpoint, then every request and flush
   * after it, in log order. A request is applied where its ACK is (requests without an ACK never got a 200;
   * their clients retry). Replayed flushes hand off the same batches, which storage deduplicates. Never throws
   * because of a record's content: what cannot be read or applied is quarantined.
   */
  async replay(): Promise<ReplaySummary> {
    const processor = this.processor!;
    processor.accumulator.restoreStreams(this.checkpointStreams);
    const dispositions = this.loggedQuarantines();
    const marker = new ReplayMarker(join(this.dir, 'replaying'));
    if (marker.diedOn !== undefined && dispositions.get(marker.diedOn) !== Disposition.SKIPPED) {
      this.logger.error(
        { lsn: String(marker.diedOn) },
        'the last start died while replaying this request: it is quarantined, not applied again',
      );
      dispositions.set(marker.diedOn, Disposition.SKIPPED);
      this.logQuarantined(marker.diedOn, Disposition.SKIPPED);
    }
    const dataByLsn = new Map<bigint, WalRecord>();
    const identityByLsn = new Map<bigint, string>();
    const pending = new Map<string, ReplayedFlush>();
    const counts = { requests: 0, flushes: 0, quarantined: 0, quarantinedEarlier: 0 };
    try {
      for (const record of this.recovered.records) {
        if (record.type === DATA) {
          dataByLsn.set(record.lsn, record);
          continue;
        }
        if (record.type === ACK) {
          const lsn = this.readLsn(record, 'ACK');
          if (lsn === undefined) continue;
          const data = dataByLsn.get(lsn);
          dataByLsn.delete(lsn);
          if (data === undefined) {
            if (record.lsn > this.checkpointLsn)
              this.logger.error(
                { lsn: String(lsn) },
                'write-ahead log: an ACK without its DATA record; that request is lost',
              );
            continue;
          }
          // Identities of unanswered requests survive the restart, so a resend after the crash is recognised.
          const identity = requestIdentity(data.body);
          identityByLsn.set(lsn, identity);
          this.remember(identity, lsn, dataArrivalMs(data.body));
          if (record.lsn <= this.checkpointLsn) continue;
          const outcome = this.replayRequest(data, dispositions.get(lsn), marker);
          if (outcome === 'applied') counts.requests++;
          else counts[outcome]++;
          continue;
        }
        if (record.type === ANSWERED) {
          const lsn = this.readLsn(record, 'ANSWERED');
          const identity = lsn === undefined ? undefined : identityByLsn.get(lsn);
          if (identity !== undefined && this.unanswered.get(identity)?.lsn === lsn)
            this.unanswered.delete(identity);
          continue;
        }
        if (record.lsn <= this.checkpointLsn || record.type === QUARANTINED) continue;
        try {
          if (record.type === FLUSH_START) {
            const { nowMs } = decodeJson<{ nowMs: number }>(record.body, 'FLUSH_START');
            const label = `wal-${record.lsn}`;
            pending.set(label, processor.replayFlushStarted(label, nowMs));
            counts.flushes++;
          } else if (record.type === FLUSH_SETTLED) {
            const { label, failures } = decodeJson<{ label: string; failures: BatchFailure[] }>(
              record.body,
              'FLUSH_SETTLED',
            );
            const flush = pending.get(label);
            if (flush === undefined) continue; // it started before the checkpoint
            pending.delete(label);
            await processor.replayFlushSettled(flush, failures);
          } else {
            this.logger.error(
              { lsn: String(record.lsn), type: record.type },
              'write-ahead log: a record of unknown type; skipped',
            );
          }
        } catch (error) {
          if (!(error instanceof MalformedRecordError)) throw error;
          // Only a writer bug makes a checksummed record unreadable; a start must not fail on it.
          this.logger.error(
            { lsn: String(record.lsn), err: error.message },
            'write-ahead log: record skipped',
          );
        }
      }
    } finally {
      marker.close();
    }
    // Flushes the crash interrupted: hand off everything they took (storage deduplicates what it has).
    for (const flush of pending.values()) await processor.replayFlushSettled(flush, undefined);
    // Quarantines logged by this replay are durable before the collector serves.
    await this.wal.sync();
    const unacknowledged = [...dataByLsn.keys()].filter((lsn) => lsn > this.checkpointLsn).length;
    return {
      requests: counts.requests,
      unacknowledgedDropped: unacknowledged,
      flushes: counts.flushes,
      quarantined: counts.quarantined,
      quarantinedEarlier: counts.quarantinedEarlier,
      fromLsn: this.checkpointLsn,
      damage: this.recovered.damage,
    };
  }

  /** QUARANTINED records anywhere in the log (a replay can log one after the ACK it is about): the last wins. */
  private loggedQuarantines(): Map<bigint, Disposition> {
    const dispositions = new Map<bigint, Disposition>();
    for (const record of this.recovered.records) {
      if (record.type !== QUARANTINED) continue;
      try {
        const { lsn, how } = decodeQuarantined(record.body);
        dispositions.set(lsn, how);
      } catch (error) {
        this.logger.error(
          { lsn: String(record.lsn), err: (error as Error).message },
          'write-ahead log: record skipped',
        );
      }
    }
    return dispositions;
  }

  private readLsn(record: WalRecord, type: string): bigint | undefined {
    try {
      return decodeLsn(record.body, type);
    } catch (error) {
      this.logger.error(
        { lsn: String(record.lsn), err: (error as Error).message },
        'write-ahead log: record skipped',
      );
      return undefined;
    }
  }

  /**
   * One acknowledged request, as the live process treated it: applied; re-applied up to the same throw
   * (THREW: its partial effect is part of the buffer that was flushed); or skipped (SKIPPED). A request that
   * fails now for the first time is quarantined now — and logged, so every later replay does the same.
   */
  private replayRequest(data: WalRecord, how: Disposition | undefined, marker: ReplayMarker): ReplayOutcome {
    const id = Quarantine.walId(data.lsn);
    const keep = (stage: 'replay', error: unknown, mayBePartlyApplied: boolean): ReplayOutcome =>
      this.quarantine.keep({ id, lsn: data.lsn, record: data.body, stage, error, mayBePartlyApplied })
        ? 'quarantined'
        : 'quarantinedEarlier';
    if (how === Disposition.SKIPPED) {
      const why =
        data.lsn === marker.diedOn
          ? 'the collector died while replaying this request (out of memory, say)'
          : 'quarantined by an earlier start; not applied';
      return keep('replay', new Error(why), false);
    }
    marker.begin(data.lsn);
    try {
      let request: ReturnType<typeof decodeRequest>;
      try {
        request = decodeRequest(data.body);
      } catch (error) {
        if (how === undefined) this.logQuarantined(data.lsn, Disposition.SKIPPED);
        return keep('replay', error, false);
      }
      try {
        // The accumulator directly: a replay must not trigger live flushes.
        this.processor!.accumulator.consume(
          request.decoded.batch,
          { tenant: request.tenant, allowAttributeOverride: request.allowAttributeOverride },
          { nowMs: request.arrivalMs, force: true },
        );
      } catch (error) {
        if (how === undefined) this.logQuarantined(data.lsn, Disposition.THREW);
        // THREW and throwing again: as live. Its file is written if the live process died before writing it.
        return keep('replay', error, true);
      }
      if (how === Disposition.THREW) {
        // The fault is gone (a fixed version): applied in full now, and by every later replay of this log.
        this.logger.warn(
          { lsn: String(data.lsn), id },
          'a quarantined request applied in full at replay: its points are counted now; do not re-send it',
        );
        this.quarantine.annotate(id, {
          appliedInFullAt: new Date().toISOString(),
          appliedNote: 'a later replay applied this request in full: it is counted; do not re-send it',
        });
      }
      return 'applied';
    } finally {
      marker.end();
    }
  }

  /** False once the log stopped (a flush outcome could not be recorded). */
  healthy(): boolean {
    return this.stopped === undefined;
  }

  close() {
    this.wal.close();
  }
}

const DEFAULT_DEDUP_WINDOW_MS = 120_000;
const MAX_REMEMBERED_REQUESTS = 200_000;

/** A request's identity: the digest of its DATA record after the arrival time (encoding, flags, tenant, body). */
function requestIdentity(record: Buffer): string {
  return createHash('sha256').update(record.subarray(0, 2)).update(record.subarray(10)).digest('base64url');
}

function dataArrivalMs(record: Buffer): number {
  return record.length >= 10 ? Number(record.readBigUInt64LE(2)) : 0;
}

function decodeRequest(body: Buffer) {
  const data = decodeData(body);
  const decoded =
    data.encoding === 'protobuf'
      ? decodeExportMetricsServiceRequestProtobuf(data.body)
      : decodeExportMetricsServiceRequestJsonBody(data.body);
  return { ...data, decoded };
}

function readCheckpoint(path: string): Checkpoint | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
}
