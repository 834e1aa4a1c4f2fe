import type { InputBatch } from '@tallyhouse/model';
import type { RequestTenant } from './input-walk.ts';
import type { StreamStore } from './stream-store.ts';

/**
 * What `assess` decided about an input's new cumulative streams. Applying the same input object does exactly
 * that, even if other requests of the tenant were applied in between (a group commit of the collector's log
 * assesses several requests before it applies any), so the answer a client got is what happens.
 */
export interface StreamVerdict {
  readonly tenant: string | undefined;
  readonly allowAttributeOverride: boolean | undefined;
  /** Keys of the new streams the tenants' shares refuse. */
  readonly refused: ReadonlySet<string>;
}

/** One input's new cumulative streams checked against the tenants' shares, without applying anything. */
export interface SharePlan {
  /** Points in the input: a tenant further than this below its share cannot reach it. */
  readonly inputPoints: number;
  readonly verdict: StreamVerdict | undefined;
  /** New streams accepted so far in this input, per tenant. */
  readonly planned: Map<string, number>;
  readonly accepted: Set<string>;
  readonly refused: Set<string>;
}

export interface StreamShareOptions {
  readonly maxTrackedStreamsPerTenant: number;
  readonly streamStalenessMs: number;
}

/**
 * The per-tenant share of tracked cumulative streams: a tenant holding `maxTrackedStreamsPerTenant` streams has
 * its new streams rejected, its known streams and other tenants' streams carry on. Decided point by point while
 * applying, simulated without applying (`plan`, for `assess` and the capacity check), and kept per input object
 * from `assess` to its apply.
 */
export class StreamShare {
  private readonly streams: StreamStore;
  private readonly options: StreamShareOptions;
  /** `assess` verdicts by input object, until that input is applied (or dropped and collected). */
  private readonly verdicts = new WeakMap<InputBatch, StreamVerdict>();

  constructor(streams: StreamStore, options: StreamShareOptions) {
    this.streams = streams;
    this.options = options;
  }

  plan(inputPoints: number, verdict: StreamVerdict | undefined): SharePlan {
    return { inputPoints, verdict, planned: new Map(), accepted: new Set(), refused: new Set() };
  }

  /** Keeps what `plan` refused as the verdict for `input` under `request`, until `forget(input)`. */
  remember(input: InputBatch, request: RequestTenant, plan: SharePlan) {
    this.verdicts.set(input, {
      tenant: request.tenant,
      allowAttributeOverride: request.allowAttributeOverride,
      refused: plan.refused,
    });
  }

  /** The verdict `assess` left for this input object and request, if any. */
  verdictFor(input: InputBatch, request: RequestTenant): StreamVerdict | undefined {
    const verdict = this.verdicts.get(input);
    if (verdict === undefined) return undefined;
    const same =
      verdict.tenant === request.tenant && verdict.allowAttributeOverride === request.allowAttributeOverride;
    return same ? verdict : undefined;
  }

  forget(input: InputBatch) {
    this.verdicts.delete(input);
  }

  /** False when no point of the input can be refused for `tenant`'s share (then no stream key is needed). */
  mayReachShare(plan: SharePlan, tenant: string): boolean {
    if (plan.verdict !== undefined) return plan.verdict.refused.size > 0;
    return this.streams.trackedOf(tenant) + plan.inputPoints > this.options.maxTrackedStreamsPerTenant;
  }

  /**
   * Whether `tenant`'s share refuses the stream `key`, counting the new streams accepted earlier in the same
   * input: the rule `refusesNewStream` applies point by point while applying, simulated without applying.
   */
  plannedRefusal(plan: SharePlan, tenant: string, key: string): boolean {
    if (plan.verdict !== undefined) return plan.verdict.refused.has(key);
    if (plan.refused.has(key)) return true;
    if (plan.accepted.has(key) || this.streams.has(key)) return false;
    const planned = plan.planned.get(tenant) ?? 0;
    if (this.streams.trackedOf(tenant) + planned >= this.options.maxTrackedStreamsPerTenant) {
      plan.refused.add(key);
      return true;
    }
    plan.planned.set(tenant, planned + 1);
    plan.accepted.add(key);
    return false;
  }

  /**
   * While applying: a new stream of a tenant holding its whole share is refused; a stream already tracked
   * never is. With a verdict from `assess`, exactly the streams it refused are.
   */
  refusesNewStream(verdict: StreamVerdict | undefined, tenant: string, key: string): boolean {
    if (verdict !== undefined) return verdict.refused.has(key);
    return (
      this.streams.trackedOf(tenant) >= this.options.maxTrackedStreamsPerTenant && !this.streams.has(key)
    );
  }

  /** Names the tenant and the limit, and nothing that changes from one point to the next. */
  message(metricName: string, tenant: string): string {
    const { maxTrackedStreamsPerTenant, streamStalenessMs } = this.options;
    return `${metricName}: tenant ${JSON.stringify(tenant)} holds its share of tracked cumulative streams (maxTrackedStreamsPerTenant=${maxTrackedStreamsPerTenant}, TALLYHOUSE_MAX_TRACKED_STREAMS_PER_TENANT); its new cumulative streams are rejected until some of its streams stay silent for streamStalenessMs=${streamStalenessMs}`;
  }
}
