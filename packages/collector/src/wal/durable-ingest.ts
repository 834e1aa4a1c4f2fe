import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '@tallyhouse/exporter-clickhouse';
import {
  type BatchFailure,
  type ConsumeReport,
  type FlushJournal,
  ProcessorShutdownError,
  type ReplayedFlush,
  type StreamSnapshotEntry,
  type TenantProcessor,
} from '@tallyhouse/processor-tenant';
import type { Logger } from 'pino';
import {
  decodeExportMetricsServiceRequestJson,
  decodeExportMetricsServiceRequestProtobuf,
  type OtlpDecodeResult,
} from '../otlp/index.ts';
import { type RecoveredLog, type WalOptions, type WalRecord, WalWriteError, WriteAheadLog } from './wal.ts';

/**
 * The collector's durability: every accepted request is in the write-ahead log before its 200, and so is every
 * flush (its start and which batches failed). Replaying the log after a crash rebuilds the same buffer and the
 * same batches under the same ids, so storage deduplicates what it already has: each acknowledged point is
 * counted exactly once.
 *
 * Records: DATA (the request body as received, decompressed, with tenant and arrival time), ACK (the request
 * is applied to the buffer and its 200 is being sent), FLUSH_START, FLUSH_SETTLED. A request is applied only
 * once its DATA is durable, in the same tick as its ACK and its 200, so the buffer only ever holds acknowledged
 * data and a replay applies each request at the place of its ACK. A checkpoint (LSN + cumulative stream state)
 * marks everything up to a flush that reached storage; segments holding only older records are deleted.
 */

const DATA = 1;
const ACK = 2;
const FLUSH_START = 3;
const FLUSH_SETTLED = 4;

export type BodyEncoding = 'protobuf' | 'json';

/**
 * A request that is durable but not yet acknowledged. The receiver calls `acknowledge()` (logs the ACK: from now
 * on the request counts, crash or not), writes the 200, then calls `apply()` — all in one synchronous block, and
 * a replay applies the request exactly where its ACK is. A crash between the ACK and the 200 leaves a counted
 * request whose client resends it: OTLP has no idempotency key, but a resend is byte-identical, so a request
 * identical (tenant, encoding, body) to one acknowledged within the dedup window is answered and not counted
 * again — `acknowledge()` returns false and the caller must not `apply()` it.
 */
export interface PendingIngest {
  /** What the request's partial_success reports (rejected points), known before anything is applied. */
  readonly assessment: ConsumeReport;
  acknowledge(): boolean;
  apply(): ConsumeReport;
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
  readonly fromLsn: bigint;
  readonly damage: RecoveredLog['damage'];
}

export class DurableIngest implements FlushJournal {
  readonly wal: WriteAheadLog;
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
  /** Identities (digest of tenant, encoding, body) of requests acknowledged recently, oldest first. */
  private readonly acknowledged = new Map<string, number>();
  private readonly dedupWindowMs: number;
  /** DATA records logged whose fate (applied or refused) is not known yet: their segments must stay. */
  private readonly unacknowledged = new Set<bigint>();

  constructor(dir: string, options: WalOptions & { dedupWindowMs?: number }, logger: Logger) {
    this.logger = logger;
    this.dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
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
      this.unacknowledged.delete(lsn);
      throw error;
    }
    return {
      assessment: processor.accumulator.assess(request.decoded.batch, tenantRequest),
      acknowledge: () => {
        try {
          if (this.stopped) throw this.stopped;
          // Shutting down: `apply` would be refused, so the request is refused (503) instead of acknowledged.
          if (!processor.accepting) throw new ProcessorShutdownError();
          // A resend of a request acknowledged already (its 200 was lost in a crash): answer it, count it once.
          if (this.recentlyAcknowledged(identity, arrivalMs)) return false;
          this.wal.append(ACK, encodeLsn(lsn));
          this.remember(identity, arrivalMs);
          return true;
        } finally {
          this.unacknowledged.delete(lsn);
        }
      },
      // Room was reserved before logging; requests applied meanwhile may overshoot the cap by their size.
      apply: () => processor.consume(request.decoded.batch, tenantRequest, { force: true, nowMs: arrivalMs }),
    };
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

  private recentlyAcknowledged(identity: string, nowMs: number): boolean {
    this.forgetAcknowledgedBefore(nowMs - this.dedupWindowMs);
    return this.acknowledged.has(identity);
  }

  private remember(identity: string, arrivalMs: number) {
    this.acknowledged.set(identity, arrivalMs);
    // Bounded: at the cap the oldest identities go first (a resend arrives within seconds, not minutes).
    if (this.acknowledged.size > MAX_REMEMBERED_REQUESTS) {
      this.acknowledged.delete(this.acknowledged.keys().next().value as string);
    }
  }

