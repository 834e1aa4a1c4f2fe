export type RejectionReason =
  | 'missing_tenant'
  | 'invalid_tenant'
  | 'non_finite_value'
  /** A value storage would refuse: counts that are not exact integers, bucket arrays that do not fit. */
  | 'invalid_value'
  /** A new cumulative stream of a tenant that holds its whole share (`maxTrackedStreamsPerTenant`). */
  | 'tenant_stream_limit';

export interface ConsumeReport {
  readonly acceptedPoints: number;
  readonly rejectedPoints: number;
  readonly rejectedByReason: Readonly<Partial<Record<RejectionReason, number>>>;
  /** One message per reason, naming the first offending metric and tenant. */
  readonly rejectionMessages: readonly string[];
}

const NO_REJECTIONS: ConsumeReport['rejectedByReason'] = {};

export function zeroRejections(): Record<RejectionReason, number> {
  return {
    missing_tenant: 0,
    invalid_tenant: 0,
    non_finite_value: 0,
    invalid_value: 0,
    tenant_stream_limit: 0,
  };
}

/** The rejections of one input: counts per reason and the first message of each. */
export class RejectionTally {
  private readonly counts: Partial<Record<RejectionReason, number>> = {};
  private readonly messages = new Map<RejectionReason, string>();
  private total = 0;

  add(reason: RejectionReason, message: string) {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    if (!this.messages.has(reason)) this.messages.set(reason, message);
    this.total++;
  }

  /** The input's report; its rejections are added to `totals` (the running stats). */
  report(accepted: number, totals: Record<RejectionReason, number>): ConsumeReport {
    if (this.total === 0)
      return {
        acceptedPoints: accepted,
        rejectedPoints: 0,
        rejectedByReason: NO_REJECTIONS,
        rejectionMessages: [],
      };
    for (const [reason, count] of Object.entries(this.counts) as [RejectionReason, number][])
      totals[reason] += count;
    const rejectionMessages = [...this.messages].map(
      ([reason, message]) => `${this.counts[reason]} rejected (${reason}), e.g. ${message}`,
    );
    return {
      acceptedPoints: accepted,
      rejectedPoints: this.total,
      rejectedByReason: { ...this.counts },
      rejectionMessages,
    };
  }
}
