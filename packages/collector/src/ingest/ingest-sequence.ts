import type { Logger } from '@tallyhouse/model';
import type { TenantResolution } from '../auth.ts';
import type { CollectorSettings } from '../config.ts';
import type { TenantLimiter } from '../limits/tenant-limiter.ts';
import type { CollectorMetrics } from '../metrics.ts';
import {
  decodeExportMetricsServiceRequestJsonBody,
  decodeExportMetricsServiceRequestProtobuf,
  type ExportMetricsResponseContent,
  formatPartialSuccessMessage,
  OtlpDecodeError,
  type OtlpDecodeResult,
  type OtlpEncoding,
} from '../otlp/index.ts';
import { INTAKE_REFUSALS, type IngestRequest, type Intake, type PendingIngest } from './intake.ts';
import { IngestRefusal } from './refusal.ts';

export interface IngestDependencies {
  readonly settings: Pick<CollectorSettings, 'retryAfterSeconds' | 'allowTenantOverride'>;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
  /** Makes a request durable (write-ahead log, when on); see `PendingIngest` for the steps that follow. */
  readonly ingest: Intake;
  /** `soft`/`hard` above the memory limits: new data is pushed back. */
  readonly memoryPressure: () => 'ok' | 'soft' | 'hard';
  /** True once shutdown began: new data is pushed back so clients retry elsewhere or later. */
  readonly isDraining: () => boolean;
  /** Per-tenant rate limit and quota, checked before a request is logged or applied. */
  readonly limiter?: TenantLimiter;
}

/** One export request as a protocol hands it over. */
export interface IngestCall {
  /** The caller's tenant, from the shared authenticator and the protocol's headers (or metadata). */
  readonly tenant: TenantResolution;
  readonly encoding: OtlpEncoding;
  /**
   * The body, decompressed and within the size limit; may throw an `IngestRefusal`. Read only once the request
   * passed the checks that need no body, so a refused request's body is never read or decompressed.
   */
  readonly readBody: () => Promise<Uint8Array>;
  /**
   * Sends the success answer (its partial_success). Synchronous: it runs between the ACK and the apply, with
   * nothing in between. `delivered` is to be called once the answer left the process whole.
   */
  readonly respond: (answer: ExportMetricsResponseContent, delivered: () => void) => void;
}

/**
 * The ingest sequence of every protocol: push-back, tenant, decode, the tenant's limits, the durable log,
 * acknowledge → answer → apply, and the limiter settled with what was accepted. A refusal is thrown as an
 * `IngestRefusal`, before anything of the request is counted; any other error is unexpected.
 */
export class IngestSequence {
  private readonly deps: IngestDependencies;
  /** Calls between their start and their end, whatever the protocol. */
  private running = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(deps: IngestDependencies) {
    this.deps = deps;
  }