  private forgetAcknowledgedBefore(cutoffMs: number) {
    for (const [identity, at] of this.acknowledged) {
      if (at >= cutoffMs) break;
      this.acknowledged.delete(identity);
    }
  }

  // ---- replay ----

  /**
   * Rebuilds the state at the crash: cumulative streams from the checkpoint, then every request and flush
   * after it, in log order. A request is applied where its ACK is (requests without an ACK never got a 200;
   * their clients retry). Replayed flushes hand off the same batches, which storage deduplicates.
   */
  async replay(): Promise<ReplaySummary> {
    const processor = this.processor!;
    processor.accumulator.restoreStreams(this.checkpointStreams);
    const dataByLsn = new Map<bigint, WalRecord>();
    const pending = new Map<string, ReplayedFlush>();
    let requests = 0;
    let flushes = 0;
    for (const record of this.recovered.records) {
      if (record.type === DATA) {
        dataByLsn.set(record.lsn, record);
        continue;
      }
      if (record.type === ACK) {
        const lsn = record.body.readBigUInt64LE(0);
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
        // Identities of acknowledged requests survive the restart, so a resend after the crash is recognised.
        this.remember(requestIdentity(data.body), dataArrivalMs(data.body));
        if (record.lsn <= this.checkpointLsn) continue;
        this.replayData(data);
        requests++;
        continue;
      }
      if (record.lsn <= this.checkpointLsn) continue;
      if (record.type === FLUSH_START) {
        const { nowMs } = JSON.parse(record.body.toString('utf8')) as { nowMs: number };
        const label = `wal-${record.lsn}`;
        pending.set(label, processor.replayFlushStarted(label, nowMs));
        flushes++;
      } else if (record.type === FLUSH_SETTLED) {
        const { label, failures } = JSON.parse(record.body.toString('utf8')) as {
          label: string;
          failures: BatchFailure[];
        };
        const flush = pending.get(label);
        if (flush === undefined) continue; // it started before the checkpoint
        pending.delete(label);
        await processor.replayFlushSettled(flush, failures);
      }
    }
    // Flushes the crash interrupted: hand off everything they took (storage deduplicates what it has).
    for (const flush of pending.values()) await processor.replayFlushSettled(flush, undefined);
    const unacknowledged = [...dataByLsn.keys()].filter((lsn) => lsn > this.checkpointLsn).length;
    return {
      requests,
      unacknowledgedDropped: unacknowledged,
      flushes,
      fromLsn: this.checkpointLsn,
      damage: this.recovered.damage,
    };
  }

  private replayData(record: WalRecord) {
    const data = decodeData(record.body);
    const decoded =
      data.encoding === 'protobuf'
        ? decodeExportMetricsServiceRequestProtobuf(data.body)
        : decodeExportMetricsServiceRequestJson(Buffer.from(data.body).toString('utf8'));
    // The accumulator directly: a replay must not trigger live flushes.
    this.processor!.accumulator.consume(
      decoded.batch,
      { tenant: data.tenant, allowAttributeOverride: data.allowAttributeOverride },
      { nowMs: data.arrivalMs, force: true },
    );
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
  return Number(record.readBigUInt64LE(2));
}

function encodeLsn(lsn: bigint): Buffer {
  const buffer = Buffer.allocUnsafe(8);
  buffer.writeBigUInt64LE(lsn);
  return buffer;
}

// DATA body: u8 encoding | u8 flags | u64 arrival ms | u16 tenant length | tenant (utf8) | request body
function encodeData(request: IngestRequest, arrivalMs: number): Buffer {
  const tenant = Buffer.from(request.tenant, 'utf8');
  const header = Buffer.allocUnsafe(12 + tenant.length);
  header.writeUInt8(request.encoding === 'protobuf' ? 0 : 1, 0);
  header.writeUInt8(request.allowAttributeOverride ? 1 : 0, 1);
  header.writeBigUInt64LE(BigInt(arrivalMs), 2);
  header.writeUInt16LE(tenant.length, 10);
  tenant.copy(header, 12);
  return Buffer.concat([header, request.body]);
}

function decodeData(body: Buffer) {
  const tenantLength = body.readUInt16LE(10);
  return {
    encoding: body.readUInt8(0) === 0 ? ('protobuf' as const) : ('json' as const),
    allowAttributeOverride: body.readUInt8(1) === 1,
    arrivalMs: Number(body.readBigUInt64LE(2)),
    tenant: body.toString('utf8', 12, 12 + tenantLength),
    body: body.subarray(12 + tenantLength),
  };
}

function readCheckpoint(path: string): Checkpoint | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
}
