import type { ConsumeReport } from '@tallyhouse/processor-tenant';
import type { OtlpDecodeResult, OtlpEncoding } from '../otlp/index.ts';

/**
 * The interface through which the ingest sequence hands a request on. The composition root wires it to the
 * write-ahead log (`DurableIngest.ingest`) or, with the log off, straight to the processor; the receiver never
 * knows which.
 */
export type Intake = (request: IngestRequest) => Promise<PendingIngest>;

export interface IngestRequest {
  readonly tenant: string;
  readonly allowAttributeOverride: boolean;
  readonly encoding: OtlpEncoding;
  /** The request body after decompression, exactly as decoded. */
  readonly body: Uint8Array;
  readonly decoded: OtlpDecodeResult;
}

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

/**
 * The `code`s of the errors with which an intake (its `ingest`, `assess` or `acknowledge`) refuses a request and
 * keeps nothing of it, so the client is to retry later: the processor's `BufferFullError` and
 * `ProcessorShutdownError`, and the log's `WalWriteError`. Any other error is unexpected.
 */
export const INTAKE_REFUSALS = Object.freeze({
  bufferFull: 'BUFFER_FULL',
  shuttingDown: 'SHUTDOWN',
  logUnwritable: 'WAL_UNWRITABLE',
} as const);
