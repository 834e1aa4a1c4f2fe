import type {
  BatchFailure,
  ReplayedFlush,
  Resolution,
  StreamSnapshotEntry,
  TenantProcessor,
} from '@tallyhouse/processor-tenant';
import type { Logger } from 'pino';
import {
  decodeExportMetricsServiceRequestJsonBody,
  decodeExportMetricsServiceRequestProtobuf,
} from '../otlp/index.ts';
import { flushLabel } from './flush-records.ts';
import { Quarantine } from './quarantine.ts';
import {
  ACK,
  ANSWERED,
  DATA,
  Disposition,
  decodeData,
  decodeJson,
  decodeLsn,
  decodeQuarantined,
  FLUSH_SETTLED,
  FLUSH_START,
  MalformedRecordError,
  QUARANTINED,
  STREAMS_RESOLVED,
} from './records.ts';
import { ReplayMarker } from './replay-marker.ts';
import { dataArrivalMs, type ResendGuard, requestIdentity } from './resends.ts';
import type { RecoveredLog, WalRecord } from './wal.ts';

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

/** What a replay rebuilds the processor's state with: its replay API, nothing else. */
export type ReplayTarget = Pick<
  TenantProcessor,
  'restoreStreams' | 'replayInput' | 'replayFlushStarted' | 'replayFlushSettled' | 'replayStreamsResolved'
>;

export interface ReplaySources {
  readonly processor: ReplayTarget;
  readonly recovered: RecoveredLog;
  readonly checkpointLsn: bigint;
  readonly checkpointStreams: readonly StreamSnapshotEntry[];
  /** Where the replay marks the request it is applying (replay-marker.ts). */
  readonly markerPath: string;
  readonly quarantine: Quarantine;
  /** Rebuilt from the ACK and ANSWERED records, so a resend after the crash is recognised. */
  readonly resends: ResendGuard;
  /** Appends a QUARANTINED record (best effort), so every later replay treats the request the same way. */
  readonly logQuarantined: (lsn: bigint, how: Disposition) => void;
  readonly logger: Logger;
}

type ReplayOutcome = 'applied' | 'quarantined' | 'quarantinedEarlier';

/**
 * Rebuilds the state at the crash: cumulative streams from the checkpoint, then every request and flush after
 * it, in log order. A request is applied where its ACK is (requests without an ACK never got a 200; their
 * clients retry). Replayed flushes hand off the same batches, which storage deduplicates. Never throws because
 * of a record's content: what cannot be read or applied is quarantined.
 */
export async function replayLog(sources: ReplaySources): Promise<ReplaySummary> {
  const { processor, recovered, checkpointLsn, logger } = sources;
  processor.restoreStreams(sources.checkpointStreams);
  const dispositions = loggedQuarantines(recovered, logger);
  const marker = new ReplayMarker(sources.markerPath);
  if (marker.diedOn !== undefined && dispositions.get(marker.diedOn) !== Disposition.SKIPPED) {
    logger.error(
      { lsn: String(marker.diedOn) },
      'the last start died while replaying this request: it is quarantined, not applied again',
    );
    dispositions.set(marker.diedOn, Disposition.SKIPPED);
    sources.logQuarantined(marker.diedOn, Disposition.SKIPPED);
  }
  const dataByLsn = new Map<bigint, WalRecord>();
  const identityByLsn = new Map<bigint, string>();
  const pending = new Map<string, ReplayedFlush>();
  const counts = { requests: 0, flushes: 0, quarantined: 0, quarantinedEarlier: 0 };
  try {
    for (const record of recovered.records) {
      if (record.type === DATA) {
        dataByLsn.set(record.lsn, record);
        continue;
      }
      if (record.type === ACK) {
        const lsn = readLsn(record, 'ACK', logger);
        if (lsn === undefined) continue;
        const data = dataByLsn.get(lsn);
        dataByLsn.delete(lsn);
        if (data === undefined) {
          if (record.lsn > checkpointLsn)
            logger.error(
              { lsn: String(lsn) },
              'write-ahead log: an ACK without its DATA record; that request is lost',
            );
          continue;
        }
        // Identities of unanswered requests survive the restart, so a resend after the crash is recognised.
        const identity = requestIdentity(data.body);
        identityByLsn.set(lsn, identity);
        sources.resends.remember(identity, lsn, dataArrivalMs(data.body));
        if (record.lsn <= checkpointLsn) continue;
        const outcome = replayRequest(sources, data, dispositions.get(lsn), marker);
        if (outcome === 'applied') counts.requests++;
        else counts[outcome]++;
        continue;
      }
      if (record.type === ANSWERED) {
        const lsn = readLsn(record, 'ANSWERED', logger);
        const identity = lsn === undefined ? undefined : identityByLsn.get(lsn);
        if (lsn !== undefined && identity !== undefined) sources.resends.answered(identity, lsn);
        continue;
      }
      if (record.lsn <= checkpointLsn || record.type === QUARANTINED) continue;
      try {
        if (record.type === FLUSH_START) {
          const { nowMs } = decodeJson<{ nowMs: number }>(record.body, 'FLUSH_START');
          const label = flushLabel(record.lsn);
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
        } else if (record.type === STREAMS_RESOLVED) {
          processor.replayStreamsResolved(decodeJson<Resolution[]>(record.body, 'STREAMS_RESOLVED'));
        } else {
          logger.error(
            { lsn: String(record.lsn), type: record.type },
            'write-ahead log: a record of unknown type; skipped',
          );
        }
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        // Only a writer bug makes a checksummed record unreadable; a start must not fail on it.
        logRecordSkipped(logger, record, error);
      }
    }
  } finally {
    marker.close();
  }
  // Flushes the crash interrupted: hand off everything they took (storage deduplicates what it has).
  for (const flush of pending.values()) await processor.replayFlushSettled(flush, undefined);
  const unacknowledged = [...dataByLsn.keys()].filter((lsn) => lsn > checkpointLsn).length;
  return {
    requests: counts.requests,
    unacknowledgedDropped: unacknowledged,
    flushes: counts.flushes,
    quarantined: counts.quarantined,
    quarantinedEarlier: counts.quarantinedEarlier,
    fromLsn: checkpointLsn,
    damage: recovered.damage,
  };
}

