import { createHash } from 'node:crypto';

const MAX_REMEMBERED_REQUESTS = 200_000;

interface Unanswered {
  /** The DATA record of the acknowledged request. */
  readonly lsn: bigint;
  readonly atMs: number;
}

/**
 * Recognises resends. OTLP has no idempotency key, but a resend is byte-identical, so a request identical
 * (tenant, encoding, body) to one acknowledged within the window *whose 200 may not have reached its client* is a
 * resend of it. Once a 200 went out whole, its identity is forgotten: an identical body from then on is new data
 * (two clients can send the same bytes).
 */
export class ResendGuard {
  /**
   * Identities of requests acknowledged within the window whose 200 may not have reached the client, oldest
   * first: an identical request is a resend of one of these.
   */
  private readonly unanswered = new Map<string, Unanswered>();
  private readonly windowMs: number;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** The DATA LSN of the unanswered request `identity` is a resend of, arriving at `nowMs`; if any. */
  resendOf(identity: string, nowMs: number): bigint | undefined {
    const cutoffMs = nowMs - this.windowMs;
    this.forgetBefore(cutoffMs);
    const entry = this.unanswered.get(identity);
    return entry !== undefined && entry.atMs >= cutoffMs ? entry.lsn : undefined;
  }

  /** Request `lsn` with this identity, arrived at `atMs`, was acknowledged. */
  remember(identity: string, lsn: bigint, atMs: number) {
    // Re-inserted at the end, so the map stays (roughly) oldest first.
    this.unanswered.delete(identity);
    this.unanswered.set(identity, { lsn, atMs });
    // Bounded: at the cap the oldest identities go first (a resend arrives within seconds, not minutes).
    if (this.unanswered.size > MAX_REMEMBERED_REQUESTS) {
      this.unanswered.delete(this.unanswered.keys().next().value as string);
    }
  }

  /** The 200 answering request `lsn` went out whole; false when that identity was not waiting for it. */
  answered(identity: string, lsn: bigint): boolean {
    if (this.unanswered.get(identity)?.lsn !== lsn) return false;
    this.unanswered.delete(identity);
    return true;
  }

  private forgetBefore(cutoffMs: number) {
    for (const [identity, entry] of this.unanswered) {
      if (entry.atMs >= cutoffMs) break;
      this.unanswered.delete(identity);
    }
  }
}

/** A request's identity: the digest of its DATA record after the arrival time (encoding, flags, tenant, body). */
export function requestIdentity(record: Buffer): string {
  return createHash('sha256').update(record.subarray(0, 2)).update(record.subarray(10)).digest('base64url');
}

/** The arrival time of a DATA record, without parsing the rest (0 for a record too short to hold it). */
export function dataArrivalMs(record: Buffer): number {
  return record.length >= 10 ? Number(record.readBigUInt64LE(2)) : 0;
}
