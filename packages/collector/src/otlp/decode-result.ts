import type { InputBatch, InputResourceMetrics } from '@tallyhouse/model';

/**
 * What decoding one OTLP request yields. The request as a whole was well-formed; individual data points may
 * still have been rejected (bad value, missing time or temporality, empty metric name, ...). Rejected points
 * are absent from `batch`, counted in `rejectedDataPoints`, and described in `rejectionMessages`, so the
 * receiver can answer `200` with `partial_success` (see `formatPartialSuccessMessage`).
 */
export interface OtlpDecodeResult {
  /** Accepted points only. Metrics, scopes and resources left without points are omitted. */
  readonly batch: InputBatch;
  readonly acceptedDataPoints: number;
  readonly rejectedDataPoints: number;
  /**
   * Why points were rejected, each naming the field path and metric; at most {@link MAX_REJECTION_MESSAGES}
   * (one message may cover many points, e.g. a metric rejected whole).
   */
  readonly rejectionMessages: readonly string[];
  /**
   * Points flagged `DATA_POINT_FLAGS_NO_RECORDED_VALUE` (staleness markers). They carry no value, are not
   * an error of the sender, and are dropped without being reported as rejected.
   */
  readonly noRecordedValueDataPoints: number;
  /**
   * Exemplars dropped from accepted points (an id of the wrong length, a non-finite value…): their points are
   * kept and counted, so this is a warning in `partial_success`, not a rejection. Absent when none.
   */
  readonly droppedExemplars?: number;
  readonly exemplarMessages?: readonly string[];
}

export const MAX_REJECTION_MESSAGES = 20;

/** Upper bound on `partial_success.error_message`; the OTLP spec asks servers to keep responses small. */
export const MAX_PARTIAL_SUCCESS_MESSAGE_LENGTH = 4096;

/** Counts rejections and keeps the first few messages. */
export class RejectionLog {
  count = 0;
  readonly messages: string[] = [];

  reject(points: number, message: string): void {
    if (points <= 0) return;
    this.count += points;
    if (this.messages.length < MAX_REJECTION_MESSAGES) this.messages.push(message);
  }
}

/** What a decoder counts while it reads one request. */
export interface DecodeTally {
  readonly log: RejectionLog;
  /** Exemplars dropped from accepted points (`count` is exemplars, not points). */
  readonly exemplarLog: RejectionLog;
  accepted: number;
  noRecordedValue: number;
}

export function decodeResult(resourceMetrics: InputResourceMetrics[], tally: DecodeTally): OtlpDecodeResult {
  return {
    batch: { resourceMetrics },
    acceptedDataPoints: tally.accepted,
    rejectedDataPoints: tally.log.count,
    rejectionMessages: tally.log.messages,
    noRecordedValueDataPoints: tally.noRecordedValue,
    ...(tally.exemplarLog.count === 0
      ? {}
      : { droppedExemplars: tally.exemplarLog.count, exemplarMessages: tally.exemplarLog.messages }),
  };
}

/**
 * One human-readable `partial_success.error_message` for a decode result: the rejected points, then the dropped
 * exemplars ('' when there is neither).
 */
export function formatPartialSuccessMessage(
  result: Pick<
    OtlpDecodeResult,
    'rejectedDataPoints' | 'rejectionMessages' | 'droppedExemplars' | 'exemplarMessages'
  >,
): string {
  const parts: string[] = [];
  if (result.rejectedDataPoints > 0) {
    const noun = result.rejectedDataPoints === 1 ? 'data point' : 'data points';
    parts.push(`${result.rejectedDataPoints} ${noun} rejected: ${result.rejectionMessages.join('; ')}`);
  }
  const dropped = result.droppedExemplars ?? 0;
  if (dropped > 0) {
    const noun = dropped === 1 ? 'exemplar' : 'exemplars';
    parts.push(
      `${dropped} ${noun} dropped, their points kept: ${(result.exemplarMessages ?? []).join('; ')}`,
    );
  }
  if (parts.length === 0) return '';
  let message = parts.join('; ');
  if (message.length > MAX_PARTIAL_SUCCESS_MESSAGE_LENGTH) {
    message = `${message.slice(0, MAX_PARTIAL_SUCCESS_MESSAGE_LENGTH - 3)}...`;
  }
  return message;
}