/** QUARANTINED records anywhere in the log (a replay can log one after the ACK it is about): the last wins. */
function loggedQuarantines(recovered: RecoveredLog, logger: Logger): Map<bigint, Disposition> {
  const dispositions = new Map<bigint, Disposition>();
  for (const record of recovered.records) {
    if (record.type !== QUARANTINED) continue;
    try {
      const { lsn, how } = decodeQuarantined(record.body);
      dispositions.set(lsn, how);
    } catch (error) {
      logRecordSkipped(logger, record, error);
    }
  }
  return dispositions;
}

function readLsn(record: WalRecord, type: string, logger: Logger): bigint | undefined {
  try {
    return decodeLsn(record.body, type);
  } catch (error) {
    logRecordSkipped(logger, record, error);
    return undefined;
  }
}

function logRecordSkipped(logger: Logger, record: WalRecord, error: unknown) {
  logger.error({ lsn: String(record.lsn), err: (error as Error).message }, 'write-ahead log: record skipped');
}

/**
 * One acknowledged request, as the live process treated it: applied; re-applied up to the same throw
 * (THREW: its partial effect is part of the buffer that was flushed); or skipped (SKIPPED). A request that
 * fails now for the first time is quarantined now — and logged, so every later replay does the same.
 */
function replayRequest(
  sources: ReplaySources,
  data: WalRecord,
  how: Disposition | undefined,
  marker: ReplayMarker,
): ReplayOutcome {
  const { quarantine, logQuarantined, logger } = sources;
  const id = Quarantine.walId(data.lsn);
  const keep = (error: unknown, mayBePartlyApplied: boolean): ReplayOutcome =>
    quarantine.keep({ id, lsn: data.lsn, record: data.body, stage: 'replay', error, mayBePartlyApplied })
      ? 'quarantined'
      : 'quarantinedEarlier';
  if (how === Disposition.SKIPPED) {
    const why =
      data.lsn === marker.diedOn
        ? 'the collector died while replaying this request (out of memory, say)'
        : 'quarantined by an earlier start; not applied';
    return keep(new Error(why), false);
  }
  marker.begin(data.lsn);
  try {
    let request: ReturnType<typeof decodeRequest>;
    try {
      request = decodeRequest(data.body);
    } catch (error) {
      if (how === undefined) logQuarantined(data.lsn, Disposition.SKIPPED);
      return keep(error, false);
    }
    try {
      sources.processor.replayInput(
        request.decoded.batch,
        { tenant: request.tenant, allowAttributeOverride: request.allowAttributeOverride },
        request.arrivalMs,
      );
    } catch (error) {
      if (how === undefined) logQuarantined(data.lsn, Disposition.THREW);
      // THREW and throwing again: as live. Its file is written if the live process died before writing it.
      return keep(error, true);
    }
    if (how === Disposition.THREW) {
      // The fault is gone (a fixed version): applied in full now, and by every later replay of this log.
      logger.warn(
        { lsn: String(data.lsn), id },
        'a quarantined request applied in full at replay: its points are counted now; do not re-send it',
      );
      quarantine.annotate(id, {
        appliedInFullAt: new Date().toISOString(),
        appliedNote: 'a later replay applied this request in full: it is counted; do not re-send it',
      });
    }
    return 'applied';
  } finally {
    marker.end();
  }
}

function decodeRequest(body: Buffer) {
  const data = decodeData(body);
  const decoded =
    data.encoding === 'protobuf'
      ? decodeExportMetricsServiceRequestProtobuf(data.body)
      : decodeExportMetricsServiceRequestJsonBody(data.body);
  return { ...data, decoded };
}