  /** Resolves once no call is running: a shutdown lets the calls in flight finish before it closes the log. */
  whenIdle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async run(call: IngestCall): Promise<void> {
    this.running++;
    try {
      await this.sequence(call);
    } finally {
      if (--this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async sequence(call: IngestCall): Promise<void> {
    const { deps } = this;
    if (deps.isDraining()) throw this.pushBack('collector is shutting down');
    if (deps.memoryPressure() !== 'ok') throw this.pushBack('collector memory above its limit');
    if (!call.tenant.ok) throw new IngestRefusal('unauthenticated', call.tenant.message);
    const tenant = call.tenant.tenant;
    const { encoding } = call;
    const body = await call.readBody();
    // A body that finished arriving after the drain began is refused: only requests whole before it are finished.
    if (deps.isDraining())
      throw this.pushBack(
        'the collector began shutting down while the body arrived; it is shut down for new data',
      );
    const decoded = decode(body, encoding);
    deps.metrics.pointsReceived.inc(decoded.acceptedDataPoints + decoded.rejectedDataPoints);
    if (decoded.rejectedDataPoints > 0)
      deps.metrics.pointsRejected.inc({ reason: 'invalid_data' }, decoded.rejectedDataPoints);
    this.admit(tenant, decoded.acceptedDataPoints);
    const pending = await this.ingest({ tenant, encoding, body, decoded });
    // From here to apply(): one synchronous block (see PendingIngest.assess).
    const assessed = this.refusingOnThrow(tenant, decoded, () => pending.assess());
    const rejected = decoded.rejectedDataPoints + assessed.rejectedPoints;
    const message = [formatPartialSuccessMessage(decoded), ...assessed.rejectionMessages]
      .filter((m) => m !== '')
      .join('; ');
    // Acknowledge, answer, apply: one synchronous block, so nothing can come between the ACK and the answer.
    const fresh = this.refusingOnThrow(tenant, decoded, () => pending.acknowledge());
    // Once the answer is handed to the OS whole, an identical body is new data, not a resend (never fires if the
    // connection broke first: then the client may resend, and that resend is recognised).
    call.respond({ rejectedDataPoints: rejected, errorMessage: message }, () => pending.answered());
    if (!fresh) {
      // A resend of a request counted already (its answer was lost): answered, not counted again.
      deps.limiter?.settle(tenant, decoded.acceptedDataPoints, 0);
      deps.metrics.pointsRejected.inc({ reason: 'duplicate_request' }, decoded.acceptedDataPoints);
      deps.logger.info(
        { tenant },
        'resend of an acknowledged request whose answer may have been lost: answered, not counted again',
      );
      return;
    }
    const report = this.apply(pending, tenant);
    deps.limiter?.settle(tenant, decoded.acceptedDataPoints, report.acceptedPoints);
    deps.metrics.pointsAccepted.inc(report.acceptedPoints);
    for (const [reason, count] of Object.entries(report.rejectedByReason))
      deps.metrics.pointsRejected.inc({ reason }, count);
    if (rejected > 0) deps.logger.warn({ tenant, rejected, message }, 'rejected data points');
  }

  /**
   * The tenant's rate limit and quota, before anything of the request is logged or applied: a limited request
   * stores nothing. Rate → retryable, with the time until the request would pass; quota → not retryable.
   */
  private admit(tenant: string, points: number) {
    const admission = this.deps.limiter?.admit(tenant, points);
    if (admission === undefined || admission.admitted) return;
    this.deps.metrics.pointsRejected.inc({ reason: admission.reason }, points);
    throw new IngestRefusal(admission.reason, admission.message, {
      retryAfterSeconds: admission.reason === 'rate_limited' ? admission.retryAfterSeconds : undefined,
      tenant,
    });
  }

  /** Hands the request to the pipeline; a refusal is a push-back, and nothing of the request is kept. */
  private async ingest(request: Omit<IngestRequest, 'allowAttributeOverride'>): Promise<PendingIngest> {
    try {
      return await this.deps.ingest({
        ...request,
        allowAttributeOverride: this.deps.settings.allowTenantOverride,
      });
    } catch (error) {
      // Also what `deps.ingest` throws synchronously (without the log, applying happens there).
      this.deps.limiter?.settle(request.tenant, request.decoded.acceptedDataPoints, 0);
      throw this.refusal(request.tenant, request.decoded, error);
    }
  }

  /**
   * `assess` (the buffer cannot take the request) or `acknowledge` (the log cannot take its ACK): a throw there
   * means nothing of the request was counted, so the limiter gets its points back.
   */
  private refusingOnThrow<T>(tenant: string, decoded: OtlpDecodeResult, step: () => T): T {
    try {
      return step();
    } catch (error) {
      this.deps.limiter?.settle(tenant, decoded.acceptedDataPoints, 0);
      throw this.refusal(tenant, decoded, error);
    }
  }

  /** Applies an acknowledged request; it is in the log already, so a failure here is made good by the replay. */
  private apply(pending: PendingIngest, tenant: string) {
    try {
      return pending.apply();
    } catch (error) {
      this.deps.logger.warn(
        { tenant, err: (error as Error).message },
        'acknowledged request not applied now; the log replays it at the next start',
      );
      return pending.assess();
    }
  }

  /** An intake's refusal as a push-back (retry later), or the unexpected error itself. */
  private refusal(tenant: string, decoded: OtlpDecodeResult, error: unknown): unknown {
    const { deps } = this;
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code === INTAKE_REFUSALS.bufferFull || code === INTAKE_REFUSALS.shuttingDown) {
      deps.metrics.pointsRejected.inc({ reason: 'refused_retry_later' }, decoded.acceptedDataPoints);
      deps.logger.warn(
        { tenant, points: decoded.acceptedDataPoints, err: (error as Error).message },
        'pushing back: buffer full',
      );
      return this.pushBack((error as Error).message);
    }
    if (code === INTAKE_REFUSALS.logUnwritable) {
      deps.metrics.pointsRejected.inc({ reason: 'refused_retry_later' }, decoded.acceptedDataPoints);
      deps.logger.error(
        { tenant, err: (error as Error).message },
        'cannot write the write-ahead log (disk full or data directory unwritable)',
      );
      return this.pushBack('cannot store the request durably (data directory full or unwritable)');
    }
    return error;
  }

  private pushBack(message: string): IngestRefusal {
    const retryAfterSeconds = this.deps.settings.retryAfterSeconds;
    return new IngestRefusal('unavailable', `${message}; retry after ${retryAfterSeconds}s`, {
      retryAfterSeconds,
    });
  }
}

function decode(body: Uint8Array, encoding: OtlpEncoding): OtlpDecodeResult {
  try {
    return encoding === 'protobuf'
      ? decodeExportMetricsServiceRequestProtobuf(body)
      : decodeExportMetricsServiceRequestJsonBody(body);
  } catch (error) {
    if (error instanceof OtlpDecodeError)
      throw new IngestRefusal('bad_payload', `invalid OTLP ${encoding} payload: ${error.message}`);
    throw error;
  }
}
