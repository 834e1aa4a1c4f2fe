import { existsSync, readFileSync } from 'node:fs';
import { fromLosslessJson, toLosslessJson, writeFileDurably } from '@tallyhouse/model';
import type { BatchFailure, FlushLog, Resolution, StreamSnapshotEntry } from '@tallyhouse/processor-tenant';
import type { Logger } from 'pino';
import { FLUSH_SETTLED, FLUSH_START, STREAMS_RESOLVED } from './records.ts';
import { WalWriteError, type WriteAheadLog } from './wal.ts';

/** `wal/checkpoint.json`: everything up to `lsn` is in storage; a replay starts after it, from `streams`. */
export interface Checkpoint {
  readonly lsn: string;
  readonly streams: readonly StreamSnapshotEntry[];
}

export function readCheckpoint(path: string): Checkpoint | undefined {
  if (!existsSync(path)) return undefined;
  return fromLosslessJson<Checkpoint>(readFileSync(path, 'utf8'));
}

/** The label of the flush whose FLUSH_START record is `lsn`: its batch ids derive from it, live and at replay. */
export function flushLabel(lsn: bigint): string {
  return `wal-${lsn}`;
}

interface CheckpointCandidate {
  readonly lsn: bigint;
  /** The stream state as of the flush start, serialised. */
  streams: string;
}

export interface FlushRecordsOptions {
  readonly checkpointPath: string;
  /** Segments younger than this keep the ACKs that let a restart recognise resends. */
  readonly keepSegmentsMs: number;
}

/**
 * The processor's flush log in the write-ahead log (FLUSH_START, FLUSH_SETTLED), and checkpoints: once a flush
 * handed everything off and storage holds it, its start is a checkpoint (LSN + stream state as of then) and the
 * segments holding only older records go. If a flush outcome cannot be recorded the log stops: a replay would
 * diverge from what the live process did, so intake and flushes stop until a restart replays the log.
 */
export class FlushRecords implements FlushLog {
  private readonly wal: WriteAheadLog;
  private readonly logger: Logger;
  private readonly options: FlushRecordsOptions;
  /** Stream state as of each flush start, until that flush can be checkpointed. */
  private readonly pending = new Map<string, CheckpointCandidate>();
  private committable: CheckpointCandidate | undefined;
  private stoppedBy: WalWriteError | undefined;
  /** DATA records logged whose fate (applied or refused) is not known yet: their segments must stay. */
  private readonly unsettledData = new Set<bigint>();

  constructor(wal: WriteAheadLog, options: FlushRecordsOptions, logger: Logger) {
    this.wal = wal;
    this.options = options;
    this.logger = logger;
  }

  /** Set once a flush outcome could not be recorded: nothing may be logged or flushed any more. */
  get stopped(): WalWriteError | undefined {
    return this.stoppedBy;
  }

  started(nowMs: number): string {
    if (this.stoppedBy) throw this.stoppedBy;
    const lsn = this.wal.append(FLUSH_START, Buffer.from(JSON.stringify({ nowMs })));
    const label = flushLabel(lsn);
    this.pending.set(label, { lsn, streams: '[]' });
    return label;
  }

  /** The stream state right after the take is what a replay from this flush's checkpoint starts from. */
  taken(label: string, streams: readonly StreamSnapshotEntry[]): Promise<void> {
    const pending = this.pending.get(label);
    // Lossless: a held point's value becomes a row on replay, and must be the very row the live process wrote.
    if (pending) pending.streams = toLosslessJson(streams);
    return this.wal.sync();
  }

  settled(label: string, failures: readonly BatchFailure[]): void {
    try {
      this.wal.append(FLUSH_SETTLED, Buffer.from(JSON.stringify({ label, failures })));
    } catch (error) {
      // Without this record a replay would hand off the failed batches instead of merging them back, and later
      // flushes would differ from the live ones. Stop: no more flushes or intake until a restart replays the log.
      this.stoppedBy = new WalWriteError(
        `cannot record the outcome of flush ${label}: ${(error as Error).message}`,
      );
      this.logger.fatal(
        { err: this.stoppedBy.message },
        'write-ahead log stopped: restart the collector to replay it',
      );
      return;
    }
    const pending = this.pending.get(label);
    this.pending.delete(label);
    if (pending !== undefined && failures.length === 0) this.committable = pending;
  }

  /** Throws when it cannot be recorded: the resolutions are then not applied (they wait for the next flush). */
  resolved(resolutions: readonly Resolution[]): void {
    if (this.stoppedBy) throw this.stoppedBy;
    this.wal.append(STREAMS_RESOLVED, Buffer.from(toLosslessJson(resolutions)));
  }

  /** DATA record `lsn` is logged; until `settleData`, checkpoints keep it (a replay needs it). */
  holdData(lsn: bigint) {
    this.unsettledData.add(lsn);
  }

  /** Request `lsn` was acknowledged (its ACK is logged after it) or refused (a replay drops it). */
  settleData(lsn: bigint) {
    this.unsettledData.delete(lsn);
  }

  /**
   * Records that everything up to the last fully handed-off flush is in storage, once the exporter holds
   * nothing for retry, and deletes the log segments that only hold older records.
   */
  checkpoint(exporterHoldsNothing: boolean): boolean {
    const candidate = this.committable;
    if (candidate === undefined || !exporterHoldsNothing) return false;
    writeFileDurably(
      this.options.checkpointPath,
      `{"lsn":"${candidate.lsn}","streams":${candidate.streams}}`,
    );
    this.committable = undefined;
    // A request logged before the checkpoint but applied after it is replayed from its DATA record.
    let keepFrom = candidate.lsn + 1n;
    for (const lsn of this.unsettledData) if (lsn < keepFrom) keepFrom = lsn;
    const deleted = this.wal.truncateThrough(keepFrom - 1n, Date.now() - this.options.keepSegmentsMs);
    this.logger.debug({ lsn: String(candidate.lsn), segmentsDeleted: deleted }, 'checkpoint written');
    return true;
  }
}
